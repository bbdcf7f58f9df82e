"""The first index of a larger folder: answered during, and cancellable from its progress."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from .conftest import SERVER, progress_ends, request, settled, wait_for

PAGES = 300


@pytest.fixture
def big_workspace(tmp_path: Path) -> Path:
    root = tmp_path / "handbook"
    root.mkdir()
    sections = "".join(
        f"## Widget {j}\n\nWidget {j} talks to gadget {j * 7} through the queue.\n\n"
        for j in range(40)
    )
    for i in range(PAGES):
        (root / f"page{i:03d}.md").write_text(f"# Runbook {i}\n\n{sections}")
    return root


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient):
    registered: list[types.Registration] = []

    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register_capability(params: types.RegistrationParams) -> None:
        registered.extend(params.registrations)

    lsp_client.registered = registered
    yield
    await lsp_client.shutdown_session()


def reports(client: LanguageClient, kind: type) -> list:
    return [v for values in client.progress_reports.values() for v in values if isinstance(v, kind)]


async def test_first_index_answers_requests_and_can_be_cancelled(
    client: LanguageClient, big_workspace: Path
) -> None:
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual_studio_code"),
            root_uri=big_workspace.as_uri(),
            # One file per batch: many progress reports, and a cancel lands between two.
            initialization_options={"index": {"batch_files": 1, "debounce_ms": 0}},
        )
    )
    # A report of files written ("1/200 files, …") means a batch is committed and searchable.
    await wait_for(
        client,
        "$/progress",
        lambda: any(
            " files, " in (r.message or "") for r in reports(client, types.WorkDoneProgressReport)
        ),
    )
    begin = reports(client, types.WorkDoneProgressBegin)[0]
    assert begin.cancellable and begin.percentage == 0
    token = next(iter(client.progress_reports))
    # The file watchers were registered before indexing began, for the indexed extensions.
    (watchers,) = client.registered
    assert watchers.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES
    assert "md" in watchers.register_options["watchers"][0]["globPattern"]

    # Mid-index, requests are answered from what is there; none fail.
    page = big_workspace / "page000.md"
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            types.TextDocumentItem(page.as_uri(), "markdown", 1, page.read_text())
        )
    )
    hover, found = await asyncio.gather(
        client.text_document_hover_async(
            types.HoverParams(types.TextDocumentIdentifier(page.as_uri()), types.Position(0, 4))
        ),
        request(client, "lore/search", {"query": "gadget 21 queue"}),
    )
    # A plain word that names no section: no section hover (a heading may show its backlinks).
    assert hover is None or "links to this page" in hover.contents.value
    assert found["results"]  # the batches committed so far are searchable

    client.protocol.notify(
        types.WINDOW_WORK_DONE_PROGRESS_CANCEL, types.WorkDoneProgressCancelParams(token=token)
    )
    await wait_for(client, "$/progress", lambda: progress_ends(client) >= 1)
    end = reports(client, types.WorkDoneProgressEnd)[0]
    assert "cancelled" in end.message
    percentages = [r.percentage for r in reports(client, types.WorkDoneProgressReport)]
    assert percentages == sorted(percentages) and percentages[-1] < 100

    status = await request(client, "lore/status", {})
    assert status["index"]["state"]["state"] == "cancelled"
    indexed = status["index"]["bases"][0]["documents"]
    assert 0 < indexed < PAGES
    # What was committed before the cancel is searchable.
    found = await request(client, "lore/search", {"query": "Runbook 0 widget", "k": 1})
    assert found["results"][0]["path"].startswith("page")


async def test_hovers_waiting_behind_the_index_supersede_each_other(
    client: LanguageClient, big_workspace: Path
) -> None:
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("neovim"),
            root_uri=big_workspace.as_uri(),
            # One worker, busy indexing: hovers wait in the queue until the index is cancelled.
            initialization_options={"index": {"batch_files": 1}, "queue": {"workers": 1}},
        )
    )
    # Once some pages are searchable, requests no longer wait for the first index to start
    # answering: they queue behind it.
    await wait_for(
        client,
        "$/progress",
        lambda: any(
            " files, " in (r.message or "") for r in reports(client, types.WorkDoneProgressReport)
        ),
    )
    page = big_workspace / "page000.md"
    hover = types.HoverParams(types.TextDocumentIdentifier(page.as_uri()), types.Position(2, 3))
    futures = [client.protocol.send_request(types.TEXT_DOCUMENT_HOVER, hover) for _ in range(10)]
    # The burst waits in the queue ...
    token = next(iter(client.progress_reports))
    client.protocol.notify(
        types.WINDOW_WORK_DONE_PROGRESS_CANCEL, types.WorkDoneProgressCancelParams(token=token)
    )
    outcomes = await settled(futures)
    # ... and the burst collapses: one hover runs, the others end as RequestCancelled. (The
    # worker may take one between two index batches before the next arrives, so that one runs
    # too; and hovers released together by the end of the index reach the queue in any order.)
    codes = [getattr(o, "code", None) for o in outcomes]
    superseded = codes.count(-32800)
    assert set(codes) <= {-32800, None}
    assert 8 <= superseded <= 9
    status = await request(client, "lore/status", {})
    assert status["queue"]["interactive"]["superseded"] == superseded
    assert status["latency"]["hover"]["cancelled"] == superseded
