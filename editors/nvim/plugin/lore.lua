-- Buffer-local :Lore* commands wherever the Lore client attaches.
if vim.g.loaded_lore then
  return
end
vim.g.loaded_lore = true

-- Older Neovims lack what the plugin uses (LspAttach, vim.lsp.config): say so once, and stop.
if vim.fn.has('nvim-0.11') == 0 then
  local v = vim.version()
  vim.notify(
    ('Lore needs Neovim 0.11 or later (this is %d.%d.%d); on 0.10, see :help lore-0.10'):format(
      v.major, v.minor, v.patch),
    vim.log.levels.WARN)
  return
end

vim.api.nvim_create_autocmd('LspAttach', {
  group = vim.api.nvim_create_augroup('lore.attach', { clear = true }),
  callback = function(args)
    local client = vim.lsp.get_client_by_id(args.data.client_id)
    if client and client.name == 'lore' then
      require('lore').attach(args.buf)
    end
  end,
})
