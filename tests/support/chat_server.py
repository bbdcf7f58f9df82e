"""A real HTTP server on loopback that speaks the chat-completions API, scripted per test.

It has the habits of real local servers (llama.cpp, llama-cpp-python, Ollama, vLLM):

- prompt processing ("prefill") that sends no byte for a while, either before the headers
  (Ollama) or after them with SSE comment pings (llama-cpp-python pings every 15 s);
- an empty 200 stream when the prompt does not fit the context (``context_chars``);
- no usage chunk, even when ``include_usage`` is asked for;
- one slot: requests queue behind the one being served (``one_slot``);
- ``Retry-After`` on 429 and 503, redirects, errors inside a 200, and broken replies.

It records when each client hung up (``disconnects``), which is how the tests see that a cancel
or a time limit closed the request at once.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_TEXT = "The settlement window runs from 02:00 to 04:00 UTC. [1]"


@dataclass
class Reply:
    """One scripted reply."""

    status: int = 200
    text: str = DEFAULT_TEXT
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    """Send nothing until the client leaves or the server closes."""
    prefill_s: float = 0.0
    """Seconds of prompt processing before the headers: no byte at all."""
    pings_s: float = 0.0
    """Seconds of prompt processing after the headers, with an SSE comment ping every
    ``ping_every_s`` (streaming only)."""
    ping_every_s: float = 0.05
    token_interval_s: float = 0.0
    """Seconds between streamed tokens."""
    usage: bool = True
    """Send a usage chunk at the end of a stream (many local servers never do)."""
    done: bool = True
    """End the stream with ``data: [DONE]``."""
    body: bytes | None = None
    """Send these bytes as the body, whatever was asked (garbage, an error event)."""
    stream_gate: threading.Event | None = None
    """When set, a streamed reply sends its first token, then waits for this event."""


@dataclass
class Disconnect:
    at: float
    """time.monotonic() when the server saw the client hang up."""
    phase: str
    """Where the reply was: ``prefill`` (before the headers), ``pings`` or ``tokens``."""


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # a client that hangs up mid-stream is what some tests do on purpose


class ChatServer:
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self.release = threading.Event()
        self.received = threading.Event()
        """Set when a chat request has arrived."""
        self.disconnected = threading.Event()
        self.disconnects: list[Disconnect] = []
        self.started: list[float] = []
        """time.monotonic() when each request began to be served (after the slot queue)."""
        self.context_chars: int | None = None
        """Prompts longer than this get an empty 200 stream, as llama-cpp-python sends."""
        self.one_slot = False
        self.models_reply: dict | None = None
        """The body of GET /v1/models (None: 404)."""
        self.props_reply: dict | None = None
        """The body of GET /props (None: 404)."""
        self._slot = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                found = {"/v1/models": server.models_reply, "/props": server.props_reply}
                data = found.get(self.path)
                if data is None:
                    self._send(404, b'{"error": "not found"}')
                else:
                    self._send(200, json.dumps(data).encode())

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                server.headers.append(dict(self.headers))
                server.received.set()
                reply = server.replies.popleft() if server.replies else Reply()
                slot = server._slot if server.one_slot else contextlib.nullcontext()
                with slot:
                    server.started.append(time.monotonic())
                    self._serve(reply, body)

            def _serve(self, reply: Reply, body: dict) -> None:
                if reply.hang:
                    self._hold(3600, "prefill")
                    return
                if reply.prefill_s and not self._hold(reply.prefill_s, "prefill"):
                    return
                if reply.status != 200:
                    failure = reply.body or b'{"error": {"message": "scripted failure"}}'
                    self._send(reply.status, failure, reply)
                    return
                if reply.body is not None:
                    kind = "text/event-stream" if body.get("stream") else "application/json"
                    self._send(200, reply.body, reply, kind)
                    return
                prompt = "".join(m["content"] for m in body["messages"])
                overflow = server.context_chars is not None and len(prompt) > server.context_chars
                if body.get("stream"):
                    self._stream(reply, body["model"], overflow)
                elif overflow:
                    message = {"error": {"message": "Requested tokens exceed context window"}}
                    self._send(400, json.dumps(message).encode(), reply)
                else:
                    data = {
                        "model": body["model"],
                        "choices": [{"message": {"role": "assistant", "content": reply.text}}],
                    }
                    if reply.usage:
                        data["usage"] = {"prompt_tokens": 50, "completion_tokens": 12}
                    self._send(200, json.dumps(data).encode(), reply)

            def _send(
                self,
                status: int,
                data: bytes,
                reply: Reply | None = None,
                kind: str = "application/json",
            ) -> None:
                self.send_response(status)
                for k, v in (reply.headers if reply else {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    self._gone("tokens")

            def _gone(self, phase: str) -> None:
                server.disconnects.append(Disconnect(time.monotonic(), phase))
                server.disconnected.set()

            def _hold(self, seconds: float, phase: str, ping_every: float = 0.0) -> bool:
                """Wait as a server busy with the prompt; False when the client hung up."""
                end = time.monotonic() + seconds
                next_ping = time.monotonic() + ping_every
                while (left := end - time.monotonic()) > 0 and not server.release.is_set():
                    readable, _, _ = select.select([self.connection], [], [], min(left, 0.01))
                    if readable:
                        try:
                            data = self.connection.recv(1, socket.MSG_PEEK)
                        except OSError:
                            data = b""
                        if not data:
                            self._gone(phase)
                            return False
                    if ping_every and time.monotonic() >= next_ping:
                        next_ping += ping_every
                        try:
                            self._chunk(": ping\n\n")
                        except (BrokenPipeError, ConnectionResetError):
                            self._gone(phase)
                            return False
                return not server.release.is_set()

            def _stream(self, reply: Reply, model: str, overflow: bool) -> None:
                self.send_response(200)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    if reply.pings_s and not self._hold(reply.pings_s, "pings", reply.ping_every_s):
                        return
                    if overflow:  # the server gave up on the prompt and says nothing
                        self.wfile.write(b"0\r\n\r\n")
                        return
                    words = reply.text.split(" ") if reply.text else []
                    for n, word in enumerate(words):
                        pause = reply.token_interval_s if n else 0.0
                        if pause and not self._hold(pause, "tokens"):
                            return
                        piece = word if n == 0 else " " + word
                        event = {"model": model, "choices": [{"delta": {"content": piece}}]}
                        self._chunk(f"data: {json.dumps(event)}\n\n")
                        if n == 0 and reply.stream_gate is not None:
                            reply.stream_gate.wait(30)
                    if reply.usage:
                        usage = {
                            "model": model,
                            "choices": [],
                            "usage": {"prompt_tokens": 50, "completion_tokens": len(words)},
                        }
                        self._chunk(f"data: {json.dumps(usage)}\n\n")
                    if reply.done:
                        self._chunk("data: [DONE]\n\n")
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    self._gone("tokens")

            def _chunk(self, text: str) -> None:
                data = text.encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class UnacceptedListener:
    """A loopback port whose backlog is full: a new connection hangs in its handshake, as a
    connection to a busy or far-away host does."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(0)
        port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/v1"
        self._fillers: list[socket.socket] = []
        # Linux queues backlog + 1 connections; fill the queue so the next SYN is dropped.
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            self._fillers.append(filler)

    def close(self) -> None:
        for filler in self._fillers:
            filler.close()
        self.socket.close()
