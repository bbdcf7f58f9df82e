"""The floor: a minimal pygls server that answers hover, completion and symbols with constants.

Measured with the same client as Lore, it shows what the protocol, pygls and the pipes cost
before any work is done.
"""

from __future__ import annotations

from lsprotocol import types
from pygls.lsp.server import LanguageServer

server = LanguageServer("floor", "1")

HOVER = types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value="**x**"))
COMPLETION = types.CompletionList(
    is_incomplete=False, items=[types.CompletionItem(label="constant")]
)


@server.feature(types.TEXT_DOCUMENT_HOVER)
async def hover(_params: types.HoverParams) -> types.Hover:
    return HOVER


@server.feature(types.TEXT_DOCUMENT_COMPLETION)
async def completion(_params: types.CompletionParams) -> types.CompletionList:
    return COMPLETION


@server.feature(types.WORKSPACE_SYMBOL)
async def symbols(_params: types.WorkspaceSymbolParams) -> list[types.SymbolInformation]:
    return []


if __name__ == "__main__":
    server.start_io()
