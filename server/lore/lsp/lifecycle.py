"""Start-up, indexing in the background, and shutdown."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.uris import to_fs_path

from lore.kb.types import IndexProgress, IndexReport
from lore.lsp import links
from lore.lsp.config import apply_settings, read_client_settings
from lore.lsp.handshake import init_options_from
from lore.lsp.roots import RootChoice, choose_root, wants_index
from lore.lsp.scheduler import Scheduler
from lore.lsp.server import ClientSupport, LoreServer

if TYPE_CHECKING:
    from lore.kb.knowledge_base import KnowledgeBase

log = logging.getLogger("lore.lsp")

# How often a read-only server looks for the writer's commits.
FOLLOW_INTERVAL_S = 1.0


def register(server: LoreServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: LoreServer, params: types.InitializeParams) -> None:
        ls.init_options = init_options_from(params.initialization_options)
        ls.client_support = ClientSupport.of(params.capabilities)
        folders = params.workspace_folders or []
        uris = [f.uri for f in folders] or ([params.root_uri] if params.root_uri else [])
        roots = [Path(p) for p in (to_fs_path(u) for u in uris) if p]
        ls.roots = [r.resolve() for r in roots if r.is_dir()]
        apply_settings(ls, report=False)
        ls.root_choices = [choose_root(root, ls.settings) for root in ls.roots]
        chosen = list(dict.fromkeys(choice.root for choice in ls.root_choices))
        if chosen != ls.roots:
            ls.roots = chosen
            apply_settings(ls, report=False)  # the chosen root's lore.toml
        # Created here, not in `initialized`, so that no request ever finds it missing.
        ls.scheduler = Scheduler(
            workers=ls.settings.queue.workers,
            background_concurrency=ls.settings.queue.background_concurrency,
        )
        # The answer goes out now; the index's and the answers' modules load meanwhile.
        threading.Thread(target=_import_the_rest, name="lore-imports", daemon=True).start()

    @server.feature(types.INITIALIZED)
    async def initialized(ls: LoreServer, _params: types.InitializedParams) -> None:
        await read_client_settings(ls, report=True)
        await _register_watchers(ls)
        if ls.roots:
            for choice in ls.root_choices:
                _say_root(ls, choice)
            await start_bases(ls)
        # else the first document opened decides the root, then `ready` (see
        # sync.root_from_first_document).
        ls.started.set()

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: LoreServer, _params: Any) -> None:
        for task in list(ls.tasks):
            task.cancel()
        if ls.scheduler is not None:
            ls.scheduler.close()
        if ls.section_embedder is not None:
            ls.section_embedder.close()
        ls.close_pipeline()
        for kb in ls.bases():
            kb.close()


async def _register_watchers(ls: LoreServer) -> None:
    caps = ls.client_capabilities.workspace
    watch = caps.did_change_watched_files if caps else None
    if not (ls.settings.index.watch and watch and watch.dynamic_registration):
        return
    pattern = "**/*.{" + ",".join(ls.settings.index.extensions) + "}"
    options = types.DidChangeWatchedFilesRegistrationOptions(
        watchers=[types.FileSystemWatcher(glob_pattern=pattern)]
    )
    try:
        await ls.client_register_capability_async(
            types.RegistrationParams(
                registrations=[
                    types.Registration(
                        id=str(uuid.uuid4()),
                        method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                        register_options=options,
                    )
                ]
            )
        )
    except Exception:  # noqa: BLE001 - without watchers, didSave still re-indexes
        log.info("the client did not take file watchers; didSave still re-indexes")


def _say_root(ls: LoreServer, choice: RootChoice) -> None:
    if choice.reason:
        ls.show(f"the knowledge base is {choice.root} ({choice.reason}).")


async def adopt_root(ls: LoreServer, choice: RootChoice) -> None:
    """Start serving a root found after start-up (a document opened with no workspace)."""
    ls.roots = [choice.root]
    apply_settings(ls, report=True)
    _say_root(ls, choice)
    await start_bases(ls)


async def start_bases(ls: LoreServer) -> None:
    """Open each root's index, then bring it up to date in the background.

    Requests wait for ``ready`` (within their deadline): set at once when every index already
    holds documents, else when the first indexing commits its first batch (or ends), so the
    first answers are real ones and a large first index is still answered from as it grows.
    """
    await _open_bases(ls)
    filled = all(kb.catalog.counts()["documents"] for kb in ls.bases())
    first = ls.spawn(reindex(ls, reason="start-up"), "initial index")
    if filled:
        ls.ready.set()
    else:
        first.add_done_callback(lambda _task: ls.ready.set())
    if any(kb.read_only for kb in ls.bases()):
        ls.spawn(_follow_writer(ls), "follow the writer")


def _import_the_rest() -> None:
    """Import what serving needs and answering ``initialize`` does not (SQLite, tantivy,
    sqlite-vec, the answer pipeline and its HTTP client)."""
    try:
        import lore.kb.knowledge_base  # noqa: F401
        import lore.llm.registry  # noqa: F401
        import lore.raise_  # noqa: F401
    except Exception:  # noqa: BLE001 - the import that needs it reports the error
        log.debug("background import failed", exc_info=True)


async def _open_bases(ls: LoreServer) -> None:
    from lore.kb.base import BaseKnowledgeBase
    from lore.kb.knowledge_base import IndexError_, KnowledgeBase

    bases: list[BaseKnowledgeBase] = []
    shared_url = ls.settings.kb.url
    for number, root in enumerate(ls.roots):
        if number == 0 and shared_url is not None:
            # The first folder is served from the shared knowledge base (its checkout, where
            # sources open), the others from their own indexes.
            from lore.kb.postgres import SharedKnowledgeBase

            try:
                shared = await asyncio.to_thread(
                    SharedKnowledgeBase.open, shared_url.get_secret_value(), root, ls.settings
                )
            except (IndexError_, OSError) as exc:
                ls.show(f"cannot open the shared knowledge base: {exc}", types.MessageType.Error)
                continue
            bases.append(shared)
            continue
        if not await asyncio.to_thread(wants_index, root, ls.settings):
            # No index is created where nothing would go in it.
            extensions = ", ".join(ls.settings.index.extensions)
            ls.show(
                f"no documents ({extensions}) in {root}, so nothing to index. Open the folder "
                "of your docs, or put a lore.toml in it.",
                types.MessageType.Warning,
            )
            continue
        try:
            kb = await asyncio.to_thread(KnowledgeBase.open, root, ls.settings)
        except (IndexError_, OSError) as exc:
            ls.show(f"cannot open the index of {root}: {exc}", types.MessageType.Error)
            continue
        if kb.repaired:
            ls.show(f"{kb.repaired} ({root}).", types.MessageType.Warning)
        bases.append(kb)
    ls.library.bases = bases


async def reindex(ls: LoreServer, *, reason: str) -> None:
    """Bring every writable knowledge base up to date, reporting ``$/progress``.

    The user may cancel from the progress notification: the run stops after the batch in
    hand, keeping what was committed.
    """
    writable = [kb for kb in ls.bases() if not kb.read_only]
    token = str(uuid.uuid4())
    progress_ok = bool(
        ls.client_capabilities.window and ls.client_capabilities.window.work_done_progress
    )
    loop = asyncio.get_running_loop()
    if progress_ok:
        try:
            await ls.work_done_progress.create_async(token)
        except Exception:  # noqa: BLE001 - progress is a courtesy
            progress_ok = False
    if progress_ok:
        ls.work_done_progress.begin(
            token,
            types.WorkDoneProgressBegin(title="Lore: indexing", percentage=0, cancellable=True),
        )
    ls.indexing = {"state": "indexing", "reason": reason, "done": 0, "total": None}

    def report(p: IndexProgress) -> None:
        percentage = int(100 * p.done_files / p.total_files) if p.total_files else 0
        ls.indexing.update(done=p.done_files, total=p.total_files)
        if p.done_files and not ls.ready.is_set():
            loop.call_soon_threadsafe(ls.ready.set)  # a first batch is searchable
        if progress_ok and p.phase == "index":
            loop.call_soon_threadsafe(
                ls.work_done_progress.report,
                token,
                types.WorkDoneProgressReport(message=p.message, percentage=percentage),
            )

    # pygls cancels this future when the client sends window/workDoneProgress/cancel.
    user_cancel = ls.work_done_progress.tokens.get(token) if progress_ok else None
    indexed = 0
    stopped = False
    try:
        for kb in writable:

            def run(job: Any, kb: KnowledgeBase = kb) -> IndexReport:
                def cancelled() -> bool:
                    return job.cancelled or (user_cancel is not None and user_cancel.cancelled())

                return kb.index(progress=report, cancelled=cancelled)

            outcome = await ls.run_job("background", run)
            indexed += outcome.indexed
            if outcome.cancelled:
                stopped = True
                break
    except Exception as exc:  # noqa: BLE001 - indexing fails, serving goes on
        log.exception("indexing failed")
        ls.show(f"indexing failed: {exc}", types.MessageType.Error)
        ls.indexing = {"state": "failed", "error": str(exc)}
    else:
        following = len(writable) < len(ls.bases())
        state = "cancelled" if stopped else "following" if following else "ready"
        ls.indexing = {"state": state, "indexed": indexed}
        # Pages may have come or gone: the open documents' broken links are checked again.
        links.refresh_diagnostics(ls)
        if writable:
            _embed_sections(ls)
    finally:
        if progress_ok:
            # A read-only server also ends its progress: the client learns it is ready.
            if stopped:
                done = "cancelled; what was indexed is searchable"
            elif writable:
                done = "index up to date"
            else:
                done = "following another server's index"
            ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message=done))
            ls.work_done_progress.tokens.pop(token, None)


def _embed_sections(ls: LoreServer) -> None:
    """Start (or wake) the low-priority job that embeds new sections for reranking answers."""
    semantic = ls.settings.semantic
    if not (semantic.enabled and semantic.background):
        return
    from lore.kb import semantic as semantic_

    if not semantic_.available():
        return
    if ls.section_embedder is None:
        loop = asyncio.get_running_loop()

        def done(kb: KnowledgeBase, progress: semantic_.EmbedProgress) -> None:
            # Progress is in `lore/status`; the log says when a pass completes.
            if progress.done and progress.added:
                message = types.LogMessageParams(
                    type=types.MessageType.Info,
                    message=f"Lore: the {progress.total} sections of {kb.root} are embedded "
                    "for reranking answers",
                )
                loop.call_soon_threadsafe(ls.window_log_message, message)

        ls.section_embedder = semantic_.BackgroundEmbedder(ls.bases, done, quiet=ls.quiet)
    ls.section_embedder.wake()


async def _follow_writer(ls: LoreServer) -> None:
    while True:
        await asyncio.sleep(FOLLOW_INTERVAL_S)
        for kb in ls.bases():
            if kb.read_only:
                await asyncio.to_thread(kb.refresh)
