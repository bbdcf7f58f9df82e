"""Keeping the index current: didSave and watched-file changes, debounced into one re-index."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lsprotocol import types

from lore.lsp import lifecycle
from lore.lsp.documents import fs_path
from lore.lsp.roots import root_for_file
from lore.lsp.server import LoreServer


def _is_kb_file(ls: LoreServer, path: Path) -> bool:
    return path.suffix.lower().lstrip(".") in ls.settings.index.extensions and (
        ls.library.owner(path) is not None
    )


def schedule_reindex(ls: LoreServer, paths: list[Path]) -> None:
    """Collect changed paths and re-index once the burst has been quiet for ``debounce_ms``."""
    wanted = [p for p in paths if _is_kb_file(ls, p)]
    if not wanted:
        return
    ls.pending_changes.update(wanted)
    if ls.reindex_handle is not None:
        ls.reindex_handle.cancel()
    loop = asyncio.get_running_loop()

    def fire() -> None:
        ls.reindex_handle = None
        reason = f"{len(ls.pending_changes)} changed files"
        ls.pending_changes.clear()
        ls.spawn(lifecycle.reindex(ls, reason=reason), "reindex")

    ls.reindex_handle = loop.call_later(ls.settings.index.debounce_ms / 1000, fire)


async def root_from_first_document(ls: LoreServer, params: types.DidOpenTextDocumentParams) -> None:
    """With no workspace folder, the first file opened decides the root (by markers).

    Called by the ``didOpen`` handler before anything that needs the library."""
    if ls.roots or ls.root_choices:
        return
    path = fs_path(params.text_document.uri)
    choice = root_for_file(path) if path is not None else None
    ls.root_choices = [choice]  # decided once, by the first document
    await ls.started.wait()
    if choice is not None:
        await lifecycle.adopt_root(ls, choice)
        return
    ls.show(
        "no workspace folder, and no lore.toml, .lore, .git or pyproject.toml above "
        f"{path or params.text_document.uri}: nothing to index.",
        types.MessageType.Warning,
    )
    ls.ready.set()


def register(server: LoreServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    async def did_save(ls: LoreServer, params: types.DidSaveTextDocumentParams) -> None:
        path = fs_path(params.text_document.uri)
        if path is not None:
            schedule_reindex(ls, [path])

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    async def did_change_watched_files(
        ls: LoreServer, params: types.DidChangeWatchedFilesParams
    ) -> None:
        paths = [p for p in (fs_path(change.uri) for change in params.changes) if p is not None]
        schedule_reindex(ls, paths)
