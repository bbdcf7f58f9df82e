"""Hovers answered while pygls loads.

``lore serve`` answers ``initialize`` from its record (``handshake.py``) a tenth of a second
after it starts; importing pygls and lsprotocol then takes about a second of CPU, and the
editor's first hover used to wait for it. Meanwhile this module serves hovers itself: it opens
the existing index read-only, reads the messages that come, answers ``textDocument/hover`` on
the documents the editor opened, exactly as the server would, and keeps every other message,
in order, for the server. pygls loads on a thread once the index is open (before, the two
would share one interpreter lock and both be late), and the server takes over at the next
message boundary, with the reader and the messages kept.

Nothing changes for anything else: the server handles every message that was not answered
here (``initialize`` first), checks and rejects what is malformed, and waits for its own
readiness. Hovers are answered here only from an index that already holds documents (the
server is ready at once then, too), with the settings the server would use: the
``initializationOptions``, then the client's ``lore`` section, asked for after
``initialized`` when the client offers it; hovers that come before that answer wait for it.

Standard library, ``lore.config`` and ``lore.kb`` only: nothing here may load pygls.
"""

from __future__ import annotations

import json
import logging
import os
import select
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, TypeVar
from urllib.parse import unquote, urlparse

from lore.lsp.framing import FdSource, Frame, read_frame
from lore.lsp.handshake import EarlyStart, init_options_from

log = logging.getLogger("lore.lsp")
T = TypeVar("T")

CONFIGURATION_REQUEST_ID = "lore-early-configuration"
"""The id of the one request sent from here: ``workspace/configuration`` for ``lore``."""


def serve_while_loading(early: EarlyStart, fd: int, stdout: BinaryIO, load: Callable[[], T]) -> T:
    """Run ``load`` (the server's imports) on a thread and answer hovers from the index until
    it returns; its result. ``early`` gains the reader of ``fd`` and the messages kept for
    the server."""
    hovers = EarlyHovers(early, fd, stdout)
    hovers.open_library()  # first: the thread below would halve the speed of these imports
    loaded = threading.Event()
    wake_read, wake_write = os.pipe()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = load()
        except BaseException as exc:  # noqa: BLE001 - raised again on the main thread
            outcome["error"] = exc
        finally:
            loaded.set()
            os.write(wake_write, b"\0")

    thread = threading.Thread(target=run, name="lore-load-server", daemon=True)
    thread.start()
    try:
        hovers.serve(loaded, wake_read)
    finally:
        thread.join()
        os.close(wake_read)
        os.close(wake_write)
        hovers.hand_over()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


class EarlyHovers:
    """The messages read before the server starts: hovers answered, the rest kept."""

    def __init__(self, early: EarlyStart, fd: int, stdout: BinaryIO) -> None:
        self.early = early
        self.fd = fd
        self.source = FdSource(fd, early.raw)
        self.stdout = stdout
        self.kept: list[Frame | None] = []
        """Frames for the server, in order; None where a held hover was answered."""
        self.held: dict[Any, int] = {}
        """Hovers waiting for the client's settings: request id → place in ``kept``."""
        self.answered: set[Any] = set()
        self.documents: dict[str, str] = {}
        """The text of each document the editor opened, by URI."""
        self.library: Any = None
        """The open knowledge bases (``lore.kb.lookup.Library``), or None: no hovers here."""
        self.settings: Any = None
        self.roots: list[Path] = []
        self.init_options: dict[str, Any] = {}
        self.waiting_for_settings = False
        """Whether hovers wait for the client's ``lore`` section (asked after ``initialized``)."""
        self.asked = False

    # --- the index ----------------------------------------------------------------------

    def open_library(self) -> None:
        """Open the index of each root read-only, if every root has one that holds
        documents; otherwise hovers are left to the server."""
        try:
            self._open_library()
        except Exception:  # noqa: BLE001 - the server opens the index and reports
            log.debug("no hovers before the server started", exc_info=True)
            self.close_library()

    def _open_library(self) -> None:
        from lore.config import load_settings
        from lore.kb.index_dir import MARKER
        from lore.kb.knowledge_base import KnowledgeBase
        from lore.kb.lookup import Library
        from lore.lsp.roots import choose_root

        params = self.early.params or {}
        self.init_options = init_options_from(params.get("initializationOptions"))
        roots = [path.resolve() for path in _workspace_paths(params) if path.is_dir()]
        if not roots:
            return  # the first document opened decides the root: the server's work
        settings = load_settings(roots[0], self.init_options)
        chosen = list(dict.fromkeys(choose_root(root, settings).root for root in roots))
        if chosen != roots:
            roots = chosen
            settings = load_settings(roots[0], self.init_options)
        if not _local(settings):
            return
        bases: list[KnowledgeBase] = []
        try:
            for root in roots:
                if not (settings.index_dir(root) / MARKER).is_file():
                    return
                bases.append(KnowledgeBase.open(root, settings, read_only=True))
                if not bases[-1].catalog.counts()["documents"]:
                    return
            self.library, bases = Library(bases), []
        finally:
            for kb in bases:  # an index is missing or empty: the server builds it
                kb.close()
        self.settings = settings
        self.roots = roots
        capabilities = params.get("capabilities")
        workspace = capabilities.get("workspace") if isinstance(capabilities, dict) else None
        # Until the client's own settings are in, hovers wait (they may move the index).
        self.waiting_for_settings = isinstance(workspace, dict) and bool(
            workspace.get("configuration")
        )

    def close_library(self) -> None:
        if self.library is not None:
            for kb in self.library.bases:
                kb.close()
        self.library = None
        self.release_held()

    def use_client_settings(self, section: Any) -> None:
        """The client's ``lore`` section: the settings the server will use, if they keep the
        index where it is."""
        from lore.config import SettingsError, load_settings

        self.waiting_for_settings = False
        if self.library is None:
            return
        try:
            settings = load_settings(
                self.roots[0], self.init_options, section if isinstance(section, dict) else {}
            )
        except SettingsError:
            self.close_library()  # the server says what is wrong
            return
        if not _local(settings) or any(
            settings.index_dir(r) != self.settings.index_dir(r) for r in self.roots
        ):
            self.close_library()  # the index is elsewhere: the server opens it
            return
        self.settings = settings
        for kb in self.library.bases:
            kb.settings = settings
        for place in sorted(self.held.values()):
            message = json.loads(self.kept[place].body)  # type: ignore[union-attr]
            if self.answer_hover(message):
                self.kept[place] = None
        self.held.clear()

    def release_held(self) -> None:
        """Held hovers go to the server (they stay in ``kept``, in place)."""
        self.held.clear()
        self.waiting_for_settings = False

    # --- the messages -------------------------------------------------------------------

    def serve(self, loaded: threading.Event, wake: int) -> None:
        """Read and handle messages until ``loaded`` is set (``wake`` then turns readable),
        the input ends, or a message cannot be framed."""
        while not loaded.is_set():
            try:
                if not self.source.buffered():
                    ready, _, _ = select.select([self.fd, wake], [], [])
                    if wake in ready:
                        return
                frame = read_frame(self.source)
            except (OSError, ValueError):
                return  # the server's reader meets the same end and reports it
            if frame is None:
                return
            if frame.error is not None:
                self.kept.append(frame)  # the server answers it and reads past the body
                return
            try:
                taken = self.handle(frame)
            except Exception:  # noqa: BLE001 - the server handles it, and all that follows
                log.debug("stopped answering hovers early", exc_info=True)
                self.close_library()
                taken = False
            if not taken:
                self.kept.append(frame)

    def handle(self, frame: Frame) -> bool:
        """Handle one message; whether it was taken here (else it is kept for the server)."""
        try:
            message = json.loads(frame.body or b"")
        except (ValueError, RecursionError):
            return False
        if not isinstance(message, dict):
            return False
        method = message.get("method")
        params = message.get("params")
        if "method" not in message and message.get("id") == CONFIGURATION_REQUEST_ID:
            self.use_client_settings(_first(message.get("result")))
            return True
        if method == "textDocument/hover" and self.library is not None:
            if self.waiting_for_settings and _is_hover(message):
                self.held[message["id"]] = len(self.kept)
                return False
            return self.answer_hover(message)
        if method == "$/cancelRequest" and isinstance(params, dict):
            cancelled = params.get("id")
            if isinstance(cancelled, (int, str)) and cancelled in self.answered:
                return True  # answered already: nothing to cancel
            if isinstance(cancelled, (int, str)):
                self.held.pop(cancelled, None)  # the server answers it, cancelled
        elif method == "initialized" and self.waiting_for_settings and not self.asked:
            self.asked = True
            self._send(
                {
                    "jsonrpc": "2.0",
                    "id": CONFIGURATION_REQUEST_ID,
                    "method": "workspace/configuration",
                    "params": {"items": [{"section": "lore"}]},
                }
            )
        elif method in ("shutdown", "exit"):
            self.close_library()  # what follows is the server's to refuse
        elif isinstance(params, dict) and message.get("jsonrpc") == "2.0" and "id" not in message:
            self._track_document(method, params)  # as the server will (it refuses the rest)
        return False

    def _track_document(self, method: Any, params: dict[str, Any]) -> None:
        document = params.get("textDocument")
        uri = document.get("uri") if isinstance(document, dict) else None
        if not isinstance(uri, str):
            return
        if method == "textDocument/didOpen" and isinstance(document.get("text"), str):
            self.documents[uri] = document["text"]
        elif method == "textDocument/didChange":
            changes = params.get("contentChanges")
            changes = changes if isinstance(changes, list) else []
            whole = [c.get("text") for c in changes if isinstance(c, dict) and "range" not in c]
            if whole and len(whole) == len(changes) and all(isinstance(t, str) for t in whole):
                self.documents[uri] = whole[-1]
            else:
                self.documents.pop(uri, None)  # an edit of a range: the server applies it
        elif method == "textDocument/didClose":
            self.documents.pop(uri, None)

    def answer_hover(self, message: dict[str, Any]) -> bool:
        """Answer a hover request as the server would; False to leave it to the server."""
        if not _is_hover(message) or self.library is None:
            return False
        params = message["params"]
        uri = params["textDocument"]["uri"]
        text = self.documents.get(uri)
        if text is None:
            return False  # not opened: the server reads it, within the workspace only
        if uri.startswith("file:") and file_path(uri) is None:
            return False  # a file on another host, as the server names it
        try:
            markdown = self._hover_markdown(uri, text, **params["position"])
        except Exception:  # noqa: BLE001 - the server answers it instead
            log.debug("could not answer a hover early", exc_info=True)
            return False
        result = None if markdown is None else {"contents": {"kind": "markdown", "value": markdown}}
        self._send({"jsonrpc": "2.0", "id": message["id"], "result": result})
        self.answered.add(message["id"])
        return True

    def _hover_markdown(self, uri: str, text: str, line: int, character: int) -> str | None:
        """What ``lore.lsp.hover`` shows at this place, from the same functions."""
        from lore.kb import lookup
        from lore.lsp import pages

        lines = text.splitlines()
        current = lines[line] if line < len(lines) else None
        if not current:
            return None
        if self.settings.hover.enabled:
            following = lines[line + 1] if line + 1 < len(lines) else None
            on_heading = pages.is_heading_line(current, following)
            path = file_path(uri)
            if path is not None and (on_heading or pages.may_hold_link(current)):
                page = pages.parse_text(path, text)
                inside = (
                    pages.hover_in_page(
                        self.library, self.settings, page, line, character, on_heading
                    )
                    if page is not None
                    else None
                )
                if inside is not None:
                    return inside.markdown
        word = lookup.word_at(current, character)
        if not word:
            return None
        info = lookup.hover_for(self.library, word, self.settings)
        return info.markdown if info else None

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        self.stdout.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.stdout.flush()

    def hand_over(self) -> None:
        """Give the server the reader and the messages it must handle."""
        self.close_library()
        self.early.source = self.source
        self.early.unanswered = [frame for frame in self.kept if frame is not None]


def _is_hover(message: dict[str, Any]) -> bool:
    """A well-formed hover request (anything else is the server's to refuse)."""
    request_id = message.get("id")
    params = message.get("params")
    if message.get("jsonrpc") != "2.0" or not isinstance(params, dict):
        return False
    if isinstance(request_id, bool) or not isinstance(request_id, (int, str)):
        return False
    document, position = params.get("textDocument"), params.get("position")
    if not (isinstance(document, dict) and isinstance(document.get("uri"), str)):
        return False
    if not (isinstance(position, dict) and set(position) == {"line", "character"}):
        return False
    return all(
        isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**31 for v in position.values()
    )


def _local(settings: Any) -> bool:
    """Whether the knowledge base is the local index (not a shared one, ``kb.url``)."""
    return settings.kb.url is None


def _first(result: Any) -> Any:
    return result[0] if isinstance(result, list) and result else None


def _workspace_paths(params: dict[str, Any]) -> list[Path]:
    """The workspace folders' paths, or the root URI's (as the server takes them)."""
    folders = params.get("workspaceFolders")
    uris = (
        [f.get("uri") for f in folders if isinstance(f, dict)] if isinstance(folders, list) else []
    )
    if not uris and isinstance(params.get("rootUri"), str):
        uris = [params["rootUri"]]
    return [p for p in (file_path(u) for u in uris if isinstance(u, str)) if p is not None]


def file_path(uri: str) -> Path | None:
    """The local path of a ``file:`` URI without a host, else None (the server's reading of
    any other is left to it)."""
    parsed = urlparse(uri)
    if parsed.scheme != "file" or parsed.netloc or os.name != "posix":
        return None
    return Path(unquote(parsed.path)) if parsed.path else None
