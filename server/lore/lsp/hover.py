"""``textDocument/hover``: what the docs say about the name under the cursor."""

from __future__ import annotations

from lsprotocol import types

from lore.kb import lookup
from lore.lsp.documents import line_at
from lore.lsp.server import LoreServer


def register(server: LoreServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: LoreServer, params: types.HoverParams) -> types.Hover | None:
        async with ls.measured("hover"):
            line = await line_at(ls, params.text_document.uri, params.position)
            word = lookup.word_at(line, params.position.character) if line else None
            if not word or not ls.library.bases:
                return None
            cached = ls.cached("hover", word)
            if cached is None:
                info = await ls.run_job(
                    "interactive",
                    lambda _job: lookup.hover_for(ls.library, word, ls.settings),
                    key=f"hover:{params.text_document.uri}",
                )
                cached = {"markdown": info.markdown} if info else {}
                ls.remember("hover", word, cached)
            if not cached:
                return None
            return types.Hover(
                contents=types.MarkupContent(
                    kind=types.MarkupKind.Markdown, value=cached["markdown"]
                )
            )
