"""A small LSP client for measuring: JSON-RPC over a subprocess's stdio, timed at the client.

It answers the requests a server sends (configuration, progress tokens, registrations) the
way an editor would, and counts `$/progress` ends so a benchmark can wait for indexing.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from pathlib import Path
from typing import Any

REQUEST_CANCELLED = -32800


class LspClient:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self.progress_ends = 0
        self._progress_event = asyncio.Event()
        self.messages: list[str] = []
        self.cancelled = 0
        """Requests answered RequestCancelled: superseded by a newer one, as designed."""
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, command: list[str], cwd: Path | None = None) -> LspClient:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            cwd=cwd,
        )
        return cls(process)

    @property
    def pid(self) -> int:
        return self.process.pid

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        while True:
            length = 0
            while True:
                line = await stdout.readline()
                if not line:
                    self._fail_pending()
                    return
                line = line.strip()
                if not line:
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            message = json.loads(await stdout.readexactly(length))
            self._dispatch(message)

    def _fail_pending(self) -> None:
        """The server went away: no answer will come to what is still waiting."""
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError("the server exited"))
        self._pending.clear()

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "method" in message and "id" in message:  # a request from the server
            method = message["method"]
            result: Any = None
            if method == "workspace/configuration":
                result = [{} for _ in message["params"]["items"]]
            self._send({"id": message["id"], "result": result})
        elif "method" in message:
            if (
                message["method"] == "$/progress"
                and message["params"]["value"].get("kind") == "end"
            ):
                self.progress_ends += 1
                self._progress_event.set()
            elif message["method"] == "window/showMessage":
                self.messages.append(message["params"]["message"])
        else:
            future = self._pending.pop(message["id"], None)
            if future is not None and not future.done():
                future.set_result(message)

    async def request(self, method: str, params: Any) -> tuple[Any, float, bool]:
        """``(result, round-trip seconds, ok)``."""
        msg_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        started = time.perf_counter()
        self._send({"id": msg_id, "method": method, "params": params})
        message = await future
        elapsed = time.perf_counter() - started
        error = message.get("error")
        if error is not None and error.get("code") == REQUEST_CANCELLED:
            self.cancelled += 1
            return None, elapsed, True
        return message.get("result"), elapsed, error is None

    def notify(self, method: str, params: Any) -> None:
        self._send({"method": method, "params": params})

    async def initialize(self, root: Path, options: dict | None = None) -> None:
        capabilities = {
            "window": {"workDoneProgress": True},
            "workspace": {"configuration": True, "workspaceFolders": True},
            "textDocument": {"hover": {"contentFormat": ["markdown", "plaintext"]}},
        }
        await self.request(
            "initialize",
            {
                "processId": None,
                "rootUri": root.as_uri(),
                "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
                "capabilities": capabilities,
                "initializationOptions": options or {},
            },
        )
        self.notify("initialized", {})

    async def wait_for_progress_end(self, count: int = 1, timeout: float = 600) -> None:
        async def wait() -> None:
            while self.progress_ends < count:
                self._progress_event.clear()
                await self._progress_event.wait()

        await asyncio.wait_for(wait(), timeout)

    def open(self, path: Path, language: str, text: str) -> None:
        self.notify(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": path.as_uri(),
                    "languageId": language,
                    "version": 1,
                    "text": text,
                }
            },
        )

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.request("shutdown", None), 10)
            self.notify("exit", None)
            await asyncio.wait_for(self.process.wait(), 10)
        except (TimeoutError, ConnectionError):
            self.process.kill()
        self._reader.cancel()
