"""Where the LLM shows: `lore ask` on a terminal streams tokens as they come, and `lore/status`
names the configured provider before the first question."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from support.chat_server import ChatServer, Reply

SERVER = [sys.executable, "-m", "lore", "serve"]


def llm_environment(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "LORE_LLM__PROVIDER": "openai",
        "LORE_LLM__ENDPOINTS": json.dumps([{"base_url": url, "model": "tiny"}]),
    }


def read_until(fd: int, wanted: bytes, timeout: float = 30) -> bytes:
    seen = b""
    end = time.monotonic() + timeout
    while wanted not in seen and time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the terminal closed: the process is gone
                break
            if not chunk:
                break
            seen += chunk
    return seen


def test_lore_ask_streams_tokens_to_a_terminal(kb_root: Path, chat_server: ChatServer) -> None:
    gate = threading.Event()
    chat_server.replies.append(
        Reply(text="The settlement window runs from 02:00 to 04:00 UTC [1].", stream_gate=gate)
    )
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "lore", "ask", "What is the settlement window?", "--root", kb_root],
        stdin=subprocess.DEVNULL,
        stdout=secondary,
        stderr=subprocess.PIPE,
        env=llm_environment(chat_server.url),
    )
    os.close(secondary)
    try:
        # The first token is on the terminal while the model is still writing the rest.
        shown = read_until(primary, b"The")
        assert b"The" in shown and process.poll() is None
        gate.set()
        shown += read_until(primary, b"openai:tiny")
        assert process.wait(30) == 0, process.stderr.read() if process.stderr else ""
    finally:
        gate.set()
        os.close(primary)
        if process.poll() is None:
            process.kill()
    text = shown.decode(errors="replace")
    assert "02:00 to 04:00 UTC [1]." in text and "glossary/terms.md" in text


def test_lore_ask_into_a_pipe_prints_the_answer_once(
    kb_root: Path, chat_server: ChatServer
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lore", "ask", "What is the settlement window?", "--root", kb_root],
        capture_output=True,
        text=True,
        env=llm_environment(chat_server.url),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("02:00 to 04:00 UTC") == 1


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient, kb_root: Path, chat_server: ChatServer):
    llm = {"provider": "openai", "endpoints": [{"base_url": chat_server.url, "model": "tiny"}]}
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual_studio_code"),
            root_uri=kb_root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=kb_root.as_uri(), name="kb")],
            initialization_options={"index": {"debounce_ms": 0}, "llm": llm},
        )
    )

    def indexed() -> bool:
        reports = lsp_client.progress_reports.values()
        return any(isinstance(v, types.WorkDoneProgressEnd) for r in reports for v in r)

    while not indexed():  # the first index ends with a progress report
        await asyncio.wait_for(lsp_client.wait_for_notification("$/progress"), 30)
    yield
    await lsp_client.shutdown_session()


@pytest.mark.asyncio
async def test_status_shows_the_configured_provider_before_the_first_ask(
    client: LanguageClient, chat_server: ChatServer
) -> None:
    status = await client.protocol.send_request_async("lore/status", {})
    providers = status.providers if hasattr(status, "providers") else status["providers"]
    provider = providers.provider if hasattr(providers, "provider") else providers["provider"]
    assert provider == "openai"
    assert chat_server.requests == []  # showing the status asks the model nothing


@pytest.mark.asyncio
async def test_a_cancel_during_prompt_processing_closes_the_request_at_once(
    client: LanguageClient, chat_server: ChatServer
) -> None:
    # llama-cpp-python: headers at once, then a ping every 15 s while it reads the prompt.
    chat_server.replies.append(Reply(pings_s=60, ping_every_s=15))
    future = client.protocol.send_request(
        "lore/ask", {"question": "What is the settlement window?"}, msg_id="ask-prefill"
    )
    assert await asyncio.to_thread(chat_server.received.wait, 30)  # the model has the prompt
    cancelled_at = time.monotonic()
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="ask-prefill"))
    with pytest.raises(JsonRpcException):
        await asyncio.wrap_future(future)
    assert await asyncio.to_thread(chat_server.disconnected.wait, 5)
    (gone,) = chat_server.disconnects
    assert gone.phase == "pings" and gone.at - cancelled_at < 1.0
