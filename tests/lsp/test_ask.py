"""`lore/ask` and the answer code actions over stdio, against a real `lore serve`."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from conftest import BACKENDS
from support.chat_server import ChatServer, Reply

from .conftest import CLIENT, backend_options, request, wait_for

pytestmark = pytest.mark.asyncio


@pytest.fixture
def chat_server():
    server = ChatServer()
    yield server
    server.close()


@pytest_lsp.fixture(config=ClientServerConfig(**CLIENT), params=BACKENDS)
async def client(
    request: pytest.FixtureRequest,
    lsp_client: LanguageClient,
    workspace: Path,
    chat_server: ChatServer,
):
    llm = {"provider": "openai", "endpoints": [{"base_url": chat_server.url, "model": "tiny"}]}
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual_studio_code"),
            root_uri=workspace.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="kb")],
            initialization_options=backend_options(request, request.param, workspace),
        )
    )
    ends = lambda: sum(  # noqa: E731
        isinstance(v, types.WorkDoneProgressEnd)
        for r in lsp_client.progress_reports.values()
        for v in r
    )
    await wait_for(lsp_client, "$/progress", lambda: ends() >= 1)
    lsp_client.llm = llm  # the tests switch to it when they need the LLM path
    yield
    await lsp_client.shutdown_session()


async def test_lore_ask_answers_with_citations(client: LanguageClient) -> None:
    answer = await request(client, "lore/ask", {"question": "What is the settlement window?"})
    assert "02:00 to 04:00 UTC" in answer["answer"]
    assert answer["provider"] == "extractive" and answer["degraded"] is False
    first = answer["citations"][0]
    assert first["path"] == "glossary/terms.md" and first["start_line"] == 9
    assert {"title", "heading", "end_line", "score"} <= set(first)
    assert answer["evaluation"]["citation_support"] == 1.0


async def test_the_answer_code_action_inserts_a_cited_comment(
    client: LanguageClient, workspace: Path
) -> None:
    main = workspace / "src" / "main.py"
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=main.as_uri(), language_id="python", version=1, text=main.read_text()
            )
        )
    )
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=main.as_uri()),
            range=types.Range(types.Position(3, 12), types.Position(3, 24)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    ask = next(
        a for a in actions if isinstance(a, types.CodeAction) and a.title.startswith("Ask Lore")
    )
    assert any(a.title == "Explain with Lore" for a in actions)
    resolved = await client.code_action_resolve_async(ask)
    (edit,) = resolved.edit.changes[main.as_uri()]
    assert edit.range.start.line == 3
    lines = edit.new_text.splitlines()
    assert lines[0] == "    # Lore on: RequestQueue"
    assert all(line.startswith("    #") for line in lines)
    assert any("glossary/terms.md:1" in line for line in lines)
    assert "orders work by priority" in edit.new_text


@pytest.mark.local_backend
async def test_ask_is_cancellable_mid_stream(
    client: LanguageClient, chat_server: ChatServer
) -> None:
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"lore": {"llm": client.llm}})
    )
    gate = threading.Event()
    chat_server.replies.append(Reply(text="The window runs nightly. [1]", stream_gate=gate))
    token = "ask-progress"
    client.progress_reports[token] = []
    future = client.protocol.send_request(
        "lore/ask",
        {"question": "What is the settlement window?", "workDoneToken": token},
        msg_id="ask-1",
    )

    def streaming() -> bool:
        return any(
            isinstance(v, types.WorkDoneProgressReport) and v.message == "The"
            for v in client.progress_reports[token]
        )

    await wait_for(client, "$/progress", streaming)  # the first token arrived
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="ask-1"))
    # The server handles messages in order, so once this round trip is back the cancel has
    # reached the running job; only then may the stream go on.
    await request(client, "lore/status", {})
    gate.set()
    with pytest.raises(JsonRpcException):
        await asyncio.wrap_future(future)
    # The server goes on, and the next answer is a fresh one from the LLM.
    chat_server.replies.append(
        Reply(text="The settlement window runs from 02:00 to 04:00 UTC. [1]")
    )
    answer = await request(client, "lore/ask", {"question": "When is the settlement window?"})
    assert answer["provider"] == "openai:tiny"
    assert answer["citations"][0]["path"] == "glossary/terms.md"


@pytest.mark.local_backend
async def test_the_server_embeds_sections_in_the_background_and_reranks_answers(
    client: LanguageClient,
) -> None:
    def embedded() -> bool:
        return any("embedded for reranking" in m.message for m in client.log_messages)

    await wait_for(client, "window/logMessage", embedded, timeout=60)
    status = await request(client, "lore/status", {})
    (base,) = status["index"]["bases"]
    assert base["semantic"]["done"] and base["semantic"]["embedded"] == base["semantic"]["total"]
    # Full text alone puts the handbook's overview first; the sections' meaning, the runbook.
    question = "How do I recover the ledger after an outage?"
    search = await request(client, "lore/search", {"query": question, "k": 1})
    assert search["results"][0]["path"] == "README.md"
    answer = await request(client, "lore/ask", {"question": question, "trace": True})
    (act,) = [step for step in answer["trace"] if step["stage"] == "act"]
    assert act["reranked"] > 0 and act["top"][0].startswith("runbooks/ledger-outage.md:")
