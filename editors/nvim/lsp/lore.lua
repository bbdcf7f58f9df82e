-- Lore for Neovim 0.11+: `vim.lsp.enable('lore')` is all a user needs.
-- Override any field with `vim.lsp.config('lore', { ... })`.

---@type vim.lsp.Config
return {
  cmd = { 'lore', 'serve' },
  -- Hovers and completions work in code as well as in the docs themselves.
  filetypes = {
    'markdown', 'rst', 'text', 'asciidoc',
    'python', 'lua', 'javascript', 'javascriptreact', 'typescript', 'typescriptreact',
    'go', 'rust', 'c', 'cpp', 'java', 'kotlin', 'scala', 'cs', 'swift', 'ruby', 'php',
    'sh', 'bash', 'zsh', 'fish', 'sql', 'yaml', 'toml', 'json', 'jsonc', 'terraform',
    'dockerfile', 'make', 'cmake', 'elixir', 'erlang', 'haskell', 'ocaml', 'clojure', 'vim',
  },
  root_markers = { 'lore.toml', '.lore', '.git' },
  settings = { lore = {} },
}
