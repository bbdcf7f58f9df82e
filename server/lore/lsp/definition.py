"""``textDocument/definition``: from a term to its defining section, and from a link to the
page or heading line it names."""

from __future__ import annotations

from lsprotocol import types

from lore.kb import links, lookup
from lore.lsp import links as page_links
from lore.lsp import pages
from lore.lsp.documents import read_document
from lore.lsp.server import LoreServer


def to_location(place: lookup.Place) -> types.Location:
    start = types.Position(line=max(0, place.line - 1), character=0)
    return types.Location(uri=lookup.file_uri(place.abs_path), range=types.Range(start, start))


def register(server: LoreServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    async def definition(
        ls: LoreServer, params: types.DefinitionParams
    ) -> list[types.Location] | None:
        async with ls.measured("definition"):
            uri = params.text_document.uri
            document = await read_document(ls, uri)
            line = document.line(params.position.line)
            if not line or not ls.library.bases:
                return None
            if pages.may_hold_link(line):
                page = await page_links.page_of(ls, document)
                link = (
                    links.link_under(page.links, params.position.line, params.position.character)
                    if page is not None
                    else None
                )
                if page is not None and link is not None:
                    found = await ls.run_job(
                        "user", lambda _job: links.resolve(ls.library, page.path, link)
                    )
                    if found.dest is None:
                        return None
                    return [page_links.to_location(found.dest.abs_path, found.dest.line)]
            word = lookup.word_at(line, params.position.character)
            if not word:
                return None
            places = await ls.run_job(
                "user",
                lambda _job: lookup.definition(ls.library, word=word),
            )
            return [to_location(p) for p in places] or None
