"""A real `lore serve` over stdio, driven by pytest-lsp, as VS Code and as Neovim."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

SERVER = [sys.executable, "-m", "lore", "serve"]
CLIENTS = ["visual_studio_code", "neovim"]

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


async def start(client: LanguageClient, root: Path, spec: str) -> None:
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities(spec),
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            initialization_options=INIT_OPTIONS,
        )
    )
    # The first index reports progress; its end means every file is searchable.
    await wait_for(client, "$/progress", lambda: progress_ends(client) >= 1)


@pytest.fixture
def workspace(kb_root: Path) -> Path:
    (kb_root / "src").mkdir()
    (kb_root / "src" / "main.py").write_text(
        "from payments import RequestQueue\n"
        "\n"
        "def settle(self, settlement_window):\n"
        "    queue = RequestQueue()\n"
        "    return queue.pop(self)\n"
    )
    return kb_root


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), params=CLIENTS)
async def client(request: pytest.FixtureRequest, lsp_client: LanguageClient, workspace: Path):
    await start(lsp_client, workspace, request.param)
    yield
    await lsp_client.shutdown_session()
