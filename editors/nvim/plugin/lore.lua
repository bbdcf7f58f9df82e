-- Buffer-local :Lore* commands wherever the Lore client attaches.
if vim.g.loaded_lore then
  return
end
vim.g.loaded_lore = true

vim.api.nvim_create_autocmd('LspAttach', {
  group = vim.api.nvim_create_augroup('lore.attach', { clear = true }),
  callback = function(args)
    local client = vim.lsp.get_client_by_id(args.data.client_id)
    if client and client.name == 'lore' then
      require('lore').attach(args.buf)
    end
  end,
})
