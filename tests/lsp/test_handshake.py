"""`lore serve` answers `initialize` from its record before loading pygls, and then serves as
usual: a real server over stdio, started twice."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from lore.lsp import handshake


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
