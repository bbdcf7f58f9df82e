"""``textDocument/hover``: what the docs say about the name under the cursor; on a link, a
preview of where it leads; on a heading, how many pages link to it."""

from __future__ import annotations

from lsprotocol import types

from lore.kb import link_lookup, links, lookup
from lore.lsp import links as page_links
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
    on_heading = page_links.is_heading_line(line, document.line(position.line + 1))
    if not (on_heading or page_links.may_hold_link(line)):
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
    link = links.link_under(page.links, position.line, position.character)
    if link is not None:
        return link_lookup.link_hover(ls.library, page.path, link, ls.settings)
    heading = links.anchors_at(page.anchors, position.line) if on_heading else []
    if heading:
        return link_lookup.heading_hover(ls.library, page.path, heading)
    return None
