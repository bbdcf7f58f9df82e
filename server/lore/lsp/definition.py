"""``textDocument/definition``: from a term or a Markdown link to its defining section."""

from __future__ import annotations

from lsprotocol import types

from lore.kb import lookup
from lore.lsp.documents import fs_path, line_at
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
            line = await line_at(ls, uri, params.position)
            if not line or not ls.library.bases:
                return None
            link = lookup.link_at(line, params.position.character)
            word = None if link else lookup.word_at(line, params.position.character)
            places = await ls.run_job(
                "user",
                lambda _job: lookup.definition(
                    ls.library, word=word, link=link, doc_path=fs_path(uri)
                ),
            )
            return [to_location(p) for p in places] or None
