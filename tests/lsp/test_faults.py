"""The server keeps serving through bad input, and starts on a damaged index."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import client_capabilities
from pytest_lsp.client import make_test_lsp_client

from lore.config import load_settings
from lore.kb.knowledge_base import KnowledgeBase

from .conftest import SERVER, RawServer, progress_ends, start, wait_for


def test_malformed_messages_and_requests_before_initialize(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("# Reconciliation\n\nMatch the ledger to the bank.\n")
    server = RawServer(tmp_path)
    try:
        hover = {"textDocument": {"uri": "file:///x.py"}, "position": {"line": 0, "character": 0}}
        server.send({"id": 1, "method": "textDocument/hover", "params": hover})
        early = server.response(1)
        assert early.get("result") is None
        server.send({"id": 10, "method": "textDocument/hover", "params": {"nonsense": True}})
        assert server.response(10)["error"]["code"] == -32602  # invalid params

        server.send_bytes(b"{this is not json")
        server.send_bytes(b'{"jsonrpc": "2.0", "id": 2, "method": 42}')
        server.send(
            {
                "id": 3,
                "method": "initialize",
                "params": {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {}},
            }
        )
        assert "capabilities" in server.response(3)["result"]
        server.send({"method": "initialized", "params": {}})
        # Ask until the first index is done (each answer is a round trip, no sleeping).
        for msg_id in range(100, 1100):
            server.send({"id": msg_id, "method": "lore/status", "params": {}})
            if server.response(msg_id)["result"]["index"]["state"]["state"] == "ready":
                break

        server.send({"id": 5, "method": "shutdown"})
        assert server.response(5)["result"] is None
        server.send({"method": "exit"})
        # shutdown then exit: the process ends within a second, cleanly ...
        started = time.perf_counter()
        assert server.proc.wait(timeout=5) == 0
        assert time.perf_counter() - started < 1.0
    finally:
        server.proc.kill()
    # ... its index committed and its writer lock released: the next writer finds the page.
    kb = KnowledgeBase.open(tmp_path, load_settings(tmp_path))
    try:
        assert not kb.read_only
        assert [r.chunk.path for r in kb.search("reconciliation ledger", 1)] == ["notes.md"]
    finally:
        kb.close()


@pytest.mark.asyncio
async def test_a_corrupt_index_is_reported_rebuilt_and_served(kb_root: Path) -> None:
    from lore.config import load_settings
    from lore.kb.knowledge_base import KnowledgeBase

    with KnowledgeBase.open(kb_root, load_settings(kb_root)) as kb:
        kb.index()
    (kb_root / ".lore" / "lore.db").write_bytes(b"\x00garbage" * 4096)

    client = make_test_lsp_client()
    await client.start_io(*SERVER, cwd=str(kb_root))
    try:
        await start(client, kb_root, "neovim")
        assert any("rebuilt" in m.message for m in client.messages)
        found = await client.protocol.send_request_async("lore/search", {"query": "ledgerctl"})
        assert found.results[0].path == "runbooks/ledger-outage.md"
    finally:
        await client.shutdown_session()
        await client.stop()


@pytest.mark.asyncio
async def test_a_second_server_follows_the_first(kb_root: Path) -> None:
    writer, follower = make_test_lsp_client(), make_test_lsp_client()
    await writer.start_io(*SERVER)
    await follower.start_io(*SERVER)
    try:
        await start(writer, kb_root, "visual_studio_code")
        await follower.initialize_session(
            types.InitializeParams(
                capabilities=client_capabilities("neovim"),
                root_uri=kb_root.as_uri(),
                workspace_folders=[types.WorkspaceFolder(uri=kb_root.as_uri(), name="kb")],
            )
        )
        await wait_for(follower, "$/progress", lambda: progress_ends(follower) >= 1)
        status = await follower.protocol.send_request_async("lore/status", {})
        assert status.index.bases[0].read_only is True

        page = kb_root / "glossary" / "walrus.md"
        page.write_text("# Walrus protocol\n\nThe **walrus protocol** retries tusks.\n")
        ends = progress_ends(writer)
        writer.workspace_did_change_watched_files(
            types.DidChangeWatchedFilesParams(
                changes=[types.FileEvent(uri=page.as_uri(), type=types.FileChangeType.Created)]
            )
        )
        await wait_for(writer, "$/progress", lambda: progress_ends(writer) > ends)

        async def follower_sees() -> bool:
            found = await follower.protocol.send_request_async(
                "lore/search", {"query": "walrus protocol tusks", "k": 1}
            )
            return bool(found.results) and found.results[0].path == "glossary/walrus.md"

        # The follower checks for the writer's commits on a one-second timer and announces
        # nothing, so ask a few times a second until it has followed, within a deadline.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while not await follower_sees() and loop.time() < deadline:
            await asyncio.sleep(0.1)
        assert await follower_sees()
    finally:
        for client in (follower, writer):
            await client.shutdown_session()
            await client.stop()
