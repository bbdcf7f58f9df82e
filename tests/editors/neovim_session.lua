-- Drives a real headless Neovim with the Lore plugin against `lore serve`.
-- Every check waits on an event (vim.wait with a predicate), never on a fixed time.
-- The results go to $LORE_TEST_RESULTS as JSON, for the pytest side to assert.

local results = {}
local function record(name, value)
  results[name] = value
end

local function finish()
  local file = assert(io.open(os.getenv('LORE_TEST_RESULTS'), 'w'))
  file:write(vim.json.encode(results))
  file:close()
  vim.cmd('qall!')
end

local ok, err = xpcall(function()
  vim.opt.runtimepath:prepend(os.getenv('LORE_NVIM_PLUGIN'))
  vim.cmd('runtime plugin/lore.lua')
  vim.lsp.config('lore', {
    cmd = { os.getenv('LORE_PYTHON'), '-m', 'lore', 'serve' },
    init_options = { index = { debounce_ms = 0 } },
  })

  local progress_done = false
  vim.api.nvim_create_autocmd('LspProgress', {
    callback = function(ev)
      if ev.data.params.value.kind == 'end' then
        progress_done = true
      end
    end,
  })

  vim.lsp.enable('lore')
  local workspace = os.getenv('LORE_WORKSPACE')
  vim.cmd.edit(workspace .. '/src/main.py')

  local attached = vim.wait(30000, function()
    return #vim.lsp.get_clients({ bufnr = 0, name = 'lore' }) > 0
  end, 20)
  record('attached', attached)
  record('commands', vim.fn.exists(':LoreAsk') == 2 and vim.fn.exists(':LoreSearch') == 2)
  record('indexed', vim.wait(30000, function() return progress_done end, 20))

  -- Hover on `RequestQueue` (line 4, column 12): the float shows the glossary entry.
  vim.api.nvim_win_set_cursor(0, { 4, 14 })
  vim.lsp.buf.hover()
  local hover_text
  vim.wait(10000, function()
    for _, win in ipairs(vim.api.nvim_list_wins()) do
      if vim.api.nvim_win_get_config(win).relative ~= '' then
        hover_text = table.concat(vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(win), 0, -1, false), '\n')
        return true
      end
    end
    return false
  end, 20)
  record('hover', hover_text or '')
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_win_get_config(win).relative ~= '' then
      vim.api.nvim_win_close(win, true)
    end
  end

  -- Completion: type a prefix and ask, as a completion plugin would.
  local main = vim.api.nvim_get_current_buf()
  vim.api.nvim_buf_set_lines(main, 5, 5, false, { '# see sett' })
  local completion = vim.lsp.buf_request_sync(main, 'textDocument/completion', {
    textDocument = vim.lsp.util.make_text_document_params(main),
    position = { line = 5, character = 10 },
  }, 10000)
  local labels = {}
  for _, response in pairs(completion or {}) do
    local items = response.result and (response.result.items or response.result) or {}
    for _, item in ipairs(items) do
      table.insert(labels, item.label)
    end
  end
  record('completion', labels)
  vim.api.nvim_buf_set_lines(main, 5, 6, false, {})

  -- A code action applies its edit: "Ask Lore about" inserts a cited comment.
  local client = vim.lsp.get_clients({ bufnr = main, name = 'lore' })[1]
  local actions = vim.lsp.buf_request_sync(main, 'textDocument/codeAction', {
    textDocument = vim.lsp.util.make_text_document_params(main),
    range = { start = { line = 3, character = 12 }, ['end'] = { line = 3, character = 24 } },
    context = { diagnostics = {} },
  }, 10000)
  local ask_action
  for _, response in pairs(actions or {}) do
    for _, action in ipairs(response.result or {}) do
      if action.title:match('^Ask Lore') then
        ask_action = action
      end
    end
  end
  if ask_action then
    local resolved = client:request_sync('codeAction/resolve', ask_action, 20000, main)
    vim.lsp.util.apply_workspace_edit(resolved.result.edit, client.offset_encoding)
  end
  record('code_action', table.concat(vim.api.nvim_buf_get_lines(main, 0, -1, false), '\n'))

  -- :LoreAsk opens a float that cites the glossary; <CR> on the citation jumps to it.
  vim.cmd('LoreAsk What is the settlement window?')
  local answer_win
  vim.wait(20000, function()
    for _, win in ipairs(vim.api.nvim_list_wins()) do
      local buf = vim.api.nvim_win_get_buf(win)
      if vim.api.nvim_win_get_config(win).relative ~= '' and vim.b[buf].lore_citations then
        answer_win = win
        return true
      end
    end
    return false
  end, 20)
  if answer_win then
    local buf = vim.api.nvim_win_get_buf(answer_win)
    local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
    record('ask', table.concat(lines, '\n'))
    for number, line in ipairs(lines) do
      if line:match('^%[1%]') then
        vim.api.nvim_set_current_win(answer_win)
        vim.api.nvim_win_set_cursor(answer_win, { number, 0 })
        vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes('<CR>', true, false, true), 'x', false)
        break
      end
    end
    record('jump_file', vim.api.nvim_buf_get_name(0))
    record('jump_line', vim.api.nvim_win_get_cursor(0)[1])
  end
end, debug.traceback)

if not ok then
  record('error', err)
end
finish()
