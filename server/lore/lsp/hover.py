"""``textDocument/hover``: what the docs say about the name under the cursor; on a link, a
preview of where it leads; on a heading, how many pages link to it."""

from __future__ import annotations

from lsprotocol import types

from lore.kb import lookup
from lore.lsp import links as page_links
from lore.lsp import pages
from lore.lsp.documents import Document, read_document
from lore.lsp.server import LoreServer


def _hover(markdown: str) -> types.Hover:
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=markdown))


def register(server: LoreServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: LoreServer, params: types.HoverParams) -> types.Hover | None:
        async with ls.measured("hover"):
            uri = params.text_document.uri
            document = await read_document(ls, uri)
            line = document.line(params.position.line)
            if not line or not ls.library.bases:
                return None
            if ls.settings.hover.enabled:
                inside = await _inside_the_docs(ls, document, params.position, line)
                if inside is not None:
                    return _hover(inside.markdown)
            word = lookup.word_at(line, params.position.character)
            if not word:
                return None
            cached = ls.cached("hover", word)
            if cached is None:
                info = await ls.run_job(
                    "interactive",
                    lambda _job: lookup.hover_for(ls.library, word, ls.settings),
                    key=f"hover:{uri}",
                )
                cached = {"markdown": info.markdown} if info else {}
                ls.remember("hover", word, cached)
            if not cached:
                return None
            return _hover(cached["markdown"])


async def _inside_the_docs(
    ls: LoreServer, document: Document, position: types.Position, line: str
) -> lookup.HoverInfo | None:
    """The hover of a link or a heading under the cursor, if it stands on one."""
    uri = document.uri
    on_heading = pages.is_heading_line(line, document.line(position.line + 1))
    if not (on_heading or pages.may_hold_link(line)):
        return None
    # One job, parse included: a newer hover on the same document supersedes it in the queue
    # (an await before the job could let an older hover overtake a newer one).
    return await ls.run_job(
        "interactive",
        lambda _job: _link_or_heading(ls, document, position, on_heading),
        key=f"hover:{uri}",
    )


def _link_or_heading(
    ls: LoreServer, document: Document, position: types.Position, on_heading: bool
) -> lookup.HoverInfo | None:
    page = page_links.parse_page(document)
    if page is None:
        return None
    return pages.hover_in_page(
        ls.library, ls.settings, page, position.line, position.character, on_heading
    )
