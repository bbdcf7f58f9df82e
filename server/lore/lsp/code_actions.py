"""``textDocument/codeAction``: open the best sources, search, and (from ``ask``) answers.

Actions come from an ordered list of providers, each a function of the server, the request
and the selected text; ``ask.py`` adds the answer actions to it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from lsprotocol import types

from lore.kb import lookup
from lore.lsp.documents import Document, read_document
from lore.lsp.server import LoreServer

Action = types.CodeAction
Provider = Callable[[LoreServer, types.CodeActionParams, str], Awaitable[list[Action]]]
PROVIDERS: list[Provider] = []
"""Code-action providers, in the order their actions appear."""

MAX_SELECTION = 2000


def selected_text(document: Document, selection: types.Range) -> str:
    """The selection, or the word under the cursor when nothing is selected."""
    start, end = selection.start, selection.end
    lines = document.lines
    if (start.line, start.character) == (end.line, end.character):
        line = document.line(start.line)
        return (lookup.word_at(line, start.character) or "") if line else ""
    if not 0 <= start.line < len(lines):
        return ""
    last = min(end.line, len(lines) - 1)
    picked: list[str] = []
    size = 0
    for number in range(start.line, last + 1):
        line = lines[number]
        if number == end.line:
            line = line[: end.character]
        if number == start.line:
            line = line[start.character :]
        picked.append(line)
        size += len(line) + 1
        if size > 4 * MAX_SELECTION:
            break  # a selection of a whole large document is cut here, not joined first
    return " ".join(" ".join(picked).split())[:MAX_SELECTION]


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


async def source_actions(
    ls: LoreServer, _params: types.CodeActionParams, text: str
) -> list[Action]:
    """Open the best sources, or search: code actions that carry only a command.

    Not bare ``Command`` items, though the spec allows them: VS Code tries to resolve a bare
    command as if it were a code action, fails, and can then lose the command it was about to
    run. A code action with a kind is resolved and run as every client expects."""
    results = await ls.run_job("user", lambda _job: ls.library.search(text, 3))
    actions: list[Action] = [
        _command_action(
            f"Open source: {r.chunk.heading} ({r.chunk.path}:{r.chunk.start_line})",
            "lore.server.openSource",
            [lookup.file_uri(r.chunk.abs_path), r.chunk.start_line],
        )
        for r in results
    ]
    actions.append(
        _command_action(
            f"Search the knowledge base for “{_short(text)}”", "lore.server.search", [text]
        )
    )
    return actions


def _command_action(title: str, command: str, arguments: list[object]) -> types.CodeAction:
    return types.CodeAction(
        title=title,
        kind=types.CodeActionKind.Empty,
        command=types.Command(title=title, command=command, arguments=arguments),
    )


PROVIDERS.append(source_actions)


def register(server: LoreServer) -> None:
    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[types.CodeActionKind.Empty, types.CodeActionKind.RefactorRewrite],
            resolve_provider=True,
        ),
    )
    async def code_action(ls: LoreServer, params: types.CodeActionParams) -> list[Action] | None:
        async with ls.measured("codeAction"):
            document = await read_document(ls, params.text_document.uri)
            text = selected_text(document, params.range)
            if len(text.strip()) < 2 or not ls.library.bases:
                return None
            actions: list[Action] = []
            for provider in PROVIDERS:
                actions.extend(await provider(ls, params, text))
            return actions
