--- Lore for Neovim: commands around the Lore language server.
--- See `:help lore`.
local M = {}

---@class lore.Opts
---@field cmd? string[] Command that starts the server (default: `{ 'lore', 'serve' }`).
---@field settings? table Settings sent as the `lore` section (see the configuration reference).
---@field float? vim.api.keyset.win_config Options for the answer window.

---@type lore.Opts
M.opts = { float = { border = 'rounded' } }

---@class lore.Citation
---@field n integer
---@field path string
---@field abs_path string
---@field heading string
---@field start_line integer
---@field end_line integer

---@class lore.Answer
---@field answer string
---@field citations lore.Citation[]
---@field confidence number
---@field provider string
---@field degraded boolean
---@field evaluation table

--- Configure the Lore client; only needed to change the defaults of `lsp/lore.lua`.
---@param opts? lore.Opts
function M.setup(opts)
  M.opts = vim.tbl_deep_extend('force', M.opts, opts or {})
  local config = {}
  if M.opts.cmd then
    config.cmd = M.opts.cmd
  end
  if M.opts.settings then
    config.settings = { lore = M.opts.settings }
  end
  if next(config) then
    vim.lsp.config('lore', config)
  end
end

---@param bufnr integer
---@return vim.lsp.Client?
local function client_for(bufnr)
  return vim.lsp.get_clients({ bufnr = bufnr, name = 'lore' })[1]
end

---@param text string
---@param width integer
---@return string[]
local function wrap(text, width)
  local lines, line = {}, ''
  for word in text:gmatch('%S+') do
    if #line > 0 and #line + 1 + #word > width then
      table.insert(lines, line)
      line = word
    else
      line = #line > 0 and (line .. ' ' .. word) or word
    end
  end
  if #line > 0 then
    table.insert(lines, line)
  end
  return lines
end

--- The lines of the answer window, and which line holds which citation.
---@param answer lore.Answer
---@return string[] lines
---@return table<integer, lore.Citation> citations by line number (1-based)
function M.render(answer)
  local lines = wrap(answer.answer, 78)
  local by_line = {}
  if #answer.citations > 0 then
    table.insert(lines, '')
    for _, c in ipairs(answer.citations) do
      table.insert(lines, ('[%d] %s:%d  %s'):format(c.n, c.path, c.start_line, c.heading))
      by_line[#lines] = c
    end
  end
  table.insert(lines, '')
  local state = answer.evaluation.declined and 'declined' or ('confidence %.2f'):format(answer.confidence)
  table.insert(lines, ('%s · %s%s'):format(state, answer.provider, answer.degraded and ' · degraded' or ''))
  return lines, by_line
end

--- Jump to a citation: open its file at its first line.
---@param citation lore.Citation
function M.open_citation(citation)
  vim.cmd.edit(vim.fn.fnameescape(citation.abs_path))
  vim.api.nvim_win_set_cursor(0, { citation.start_line, 0 })
end

---@param answer lore.Answer
local function show_answer(answer)
  local lines, by_line = M.render(answer)
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].filetype = 'markdown'
  vim.bo[buf].modifiable = false
  vim.bo[buf].bufhidden = 'wipe'
  local width = 80
  for _, l in ipairs(lines) do
    width = math.max(width, math.min(#l, vim.o.columns - 4))
  end
  local win = vim.api.nvim_open_win(buf, true, vim.tbl_extend('force', {
    relative = 'editor',
    width = math.min(width, vim.o.columns - 4),
    height = math.min(#lines, vim.o.lines - 4),
    row = 1,
    col = 2,
    style = 'minimal',
    title = ' Lore ',
  }, M.opts.float or {}))
  vim.b[buf].lore_citations = by_line
  vim.keymap.set('n', '<CR>', function()
    local citation = by_line[vim.api.nvim_win_get_cursor(0)[1]]
    if citation then
      vim.api.nvim_win_close(win, true)
      M.open_citation(citation)
    end
  end, { buffer = buf, desc = 'Lore: open the citation under the cursor' })
  vim.keymap.set('n', 'q', function()
    vim.api.nvim_win_close(win, true)
  end, { buffer = buf, desc = 'Lore: close' })
end

--- Ask Lore a question; the answer opens in a floating window.
---@param question string
---@param bufnr? integer
function M.ask(question, bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client = client_for(bufnr)
  if not client then
    vim.notify('Lore is not attached to this buffer', vim.log.levels.WARN)
    return
  end
  vim.notify('Lore: answering…', vim.log.levels.INFO)
  client:request('lore/ask', { question = question }, function(err, result)
    if err then
      vim.notify('Lore: ' .. (err.message or tostring(err)), vim.log.levels.ERROR)
      return
    end
    show_answer(result)
  end, bufnr)
end

--- Search the knowledge base into the quickfix list.
---@param query string
---@param bufnr? integer
function M.search(query, bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client = client_for(bufnr)
  if not client then
    return
  end
  client:request('lore/search', { query = query, k = 30 }, function(err, result)
    if err then
      vim.notify('Lore: ' .. err.message, vim.log.levels.ERROR)
      return
    end
    local items = {}
    for _, r in ipairs(result.results) do
      table.insert(items, {
        filename = r.abs_path,
        lnum = r.start_line,
        end_lnum = r.end_line,
        text = table.concat(r.heading_path, ' › ') .. ': ' .. r.snippet,
      })
    end
    vim.fn.setqflist({}, ' ', { title = 'Lore: ' .. query, items = items })
    if #items > 0 then
      vim.cmd.copen()
    else
      vim.notify('Lore: no results for ' .. query, vim.log.levels.INFO)
    end
  end, bufnr)
end

---@param bufnr? integer
function M.status(bufnr)
  local client = client_for(bufnr or 0)
  if client then
    client:request('lore/status', {}, function(_, result)
      vim.print(result)
    end)
  end
end

---@param bufnr? integer
function M.reindex(bufnr)
  local client = client_for(bufnr or 0)
  if client then
    client:request('workspace/executeCommand', { command = 'lore.server.reindex', arguments = {} }, function() end)
  end
end

---@param opts vim.api.keyset.create_user_command.command_args
---@return string
local function selection_or_args(opts)
  if opts.args ~= '' then
    return opts.args
  end
  if opts.range > 0 then
    local lines = vim.api.nvim_buf_get_lines(0, opts.line1 - 1, opts.line2, false)
    local start_col, end_col = vim.fn.col("'<"), vim.fn.col("'>")
    if #lines == 1 and opts.line1 == vim.fn.line("'<") and end_col >= start_col then
      lines[1] = lines[1]:sub(start_col, end_col)
    end
    return vim.trim(table.concat(lines, ' '))
  end
  return ''
end

--- Create the buffer-local commands (called on LspAttach).
---@param bufnr integer
function M.attach(bufnr)
  vim.api.nvim_buf_create_user_command(bufnr, 'LoreAsk', function(opts)
    local question = selection_or_args(opts)
    if question ~= '' then
      M.ask(question, bufnr)
    else
      vim.ui.input({ prompt = 'Ask Lore: ' }, function(input)
        if input and input ~= '' then
          M.ask(input, bufnr)
        end
      end)
    end
  end, { nargs = '*', range = true, desc = 'Ask Lore a question' })
  vim.api.nvim_buf_create_user_command(bufnr, 'LoreSearch', function(opts)
    M.search(opts.args, bufnr)
  end, { nargs = '+', desc = 'Search the knowledge base into the quickfix list' })
  vim.api.nvim_buf_create_user_command(bufnr, 'LoreStatus', function()
    M.status(bufnr)
  end, { desc = 'Show the Lore server status' })
  vim.api.nvim_buf_create_user_command(bufnr, 'LoreReindex', function()
    M.reindex(bufnr)
  end, { desc = 'Re-index the knowledge base' })
end

return M
