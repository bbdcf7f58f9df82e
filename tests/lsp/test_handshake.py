"""`lore serve` answers `initialize` from its record before loading pygls, and then serves as
usual: a real server over stdio, started twice."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from lore.lsp import handshake

from .conftest import Gate, RawServer


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps({"jsonrpc": "2.0", **message}).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def test_the_first_message_is_read_whole_and_nothing_read_is_lost() -> None:
    first, second = frame({"id": 1, "method": "initialize"}), frame({"method": "initialized"})
    read_end, write_end = os.pipe()
    os.write(write_end, first[:10])  # a message may arrive in pieces
    os.write(write_end, first[10:] + second)
    os.close(write_end)
    raw, message = handshake.read_first_message(read_end)
    os.close(read_end)
    assert message == {"jsonrpc": "2.0", "id": 1, "method": "initialize"}
    assert raw == first + second  # what followed goes to the server's reader with it


def test_a_client_that_does_not_start_with_initialize_is_left_to_the_server() -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, frame({"id": 7, "method": "shutdown"}))
    os.close(write_end)
    early = handshake.answer_early(read_end, io.BytesIO())
    os.close(read_end)
    assert (early.key, early.answered) == (None, None)


def read_message(stream: Any) -> dict[str, Any] | None:
    length = 0
    while True:
        line = stream.readline()
        if not line:
            return None
        if line == b"\r\n":
            break
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return json.loads(stream.read(length))


class Session:
    def __init__(self, root: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "lore", "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=root,
        )

    def send(self, message: dict[str, Any]) -> None:
        self.process.stdin.write(frame(message))
        self.process.stdin.flush()

    def response(self, request_id: int) -> dict[str, Any]:
        while True:  # notifications (log messages, diagnostics) come in between
            message = read_message(self.process.stdout)
            assert message is not None, "the server closed its output"
            if message.get("id") == request_id and "method" not in message:
                return message

    def close(self) -> None:
        self.send({"id": 99, "method": "shutdown"})
        self.response(99)
        self.send({"method": "exit"})
        self.process.wait(timeout=30)


def start(root: Path) -> tuple[Session, dict[str, Any]]:
    session = Session(root)
    params = {"processId": None, "rootUri": root.as_uri(), "capabilities": {}}
    session.send({"id": 1, "method": "initialize", "params": params})
    answer = session.response(1)["result"]
    session.send({"method": "initialized", "params": {}})
    return session, answer


def symbols(session: Session, query: str) -> list[str]:
    # Wait for the index: the server answers with what it has, so ask until "Handbook" is in.
    for attempt in range(200):
        session.send({"id": 10 + attempt, "method": "workspace/symbol", "params": {"query": query}})
        found = [s["name"] for s in session.response(10 + attempt)["result"] or []]
        if found:
            return found
    return []


def test_the_second_start_answers_from_the_record_and_serves_as_usual(
    linked_root: Path, user_cache_home: Path
) -> None:
    session, first = start(linked_root)
    assert symbols(session, "handbook") == ["Handbook"]
    session.close()
    records = list((user_cache_home / "lore" / "initialize").glob("*.json"))
    assert len(records) == 1
    assert json.loads(records[0].read_text()) == first
    assert first["capabilities"]["referencesProvider"] is True

    session, second = start(linked_root)
    assert second == first
    # pygls saw the same initialize: the workspace, settings and features are all there.
    assert symbols(session, "handbook") == ["Handbook"]
    session.close()


def test_nothing_in_the_workspace_shapes_the_initialize_answer(
    linked_root: Path, tmp_path: Path, monkeypatch
) -> None:
    """The record is keyed by the client and the code only: a workspace whose settings all
    differ from the defaults gets the same answer from the server itself."""
    unusual = tmp_path / "unusual"
    shutil.copytree(linked_root, unusual)
    (unusual / "lore.toml").write_text(
        "[index]\ndir = '.index'\nextensions = ['md']\nwatch = false\n"
        "[hover]\nenabled = false\n[completion]\nenabled = false\nmin_prefix = 4\n"
        "[links]\ndiagnostics = false\nanchors = false\n"
        "[queue]\nworkers = 1\n"
    )
    answers = []
    for n, root in enumerate((linked_root, unusual)):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / f"cache-{n}"))  # no record
        session, answer = start(root)
        session.close()
        answers.append(answer)
    assert answers[0] == answers[1]


class Editor(RawServer):
    """A client that opens a document and hovers right after ``initialized``, as an editor
    that restores its open documents does; it answers ``workspace/configuration`` with
    ``settings`` and records the requests the server sends."""

    def __init__(self, root: Path, settings: Any = None, env: dict[str, str] | None = None):
        super().__init__(root, env)
        self.settings = settings
        self.server_requests: list[str] = []
        params = {"processId": None, "rootUri": root.as_uri(), "capabilities": EDITOR}
        self.send({"id": 1, "method": "initialize", "params": params})
        self.initialize_result = self.response(1)["result"]
        self.send({"method": "initialized", "params": {}})

    def response(self, msg_id: Any, timeout: float = 30) -> dict[str, Any]:
        while True:
            message = self.receive(timeout)
            if "method" in message and "id" in message:
                self.server_requests.append(message["method"])
                items = (message.get("params") or {}).get("items") or []
                result = (
                    [self.settings] * len(items) if "configuration" in message["method"] else None
                )
                self.send({"id": message["id"], "result": result})
            elif message.get("id") == msg_id and "method" not in message:
                return message

    def open(self, path: Path) -> None:
        document = {"uri": path.as_uri(), "languageId": "markdown", "version": 1}
        self.send(
            {
                "method": "textDocument/didOpen",
                "params": {"textDocument": {**document, "text": path.read_text()}},
            }
        )

    def change(self, path: Path, text: str) -> None:
        """Replace the whole text, as editors with full document sync do."""
        document = {"uri": path.as_uri(), "version": 2}
        changes = [{"text": text}]
        self.send(
            {
                "method": "textDocument/didChange",
                "params": {"textDocument": document, "contentChanges": changes},
            }
        )

    def hover(self, msg_id: int, path: Path, line: int, character: int) -> str | None:
        position = {"line": line, "character": character}
        self.send(
            {
                "id": msg_id,
                "method": "textDocument/hover",
                "params": {"textDocument": {"uri": path.as_uri()}, "position": position},
            }
        )
        result = self.response(msg_id)["result"]
        return result["contents"]["value"] if result else None

    def symbols(self, query: str) -> list[str]:
        for msg_id in range(100, 300):  # the server answers with what it has: ask until it is in
            self.send({"id": msg_id, "method": "workspace/symbol", "params": {"query": query}})
            found = [s["name"] for s in self.response(msg_id)["result"] or []]
            if found:
                return found
        return []

    def close(self) -> None:
        self.send({"id": "bye", "method": "shutdown"})
        self.response("bye")
        self.send({"method": "exit"})
        assert self.proc.wait(timeout=30) == 0


EDITOR = {"workspace": {"configuration": True}, "window": {"workDoneProgress": True}}


def test_the_first_hover_does_not_wait_for_the_server_to_load(
    linked_root: Path, user_cache_home: Path, tmp_path: Path
) -> None:
    editor = Editor(linked_root, settings={})  # the first start records initialize's answer
    assert editor.symbols("handbook") == ["Handbook"]
    editor.close()

    gate = Gate(tmp_path)
    editor = Editor(linked_root, settings={}, env=gate.env)  # pygls cannot load: held back
    index = linked_root / "index.md"
    editor.open(index)
    first = editor.hover(2, index, 2, 14)  # [the queue](guide/queue.md)
    assert first is not None and first.startswith("**Request queue**")
    assert "orders work by priority" in first
    assert editor.server_requests == ["workspace/configuration"]  # for the editor's settings
    editor.change(index, "# Handbook\n\nSee [the cache](cache.md).\n")
    edited = editor.hover(6, index, 2, 8)  # the buffer as edited, not the file
    assert edited is not None and edited.startswith("**Response cache**")

    gate.open()  # the server loads, takes over, and answers the same
    assert editor.symbols("handbook") == ["Handbook"]
    assert "window/workDoneProgress/create" in editor.server_requests
    assert editor.hover(7, index, 2, 8) == edited
    editor.close()


def test_the_first_hover_follows_the_editors_settings(
    linked_root: Path, user_cache_home: Path, tmp_path: Path
) -> None:
    settings = {"hover": {"enabled": False}}
    editor = Editor(linked_root, settings=settings)
    assert editor.symbols("handbook") == ["Handbook"]
    editor.close()

    gate = Gate(tmp_path)
    editor = Editor(linked_root, settings=settings, env=gate.env)
    index = linked_root / "index.md"
    editor.open(index)
    assert editor.hover(2, index, 2, 14) is None  # hovers are off in the editor's settings
    gate.open()
    assert editor.symbols("handbook") == ["Handbook"]
    editor.close()
