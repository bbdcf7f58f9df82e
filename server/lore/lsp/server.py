"""The Lore language server: its state, and the one ordered list of feature modules."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from lsprotocol import types
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.protocol.language_server import lsp_method

from lore import __version__
from lore._native import ResponseCache
from lore.config import Settings, load_settings
from lore.kb.lookup import Library
from lore.lsp import handshake, tcp
from lore.lsp.framing import FdSource
from lore.lsp.handshake import EarlyStart
from lore.lsp.protocol import StrictProtocol, run_stdio
from lore.lsp.scheduler import Dropped, Scheduler
from lore.ops.metrics import Latencies

if TYPE_CHECKING:
    from lore.kb.base import BaseKnowledgeBase
    from lore.raise_ import Pipeline

log = logging.getLogger("lore.lsp")
T = TypeVar("T")

COMMAND_PREFIX = "lore.server."
"""Every ``workspace/executeCommand`` id the server advertises starts with this, so none
collides with an editor extension's own ``lore.*`` commands (vscode-languageclient registers
each advertised id as an editor command)."""

COMMAND_ALIASES = {
    "lore.ask": "lore.server.ask",
    "lore.reindex": "lore.server.reindex",
    "lore.status": "lore.server.status",
}
"""Earlier command ids, still accepted (never advertised) so existing callers keep working."""

INTERACTIVE_METHODS = frozenset({"hover", "completion", "completionItem/resolve"})
"""Methods measured under these names wait at most ``queue.interactive_deadline_ms``."""
QUIET_AFTER_S = 0.5
"""How long after the last answer background work may run again."""


@dataclass(frozen=True)
class ClientSupport:
    """What the client said, at ``initialize``, that it can do (where the server adapts)."""

    resolves_code_actions: bool = False
    """It sends ``codeAction/resolve`` for the edit; if not, code actions carry their edit."""
    shows_documents: bool = False
    """It handles ``window/showDocument``; if not, commands answer with the location."""

    @classmethod
    def of(cls, caps: types.ClientCapabilities) -> ClientSupport:
        code_action = caps.text_document.code_action if caps.text_document else None
        resolve = code_action.resolve_support if code_action else None
        show_document = caps.window.show_document if caps.window else None
        return cls(
            resolves_code_actions=bool(resolve and "edit" in resolve.properties),
            shows_documents=bool(show_document and show_document.support),
        )


class LoreProtocol(StrictProtocol):
    """The protocol with Lore's command ids, the token gate of ``lore serve --tcp``, and the
    ``initialize`` answered early over stdio."""

    required_token: str | None = None
    """Over TCP, the secret an ``initialize`` must carry before any message is handled
    (see ``lore.lsp.tcp``); None once shown, and always None over stdio."""

    def handle_message(self, message: Any) -> None:
        if self.required_token is not None and not tcp.admit(self, message):
            return
        super().handle_message(message)

    early_start: EarlyStart | None = None
    """The ``initialize`` request ``lore serve`` read (and maybe answered) before pygls loaded."""

    def _send_response(self, msg_id: Any, result: Any = None, error: Any = None) -> None:
        early = self.early_start
        if early is not None and msg_id == early.request_id and error is None:
            self.early_start = None  # one answer only: the first initialize
            answer = json.loads(json.dumps(result, default=self._serialize_message))
            if answer != early.answered:
                handshake.remember(early.key, answer)
            if early.answered is not None:
                return  # the client has its answer already
        super()._send_response(msg_id, result, error)

    @lsp_method(types.WORKSPACE_EXECUTE_COMMAND)
    def lsp_workspace__execute_command(self, params: types.ExecuteCommandParams):
        if params.command in COMMAND_ALIASES:
            params.command = COMMAND_ALIASES[params.command]
        return (yield from super().lsp_workspace__execute_command(params))


class LoreServer(LanguageServer):
    """The server's state. Handlers live in the feature modules listed in ``create_server``."""

    def __init__(self) -> None:
        super().__init__("lore", __version__, protocol_cls=LoreProtocol)
        self.settings: Settings = load_settings(None)
        """The settings in force: the last valid combination of every source."""
        self.init_options: dict[str, Any] = {}
        """``initializationOptions`` as the client sent them (a settings overlay)."""
        self.client_settings: dict[str, Any] = {}
        """The last ``workspace/configuration`` section ``lore`` (a settings overlay)."""
        self.roots: list[Path] = []
        """The workspace folders, each the root of one knowledge base."""
        self.root_choices: list[Any] = []
        """How each root was chosen (``lore.lsp.roots.RootChoice``; None when no folder was
        given and the first document had no marker above it)."""
        self.library = Library()
        """The open knowledge bases, searched together."""
        self.scheduler: Scheduler | None = None
        """The Rust request queue and its workers; created once the settings are known."""
        self.cache = ResponseCache(self.settings.cache.max_bytes, self.settings.cache.ttl_s)
        """Rendered hovers and search results, keyed with the index generation."""
        self.latencies = Latencies()
        """Per-method latency samples for ``lore/status``."""
        self.indexing: dict[str, Any] = {"state": "starting"}
        """What indexing is doing now, for ``lore/status`` and the editors' status bars."""
        self.section_embedder: Any = None
        """The background job that embeds sections for reranking
        (``lore.kb.semantic.BackgroundEmbedder``), started after the first index run."""
        self.requests_in_flight = 0
        self.last_request_end = 0.0
        """``time.monotonic()`` when the last request was answered; with the count above, what
        ``quiet`` reads from the background job's thread."""
        self.tasks: set[asyncio.Task] = set()
        """Background tasks kept alive (and their failures logged) until they end."""
        self.pending_changes: set[Path] = set()
        """Files changed on disk and not yet re-indexed (debounced)."""
        self.reindex_handle: asyncio.TimerHandle | None = None
        """The debounce timer of the next re-index."""
        self._pipeline: Pipeline | None = None
        self.ready = asyncio.Event()
        """Set once the knowledge bases are open and hold what the first index found; requests
        wait for it (within their deadline) rather than answer from an empty library."""
        self.started = asyncio.Event()
        """Set once ``initialized`` has read the settings and opened the given roots."""
        self.client_support = ClientSupport()
        """What the client can do, read once at ``initialize``."""

    @property
    def pipeline(self) -> Pipeline:
        """The RAISE pipeline, its answer providers and its answer cache, made on first use:
        its imports (HTTP client, prompts) are not needed to answer ``initialize``."""
        if self._pipeline is None:
            from lore.llm.registry import Providers
            from lore.raise_ import Pipeline

            self._pipeline = Pipeline(Providers())
        return self._pipeline

    def close_pipeline(self) -> None:
        """Close the answer providers' connections, if answers were ever asked for."""
        if self._pipeline is not None:
            self._pipeline.providers.close()

    # --- helpers for the feature modules -------------------------------------------------

    async def run_job(
        self,
        priority: str,
        work: Callable[[Any], T],
        *,
        key: str | None = None,
    ) -> T:
        """Run blocking ``work(job)`` through the priority queue.

        A job superseded by a newer request, or dropped past its deadline, ends the handler as
        cancelled: pygls then answers ``RequestCancelled`` (-32800), which clients ignore quietly.
        """
        if self.scheduler is None:
            raise RuntimeError("the server is not initialised yet")
        deadline_ms = {
            "interactive": self.settings.queue.interactive_deadline_ms,
            "user": self.settings.queue.user_deadline_ms,
        }.get(priority)
        try:
            return await self.scheduler.run(
                priority, work, key=key, deadline_s=deadline_ms / 1000 if deadline_ms else None
            )
        except Dropped as exc:
            log.debug("%s job %s: %s", priority, key or "", exc)
            raise asyncio.CancelledError(str(exc)) from None

    def cached(self, kind: str, key: str) -> Any | None:
        raw = self.cache.get(f"{kind}:{self.library.generation}:{key}")
        return None if raw is None else json.loads(raw)

    def remember(self, kind: str, key: str, value: Any) -> None:
        self.cache.put(f"{kind}:{self.library.generation}:{key}", json.dumps(value).encode())

    def spawn(self, coro: Awaitable[Any], name: str) -> asyncio.Task:
        """Run ``coro`` in the background, keeping a reference and logging its failure."""
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self.tasks.add(task)

        def done(t: asyncio.Task) -> None:
            self.tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("background task %s failed", name, exc_info=t.exception())

        task.add_done_callback(done)
        return task

    def show(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=f"Lore: {message}"))

    @asynccontextmanager
    async def measured(self, method: str):
        """Wait until the library is ready, within the method's deadline, then run the block;
        record how long it all took under ``method``, and whether it failed."""
        started = time.perf_counter()
        outcome = "ok"
        self.requests_in_flight += 1
        try:
            await self.until_ready(method)
            yield
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        except BaseException:
            outcome = "error"
            raise
        finally:
            self.requests_in_flight -= 1
            self.last_request_end = time.monotonic()
            self.latencies.record(method, time.perf_counter() - started, outcome=outcome)

    def quiet(self) -> bool:
        """No request is being served, nor was one in the last moment (requests come in
        bursts, as the user types or moves): background work may run."""
        return (
            self.requests_in_flight == 0
            and time.monotonic() - self.last_request_end > QUIET_AFTER_S
        )

    def start_io(
        self,
        stdin: BinaryIO | None = None,
        stdout: BinaryIO | None = None,
        *,
        early: EarlyStart | None = None,
    ) -> int:
        """Serve over stdio (with Lore's framing) until ``exit``; the process's exit status.
        ``early``: what ``lore serve`` read from stdin before the server started, to be
        handled first."""
        self._stop_event = threading.Event()
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        stdin = stdin or sys.stdin.buffer
        source, pending = None, []
        if early is not None:
            source = early.source or FdSource(stdin.fileno(), early.raw)
            pending = early.unanswered
        return run_stdio(
            self.protocol, stdin, self._stop_event, self.shutdown, source=source, pending=pending
        )

    async def until_ready(self, method: str) -> None:
        """Wait for ``ready``, at most the method's deadline; past it, answer from what is
        indexed so far."""
        if self.ready.is_set() or self.scheduler is None:
            return  # ready, or not even initialised: nothing to wait for
        queue = self.settings.queue
        deadline_ms = (
            queue.interactive_deadline_ms
            if method in INTERACTIVE_METHODS
            else queue.user_deadline_ms
        )
        try:
            await asyncio.wait_for(self.ready.wait(), deadline_ms / 1000)
        except TimeoutError:
            log.info("%s answered before the index was ready", method)

    def bases(self) -> list[BaseKnowledgeBase]:
        return self.library.bases

    def report_server_error(self, error: Exception, source: Any) -> None:
        # Errors are logged (with tracebacks) where they happen; a malformed message from the
        # client is no reason for a pop-up in the user's editor.
        log.warning("server error (%s): %s", getattr(source, "__name__", source), error)


def request_param(params: Any, name: str, default: Any = None) -> Any:
    """A field of a custom request's params, which pygls hands over as a dict or an object."""
    if isinstance(params, dict):
        return params.get(name, default)
    return getattr(params, name, default)


FEATURES = (
    "lifecycle",
    "config",
    "sync",
    "hover",
    "completion",
    "definition",
    "links",
    "symbols",
    "code_actions",
    "ask",
    "custom",
)
"""The feature modules of ``lore.lsp``, registered in this order."""


def feature_modules() -> list[ModuleType]:
    """The feature modules, imported (``lore serve`` does it on a thread while it answers the
    first hovers, see ``lore.lsp.early``)."""
    return [importlib.import_module(f"lore.lsp.{name}") for name in FEATURES]


def create_server() -> LoreServer:
    """A server with every feature registered, in order."""
    server = LoreServer()
    for feature in feature_modules():
        feature.register(server)
    return server


def serve(address: str | None = None, early: EarlyStart | None = None) -> int:
    """Run the server over stdio, or on loopback ``HOST:PORT`` (see ``lore.lsp.tcp``); the
    process's exit status. ``early`` is what ``lore serve`` read from stdin before loading
    pygls (see ``handshake.py``)."""
    # stderr only: stdout carries the protocol. pygls logs every message at INFO: too loud.
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("pygls").setLevel(logging.WARNING)
    server = create_server()
    if address:
        host, _, port = address.rpartition(":")
        status = tcp.serve_tcp(server, host, int(port))
    else:
        if early is not None:
            server.protocol.early_start = early
        status = server.start_io(early=early)
    # The indexes are closed by `shutdown` and the client has gone: end here, rather than
    # spend a second finalising modules while the editor waits for the process to end.
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # `exit` closed stdout
            stream.flush()
    os._exit(status)
