"""``textDocument/codeAction``: open the best sources, search, and (from ``ask``) answers.

Actions come from an ordered list of providers, each a function of the server, the request
and the selected text; ``ask.py`` adds the answer actions to it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from lsprotocol import types

from lore.kb import lookup
from lore.lsp.documents import line_at
from lore.lsp.server import LoreServer

Action = types.CodeAction | types.Command
Provider = Callable[[LoreServer, types.CodeActionParams, str], Awaitable[list[Action]]]
PROVIDERS: list[Provider] = []
"""Code-action providers, in the order their actions appear."""

MAX_SELECTION = 2000


def selected_text(ls: LoreServer, params: types.CodeActionParams) -> str:
    """The selection, or the word under the cursor when nothing is selected."""
    start, end = params.range.start, params.range.end
    try:
        lines = ls.workspace.get_text_document(params.text_document.uri).lines
    except (OSError, ValueError):
        return ""
    if (start.line, start.character) == (end.line, end.character):
        line = line_at(ls, params.text_document.uri, start)
        return (lookup.word_at(line, start.character) or "") if line else ""
    if start.line >= len(lines):
        return ""
    picked = list(lines[start.line : min(end.line + 1, len(lines))])
    if not picked:
        return ""
    picked[-1] = picked[-1][: end.character] if end.line < len(lines) else picked[-1]
    picked[0] = picked[0][start.character :]
    return " ".join("".join(picked).split())[:MAX_SELECTION]


def _short(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


async def source_actions(
    ls: LoreServer, _params: types.CodeActionParams, text: str
) -> list[Action]:
    """Plain commands (the spec allows them beside code actions): open the best sources, or
    search. They carry no edit, so a command is all they need."""
    results = await ls.run_job("user", lambda _job: ls.library.search(text, 3))
    actions: list[Action] = [
        types.Command(
            title=f"Open source: {r.chunk.heading} ({r.chunk.path}:{r.chunk.start_line})",
            command="lore.server.openSource",
            arguments=[lookup.file_uri(r.chunk.abs_path), r.chunk.start_line],
        )
        for r in results
    ]
    actions.append(
        types.Command(
            title=f"Search the knowledge base for “{_short(text)}”",
            command="lore.server.search",
            arguments=[text],
        )
    )
    return actions


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
            text = selected_text(ls, params)
            if len(text.strip()) < 2 or not ls.library.bases:
                return None
            actions: list[Action] = []
            for provider in PROVIDERS:
                actions.extend(await provider(ls, params, text))
            return actions
