"""Lore's own requests and commands: ``lore/search``, ``lore/status``, ``lore.server.reindex``..."""

from __future__ import annotations

import logging
from typing import Any

from lsprotocol import types

from lore.kb.lookup import file_uri
from lore.lsp import ask, lifecycle
from lore.lsp.server import LoreServer, request_param

log = logging.getLogger("lore.lsp")


def status(ls: LoreServer) -> dict[str, Any]:
    ask.configure_providers(ls)  # the configured provider shows before the first answer
    return {
        "index": {
            "state": ls.indexing,
            "bases": [kb.status() for kb in ls.bases()],
        },
        "queue": ls.scheduler.stats() if ls.scheduler else {},
        "cache": ls.cache.stats(),
        "latency": ls.latencies.summary(),
        "providers": {
            **ls.pipeline.providers.status(),
            "answer_cache": ls.pipeline.cache.stats(),
        },
    }


def register(server: LoreServer) -> None:
    @server.feature("lore/search")
    async def search(ls: LoreServer, params: Any) -> dict[str, Any]:
        async with ls.measured("lore/search"):
            query = str(request_param(params, "query", "") or "")
            k = int(request_param(params, "k", None) or ls.settings.search.default_k)
            if not query.strip():
                return {"results": []}
            cached = ls.cached("search", f"{k}:{query}")
            if cached is None:
                results = await ls.run_job("user", lambda _job: ls.library.search(query, k))
                cached = {
                    "results": [dict(r.to_json(), abs_path=r.chunk.abs_path) for r in results]
                }
                ls.remember("search", f"{k}:{query}", cached)
            return cached

    @server.feature("lore/status")
    async def lore_status(ls: LoreServer, _params: Any) -> dict[str, Any]:
        return await ls.run_job("user", lambda _job: status(ls))

    @server.command("lore.server.status")
    async def status_command(ls: LoreServer, *_args: Any) -> dict[str, Any]:
        return await ls.run_job("user", lambda _job: status(ls))

    @server.command("lore.server.reindex")
    async def reindex_command(ls: LoreServer, *_args: Any) -> dict[str, Any]:
        ls.spawn(lifecycle.reindex(ls, reason="command"), "reindex")
        return {"started": True}

    @server.command("lore.server.openSource")
    async def open_source(ls: LoreServer, uri: str, line: int = 1) -> dict[str, Any] | None:
        """Show ``uri`` at ``line`` (1-based) with ``window/showDocument`` when the client
        has it; otherwise answer with the location ``{uri, range}`` for the editor to open."""
        position = types.Position(line=max(0, int(line) - 1), character=0)
        where = types.Range(position, position)
        if ls.client_support.shows_documents:
            try:
                shown = await ls.window_show_document_async(
                    types.ShowDocumentParams(uri=uri, take_focus=True, selection=where)
                )
            except Exception:  # noqa: BLE001 - a client that fails to show still gets the place
                log.info("window/showDocument failed; answering with the location")
            else:
                if shown is not None and shown.success:
                    return None
        point = {"line": position.line, "character": 0}
        return {"uri": uri, "range": {"start": point, "end": point}}

    @server.command("lore.server.search")
    async def search_command(ls: LoreServer, query: str = "") -> dict[str, Any]:
        """Search, then offer the best sources to open (for clients without a search UI)."""
        results = await ls.run_job("user", lambda _job: ls.library.search(str(query), 5))
        if not results:
            ls.show(f"nothing in the knowledge base matches “{query}”.")
            return {"results": []}
        titles = [f"{r.chunk.heading} ({r.chunk.path}:{r.chunk.start_line})" for r in results]
        choice = await ls.window_show_message_request_async(
            types.ShowMessageRequestParams(
                type=types.MessageType.Info,
                message=f"Lore: sources for “{query}”",
                actions=[types.MessageActionItem(title=t) for t in titles],
            )
        )
        found: dict[str, Any] = {"results": [r.to_json() for r in results]}
        if choice is not None and choice.title in titles:
            hit = results[titles.index(choice.title)]
            # The chosen place, when the client could not be asked to show it.
            found |= await open_source(ls, file_uri(hit.chunk.abs_path), hit.chunk.start_line) or {}
        return found


__all__ = ["register", "status"]
