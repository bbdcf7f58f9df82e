"""A real HTTP server on loopback that speaks the chat-completions API, scripted per test."""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    """One scripted reply: a status, a text (streamed in pieces when asked), or a hang."""

    status: int = 200
    text: str = "The settlement window runs from 02:00 to 04:00 UTC. [1]"
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    stream_gate: threading.Event | None = None
    """When set, a streamed reply sends its first token, then waits for this event."""


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
        self.disconnected = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                server.headers.append(dict(self.headers))
                reply = server.replies.popleft() if server.replies else Reply()
                if reply.hang:
                    server.release.wait(30)
                    return
                if reply.status != 200:
                    data = b'{"error": {"message": "scripted failure"}}'
                    self.send_response(reply.status)
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                if body.get("stream"):
                    self._stream(reply, body["model"])
                else:
                    data = json.dumps(
                        {
                            "model": body["model"],
                            "choices": [{"message": {"role": "assistant", "content": reply.text}}],
                            "usage": {"prompt_tokens": 50, "completion_tokens": 12},
                        }
                    ).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

            def _stream(self, reply: Reply, model: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                words = reply.text.split(" ")
                try:
                    for n, word in enumerate(words):
                        piece = word if n == 0 else " " + word
                        event = {"model": model, "choices": [{"delta": {"content": piece}}]}
                        self._chunk(f"data: {json.dumps(event)}\n\n")
                        if n == 0 and reply.stream_gate is not None:
                            reply.stream_gate.wait(30)
                    usage = {
                        "model": model,
                        "choices": [],
                        "usage": {"prompt_tokens": 50, "completion_tokens": len(words)},
                    }
                    self._chunk(f"data: {json.dumps(usage)}\n\n")
                    self._chunk("data: [DONE]\n\n")
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    server.disconnected.set()

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
