"""`lore serve --tcp`: loopback only, and nothing is served before the token is shown."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import SERVER

TOKEN = "a-test-token-of-some-length"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Connection:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.reader = self.sock.makefile("rb")

    def send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def receive(self) -> dict:
        length = 0
        while (line := self.reader.readline().strip()) != b"":
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return json.loads(self.reader.read(length))

    def reply_to(self, msg_id: int) -> dict:
        while (message := self.receive()).get("id") != msg_id or "method" in message:
            pass
        return message

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


@pytest.fixture
def tcp_server(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen(
        [*SERVER, "--tcp", f"127.0.0.1:{port}"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        env={**os.environ, "LORE_TCP_TOKEN": TOKEN},
    )
    assert proc.stderr is not None
    try:
        while b"listening on 127.0.0.1" not in proc.stderr.readline():  # the server is ready
            assert proc.poll() is None, "lore serve --tcp stopped"
        yield port
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()


def initialize(token: str | None) -> dict:
    options = {"token": token, "hover": {"enabled": True}} if token else {}
    return {
        "method": "initialize",
        "params": {
            "processId": None,
            "rootUri": None,
            "capabilities": {},
            **({"initializationOptions": options} if options else {}),
        },
    }


def test_nothing_is_served_before_the_token(tcp_server: int) -> None:
    conn = Connection(tcp_server)
    try:
        conn.send({"id": 1, "method": "lore/status", "params": {}})
        assert conn.reply_to(1)["error"]["code"] == -32002
        conn.send({"id": 2, **initialize(None)})
        refused = conn.reply_to(2)
        assert "token" in refused["error"]["message"] and "result" not in refused
        conn.send({"id": 3, **initialize("wrong")})
        assert "error" in conn.reply_to(3)

        conn.send({"id": 4, **initialize(TOKEN)})
        answer = conn.reply_to(4)
        assert answer["result"]["serverInfo"]["name"] == "lore"
        assert answer["result"]["capabilities"]["hoverProvider"]
    finally:
        conn.close()


def test_a_second_client_is_turned_away(tcp_server: int) -> None:
    first = Connection(tcp_server)
    try:
        first.send({"id": 1, **initialize(TOKEN)})
        assert "result" in first.reply_to(1)
        with pytest.raises(ConnectionRefusedError):  # nothing listens any more
            socket.create_connection(("127.0.0.1", tcp_server), timeout=30)
    finally:
        first.close()


@pytest.mark.parametrize("address", ["0.0.0.0:2087", "192.0.2.1:2087", "example.com:2087"])
def test_only_loopback_addresses_are_accepted(address: str) -> None:
    done = subprocess.run([*SERVER, "--tcp", address], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "loopback" in done.stderr


def test_the_token_is_made_and_shown_when_none_is_given(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LORE_TCP_TOKEN"}
    proc = subprocess.Popen(
        [*SERVER, "--tcp", f"localhost:{free_port()}"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    try:
        line = proc.stderr.readline()
        assert "TCP token" in line and len(line.rsplit(" ", 1)[1].strip()) >= 40
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
