"""A real `lore serve` over stdio, driven by pytest-lsp, as VS Code and as Neovim."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Union

import pytest
import pytest_lsp
from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.exceptions import JsonRpcException
from pygls.protocol import default_converter
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import register_lsp_features

from conftest import index_shared
from support.workspace import add_code_file

SERVER = [sys.executable, "-m", "lore", "serve"]
CLIENTS = ["visual_studio_code", "neovim"]
OWN_PROFILES = Path(__file__).with_name("clients")
"""Capabilities of clients pytest-lsp has no snapshot of, in its format (``NAME_vVERSION``)."""


def capabilities(spec: str) -> types.ClientCapabilities:
    """The capabilities a client sends: ``eglot@1.9`` from ``OWN_PROFILES``, else pytest-lsp's."""
    name, _, version = spec.partition("@")
    own = OWN_PROFILES / f"{name}_v{version}.json"
    if version and own.exists():
        snapshot = json.loads(own.read_text())
        return get_converter().structure(snapshot["capabilities"], types.ClientCapabilities)
    return client_capabilities(spec)


def _command_or_code_action(item: Any, _: type) -> types.Command | types.CodeAction:
    """A code-action item as what it is. lsprotocol reads any item with a ``command`` key as a
    bare ``Command``, so a ``CodeAction`` that runs a command would lose its title and kind."""
    kind = types.Command if isinstance(item.get("command"), str) else types.CodeAction
    return default_converter().structure(item, kind)


def _converter():
    converter = default_converter()
    converter.register_structure_hook(
        Union[types.Command, types.CodeAction],  # noqa: UP007 (the key lsprotocol registers)
        _command_or_code_action,
    )
    return converter


def make_client() -> LanguageClient:
    """pytest-lsp's test client, reading code actions as the editors do."""
    client = LanguageClient(converter_factory=_converter)
    register_lsp_features(client)
    return client


CLIENT = {"server_command": SERVER, "client_factory": make_client}


# Fast reactions for tests: no debounce on file changes.
INIT_OPTIONS = {"index": {"debounce_ms": 0}}


async def wait_for(
    client: LanguageClient, method: str, done: Callable[[], bool], timeout: float = 30
) -> None:
    """Wait until ``done()`` holds, re-checking each time ``method`` arrives."""

    async def loop() -> None:
        while not done():
            await client.wait_for_notification(method)

    await asyncio.wait_for(loop(), timeout)


def plain(value):
    """A custom response as plain data (pygls hands it over as named tuples)."""
    if hasattr(value, "_asdict"):
        return {k: plain(v) for k, v in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


async def request(client: LanguageClient, method: str, params: dict):
    return plain(await client.protocol.send_request_async(method, params))


async def settled(futures: list) -> list:
    """Each future's result, or the error it ended with."""
    outcomes = []
    for future in futures:
        try:
            outcomes.append(await asyncio.wrap_future(future))
        except JsonRpcException as exc:
            outcomes.append(exc)
    return outcomes


def is_cancelled(outcome: object) -> bool:
    return isinstance(outcome, JsonRpcException) and outcome.code == -32800


def progress_ends(client: LanguageClient) -> int:
    return sum(
        isinstance(v, types.WorkDoneProgressEnd)
        for reports in client.progress_reports.values()
        for v in reports
    )


async def start(
    client: LanguageClient, root: Path, spec: str, options: dict[str, Any] | None = None
) -> None:
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities(spec),
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            initialization_options=options or INIT_OPTIONS,
        )
    )
    # The first index reports progress; its end means every file is searchable.
    await wait_for(client, "$/progress", lambda: progress_ends(client) >= 1)


@pytest.fixture
def workspace(kb_root: Path) -> Path:
    add_code_file(kb_root)
    return kb_root


# Each client on the local backend, and one client on a shared knowledge base in PostgreSQL
# (what the backend changes does not depend on the client).
CLIENT_BACKENDS = [(spec, "local") for spec in CLIENTS] + [("visual_studio_code", "postgresql")]


def backend_options(request: pytest.FixtureRequest, backend: str, workspace: Path) -> dict:
    """The initialization options that serve ``workspace`` from ``backend``: for PostgreSQL,
    the workspace is first indexed into a new database by the team's indexer, and the editor
    settings name it in ``kb.url``."""
    if backend == "local":
        return INIT_OPTIONS
    url = request.getfixturevalue("shared_url")
    index_shared(workspace, url)
    return {**INIT_OPTIONS, "kb": {"url": url}}


@pytest_lsp.fixture(
    config=ClientServerConfig(**CLIENT),
    params=CLIENT_BACKENDS,
    ids=[f"{spec}-{backend}" for spec, backend in CLIENT_BACKENDS],
)
async def client(request: pytest.FixtureRequest, lsp_client: LanguageClient, workspace: Path):
    spec, backend = request.param
    await start(lsp_client, workspace, spec, backend_options(request, backend, workspace))
    yield
    await lsp_client.shutdown_session()


class RawServer:
    """`lore serve` spoken to byte by byte, for what a well-behaved client never sends.

    A thread reads every message the server writes, so that a missing answer fails the test
    after ``timeout`` seconds instead of hanging it.
    """

    def __init__(self, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            SERVER,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env={**os.environ, **(env or {})},
        )
        self.messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.stderr: list[bytes] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        while True:
            length = 0
            while (line := self.proc.stdout.readline()).strip() != b"":
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if not line:
                self.messages.put(None)
                return
            self.messages.put(json.loads(self.proc.stdout.read(length)))

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def send_bytes(self, body: bytes) -> None:
        self.send_raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def send_raw(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message: dict) -> None:
        self.send_bytes(json.dumps({"jsonrpc": "2.0", **message}).encode())

    def receive(self, timeout: float = 30) -> dict:
        message = self.messages.get(timeout=timeout)
        assert message is not None, "the server closed its output"
        return message

    def response(self, msg_id: Any, timeout: float = 30) -> dict:
        """The response to ``msg_id``, answering the server's own requests meanwhile."""
        while True:
            message = self.receive(timeout)
            if "method" in message:
                if "id" in message:  # a request from the server: answer as a plain client
                    self.send({"id": message["id"], "result": None})
                continue
            if message.get("id") == msg_id:
                return message

    def initialize(self, root: Path, msg_id: int = 1) -> dict:
        self.send(
            {
                "id": msg_id,
                "method": "initialize",
                "params": {"processId": None, "rootUri": root.as_uri(), "capabilities": {}},
            }
        )
        result = self.response(msg_id)["result"]
        self.send({"method": "initialized", "params": {}})
        return result

    def wait_until_indexed(self, first_id: int = 10_000) -> None:
        """Ask for the status until the first index is done (each ask is a round trip)."""
        for msg_id in range(first_id, first_id + 1000):
            self.send({"id": msg_id, "method": "lore/status", "params": {}})
            if self.response(msg_id)["result"]["index"]["state"]["state"] == "ready":
                return
        raise AssertionError("the first index never finished")

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


HELD_PYGLS = Path(__file__).with_name("held_pygls")


class Gate:
    """A FIFO that holds ``import pygls`` and ``lsprotocol`` back in a server started with
    ``env`` (see ``held_pygls/sitecustomize.py``) until ``open`` is called."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "pygls-gate"
        os.mkfifo(self.path)
        path = os.pathsep.join(filter(None, [str(HELD_PYGLS), os.environ.get("PYTHONPATH")]))
        self.env = {"PYTHONPATH": path, "LORE_TEST_PYGLS_GATE": str(self.path)}

    def open(self, timeout: float = 30) -> None:
        """Let the server import them: once it waits at the gate, which it reaches as soon
        as it starts loading (a server that never does fails the test)."""
        opener = threading.Thread(target=lambda: os.close(os.open(self.path, os.O_WRONLY)))
        opener.daemon = True
        opener.start()
        opener.join(timeout)
        assert not opener.is_alive(), "the server never tried to load pygls"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``local_backend`` are about the server indexing its own folder (file
    changes, saves, the reindex command) or about the protocol whatever the storage: they run
    on the local backend only."""
    deselected = [
        item
        for item in items
        if item.get_closest_marker("local_backend") and "postgresql" in item.nodeid
    ]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item not in deselected]
