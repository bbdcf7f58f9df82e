"""JSON-RPC as Lore speaks it: bounded framing, and an answer for every request with an id.

pygls reads a frame of whatever size the ``Content-Length`` header claims (a claim of 100 TB
ended the server with ``MemoryError``), and drops without a word the requests it cannot read: a
missing or wrong ``jsonrpc``, params nested past Python's recursion limit, a notification
method sent with an id, anything after ``shutdown``. Here the frame size is capped, and each of
those requests gets an error response instead, so that no client waits forever.

The life cycle follows the LSP specification: a second ``initialize`` is an error, a repeated
``initialized`` is ignored, a request after ``shutdown`` is ``InvalidRequest``, and ``exit``
ends the process with 0 after ``shutdown`` and 1 without it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from collections.abc import Callable, Generator, Sequence
from typing import Any, BinaryIO

import attrs
from lsprotocol import types
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInvalidRequest,
    JsonRpcParseError,
)
from pygls.protocol import LanguageServerProtocol, lsp_method

from lore.lsp.framing import (
    FdSource,
    Frame,
    Source,
    read_frame,
    skip,
)

log = logging.getLogger("lore.lsp")


class StrictProtocol(LanguageServerProtocol):
    """pygls's protocol held to JSON-RPC and to the LSP life cycle: what a message must be,
    and when it may come."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._initialize_received = False
        self._initialized_received = False

    # --- receiving ------------------------------------------------------------------------

    def receive(self, body: bytes) -> None:
        """Parse and handle one message body."""
        try:
            data = json.loads(body)
        except RecursionError:
            self.reject(
                _top_level_id(body),
                JsonRpcInvalidRequest("the message is nested too deeply to be read"),
            )
            return
        except ValueError as exc:  # not JSON, or not UTF-8
            self.reject(None, JsonRpcParseError(f"the message is not JSON: {exc}"))
            return
        self.accept(data)

    def accept(self, data: Any) -> None:
        """Check one parsed message against JSON-RPC and the life cycle, then handle it."""
        if not isinstance(data, dict):
            self.reject(None, JsonRpcInvalidRequest("a message is a JSON object"))
            return
        if "method" not in data:
            if data.get("jsonrpc") == self.VERSION and _valid_id(data.get("id")):
                self._structure_and_handle(data)  # a response to one of the server's requests
            else:
                log.warning("ignored a message that is neither a request nor a response")
            return
        method = data["method"]
        is_request = "id" in data
        problem = _problem(data)
        if problem is None and self._shutdown and method != types.EXIT:
            problem = "the server is shutting down"
        if problem is not None:
            if is_request:
                msg_id = data["id"] if _valid_id(data["id"]) else None
                self.reject(msg_id, JsonRpcInvalidRequest(problem))
            else:
                log.warning("ignored %r: %s", method, problem)
            return
        data.setdefault("params", None)  # JSON-RPC lets it be left out; pygls's types need it
        self._structure_and_handle(data)

    def _structure_and_handle(self, data: dict[str, Any]) -> None:
        try:
            message = self.structure_message(data)
        except JsonRpcException:
            return  # answered by structure_message when it was a request
        self.handle_message(message)

    def structure_message(self, data: dict[str, Any]) -> Any:
        # pygls reports params it cannot read out of band; the client needs an answer.
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if "id" in data and "method" in data:
                self.reject(data["id"], exc)
            elif "method" not in data and (
                waiting := self._request_futures.pop(data.get("id"), None)
            ):
                # A reply to one of the server's requests that cannot be read: the handler
                # that waits for it fails now, rather than wait (and leave its client waiting).
                if not waiting.done():
                    waiting.set_exception(exc)
            else:
                log.warning("ignored a malformed %r: %s", data.get("method"), exc)
            raise

    def reject(self, msg_id: Any, error: JsonRpcException) -> None:
        """Answer request ``msg_id`` (None when it cannot be known) with ``error``."""
        log.warning("refused a message (id %r): %s", msg_id, error.message)
        self._send_response(msg_id, None, error.to_response_error())

    # --- the life cycle ---------------------------------------------------------------------

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Generator[Any, Any, Any]:
        if self._initialize_received:
            # pygls would replace the workspace and re-run start-up under the running server.
            raise JsonRpcInvalidRequest("the server is already initialized")
        self._initialize_received = True
        return (yield from super().lsp_initialize(params))

    @lsp_method(types.INITIALIZED)
    def lsp_initialized(self, *args: Any) -> Generator[Any, Any, None]:
        if self._initialized_received:
            # Start-up (opening the indexes, the first index) happens once.
            log.warning("ignored a repeated 'initialized'")
            return None
        self._initialized_received = True
        return (yield from super().lsp_initialized(*args))


def _problem(request: dict[str, Any]) -> str | None:
    """What makes a request or notification invalid, or None."""
    if request.get("jsonrpc") != StrictProtocol.VERSION:
        return f'"jsonrpc" must be "2.0", not {request.get("jsonrpc")!r}'
    method = request["method"]
    if not isinstance(method, str):
        return '"method" must be a string'
    if "id" in request:
        if not _valid_id(request["id"]):
            return '"id" must be an integer or a string'
        if _is_notification(method):
            return f"{method!r} is a notification: send it without an id"
    if request.get("params") is not None and not isinstance(request["params"], (dict, list)):
        return '"params" must be an object or an array'
    return None


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _is_notification(method: str) -> bool:
    message_type = types.METHOD_TO_TYPES.get(method, (None,))[0]
    return message_type is not None and "id" not in attrs.fields_dict(message_type)


def _top_level_id(body: bytes) -> int | str | None:
    """The ``id`` of a message too deep for ``json.loads``, found without building it: the
    tokens of its first ``_ID_SCAN_CHARS`` are scanned, and only the outer object is read."""
    text = body[:_ID_SCAN_CHARS].decode("utf-8", errors="replace")
    depth = 0
    key: str | None = None
    expecting_key = False
    for token in _TOKENS.finditer(text):
        value = token.group()
        if value in ("{", "["):
            if depth == 1 and key == "id":
                return None  # an id that is not a scalar
            depth += 1
            expecting_key = depth == 1 and value == "{"
        elif value in ("}", "]"):
            depth -= 1
        elif value == ",":
            expecting_key = depth == 1
            key = None
        elif value != ":" and depth == 1:
            if expecting_key:
                key = value[1:-1] if value.startswith('"') else None
                expecting_key = False
            elif key == "id":
                try:
                    found = json.loads(value)
                except ValueError:
                    return None
                return found if _valid_id(found) else None
    return None


_ID_SCAN_CHARS = 1024 * 1024
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+')


async def serve_frames(
    source: Source,
    protocol: StrictProtocol,
    stop: threading.Event | None = None,
    pending: Sequence[Frame] = (),
) -> None:
    """Read frames from ``source`` on a daemon thread (a thread blocked reading must never hold
    up the process's exit) and hand each to ``protocol`` on the event loop, until the end of
    the stream or ``exit``. ``pending``: frames read from ``source`` before, handled first."""
    loop = asyncio.get_running_loop()
    frames: asyncio.Queue[Frame | None] = asyncio.Queue()

    def deliver(frame: Frame | None) -> bool:
        """Queue ``frame``; whether to read on."""
        try:
            loop.call_soon_threadsafe(frames.put_nowait, frame)
            # An oversized body is read past after its error is on its way, so that the
            # client hears of it even if it never sends the rest.
            if frame is not None and frame.skip and not skip(source, frame.skip):
                loop.call_soon_threadsafe(frames.put_nowait, None)
                return False
        except RuntimeError:
            return False  # the loop is closed: the server has exited
        except (OSError, ValueError) as exc:
            log.info("stopped reading messages: %s", exc)
            loop.call_soon_threadsafe(frames.put_nowait, None)
            return False
        return frame is not None

    def pump() -> None:
        for frame in pending:
            if not deliver(frame):
                return
        while True:
            try:
                frame = read_frame(source)
            except (OSError, ValueError) as exc:  # the stream broke or was closed
                log.info("stopped reading messages: %s", exc)
                frame = None
            if not deliver(frame):
                return

    threading.Thread(target=pump, name="lore-reader", daemon=True).start()
    while stop is None or not stop.is_set():
        frame = await frames.get()
        if frame is None:
            return
        if frame.error is not None:
            protocol.reject(None, JsonRpcInvalidRequest(frame.error))
            continue
        try:
            protocol.receive(frame.body or b"")
        except (SystemExit, KeyboardInterrupt):
            raise
        except Exception:  # noqa: BLE001 - one bad message never ends the server
            log.exception("could not handle a message")


def run_stdio(
    protocol: StrictProtocol,
    stdin: BinaryIO,
    stop: threading.Event,
    on_exit: Callable[[], None],
    *,
    source: Source | None = None,
    pending: Sequence[Frame] = (),
) -> int:
    """Serve over stdio until the stream ends or ``exit``; the process's exit status.
    ``source`` and ``pending``: the reader of ``stdin`` and the frames it read before, when
    ``lore serve`` read some before the server started (``lore.lsp.early``)."""
    if source is None:
        source = FdSource(stdin.fileno())
    try:
        asyncio.run(serve_frames(source, protocol, stop, pending))
    except SystemExit as exc:  # the `exit` notification: 0 after shutdown, else 1
        return exc.code if isinstance(exc.code, int) else 1
    except (KeyboardInterrupt, BrokenPipeError):
        pass
    finally:
        on_exit()
    return 0
