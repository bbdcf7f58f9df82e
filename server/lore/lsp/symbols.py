"""``workspace/symbol``: the knowledge base's headings and pages."""

from __future__ import annotations

from lsprotocol import types

from lore.kb import lookup
from lore.lsp.definition import to_location
from lore.lsp.server import LoreServer


def register(server: LoreServer) -> None:
    @server.feature(types.WORKSPACE_SYMBOL)
    async def workspace_symbol(
        ls: LoreServer, params: types.WorkspaceSymbolParams
    ) -> list[types.SymbolInformation] | None:
        async with ls.measured("workspace/symbol"):
            if not ls.library.bases:
                return []
            places = await ls.run_job(
                "user", lambda _job: lookup.symbols(ls.library, params.query.strip())
            )
            return [
                types.SymbolInformation(
                    name=p.name,
                    kind=types.SymbolKind.File if p.kind == "title" else types.SymbolKind.String,
                    location=to_location(p),
                    container_name=p.container,
                )
                for p in places
            ]
