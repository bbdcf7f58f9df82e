"""End to end over stdio: the features a user sees, as VS Code and as Neovim."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from .conftest import is_cancelled, progress_ends, request, settled, wait_for

pytestmark = pytest.mark.asyncio


def pos(line: int, character: int) -> types.Position:
    return types.Position(line=line, character=character)


def doc(path: Path) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri=path.as_uri())


async def hover_text(client: LanguageClient, path: Path, line: int, character: int) -> str | None:
    result = await client.text_document_hover_async(
        types.HoverParams(text_document=doc(path), position=pos(line, character))
    )
    return result.contents.value if result else None


async def test_hover_shows_the_definition_with_its_source(
    client: LanguageClient, workspace: Path
) -> None:
    main = workspace / "src" / "main.py"
    text = await hover_text(client, main, 3, 14)  # RequestQueue
    assert text is not None
    assert text.startswith("**Request queue**")
    assert "orders work by priority" in text
    assert f"[glossary/terms.md:3]({(workspace / 'glossary' / 'terms.md').as_uri()}#L3)" in text

    snake = await hover_text(client, main, 2, 20)  # settlement_window
    assert snake is not None and "Settlement window" in snake


async def test_no_noise_hovers(client: LanguageClient, workspace: Path) -> None:
    main = workspace / "src" / "main.py"
    assert await hover_text(client, main, 2, 12) is None  # self
    assert await hover_text(client, main, 4, 5) is None  # return
    assert await hover_text(client, main, 1, 0) is None  # blank line


async def test_completion_offers_terms_and_resolves_documentation(
    client: LanguageClient, workspace: Path
) -> None:
    notes = workspace / "src" / "notes.py"
    notes.write_text("# see sett\n")
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=doc(notes), position=pos(0, 10))
    )
    labels = [item.label for item in result.items]
    assert "Settlement window" in labels
    item = result.items[labels.index("Settlement window")]
    resolved = await client.completion_item_resolve_async(item)
    assert "02:00 to 04:00 UTC" in resolved.documentation.value


async def test_completion_in_markdown_offers_links(client: LanguageClient, workspace: Path) -> None:
    page = workspace / "runbooks" / "new.md"
    page.write_text("# New\n\nSee idem\n")
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=doc(page), position=pos(2, 8))
    )
    inserts = [item.insert_text for item in result.items]
    assert "[Idempotency key](../glossary/terms.md#idempotency-key)" in inserts


async def test_definition_of_a_term_and_of_a_link(client: LanguageClient, workspace: Path) -> None:
    main = workspace / "src" / "main.py"
    locations = await client.text_document_definition_async(
        types.DefinitionParams(text_document=doc(main), position=pos(2, 20))
    )
    assert locations[0].uri == (workspace / "glossary" / "terms.md").as_uri()
    assert locations[0].range.start.line == 8  # "## Settlement window" is line 9

    readme = workspace / "README.md"
    line = readme.read_text().splitlines()[6]
    character = line.index("runbooks/") + 2
    locations = await client.text_document_definition_async(
        types.DefinitionParams(text_document=doc(readme), position=pos(6, character))
    )
    assert locations[0].uri == (workspace / "runbooks" / "ledger-outage.md").as_uri()


async def test_workspace_symbols(client: LanguageClient) -> None:
    symbols = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="ledger"))
    names = [s.name for s in symbols]
    assert "Ledger outage runbook" in names
    assert "ADR 0003: Ledger database" in names


async def test_code_actions_open_the_source(client: LanguageClient, workspace: Path) -> None:
    main = workspace / "src" / "main.py"
    selection = types.Range(start=pos(3, 12), end=pos(3, 24))
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=doc(main),
            range=selection,
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    titles = [a.title for a in actions]
    assert any(t.startswith("Open source: Request queue (glossary/terms.md:1)") for t in titles)
    assert "Search the knowledge base for “RequestQueue”" in titles
    command = actions[0].command
    await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command.command, arguments=command.arguments)
    )
    assert client.shown_documents[-1].uri == (workspace / "glossary" / "terms.md").as_uri()


async def test_custom_search_and_status(client: LanguageClient) -> None:
    found = await request(client, "lore/search", {"query": "ledgerctl failover", "k": 2})
    assert found["results"][0]["path"] == "runbooks/ledger-outage.md"
    status = await request(client, "lore/status", {})
    assert {"index", "queue", "cache", "latency", "providers"} <= set(status)
    assert status["index"]["bases"][0]["documents"] >= 6
    assert set(status["queue"]) == {"interactive", "user", "background"}
    # (pygls's client renames keys that are not identifiers, so look at the values)
    assert any(entry["count"] >= 1 and "p95_ms" in entry for entry in status["latency"].values())


@pytest.mark.local_backend
async def test_reindex_command_reports_progress(client: LanguageClient) -> None:
    before = progress_ends(client)
    await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="lore.server.reindex", arguments=[])
    )
    await wait_for(client, "$/progress", lambda: progress_ends(client) > before)


@pytest.mark.local_backend
async def test_files_created_changed_and_deleted_on_disk(
    client: LanguageClient, workspace: Path
) -> None:
    async def changed(path: Path, kind: types.FileChangeType) -> None:
        before = progress_ends(client)
        client.workspace_did_change_watched_files(
            types.DidChangeWatchedFilesParams(
                changes=[types.FileEvent(uri=path.as_uri(), type=kind)]
            )
        )
        await wait_for(client, "$/progress", lambda: progress_ends(client) > before)

    async def top(query: str) -> str | None:
        found = await request(client, "lore/search", {"query": query, "k": 1})
        return found["results"][0]["path"] if found["results"] else None

    page = workspace / "glossary" / "zeppelin.md"
    page.write_text("# Zeppelin mooring\n\nThe **zeppelin mast** is on pier nine.\n")
    await changed(page, types.FileChangeType.Created)
    assert await top("zeppelin mast pier") == "glossary/zeppelin.md"

    page.write_text("# Zeppelin mooring\n\nThe mast moved to the quokka enclosure.\n")
    await changed(page, types.FileChangeType.Changed)
    assert await top("quokka enclosure") == "glossary/zeppelin.md"

    page.unlink()
    await changed(page, types.FileChangeType.Deleted)
    assert await top("quokka enclosure") != "glossary/zeppelin.md"


@pytest.mark.local_backend
async def test_saving_a_page_updates_hovers(client: LanguageClient, workspace: Path) -> None:
    main = workspace / "src" / "main.py"
    main.write_text("ledger = LedgerFreeze()\n")
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            types.TextDocumentItem(main.as_uri(), "python", 1, main.read_text())
        )
    )
    assert await hover_text(client, main, 0, 12) is None
    page = workspace / "runbooks" / "freeze.md"
    page.write_text("# Ledger freeze\n\nNo deploys to the ledger during the settlement window.\n")
    before = progress_ends(client)
    client.text_document_did_save(types.DidSaveTextDocumentParams(text_document=doc(page)))
    await wait_for(client, "$/progress", lambda: progress_ends(client) > before)
    text = await hover_text(client, main, 0, 12)
    assert text is not None and text.startswith("**Ledger freeze**")
    assert "runbooks/freeze.md:1" in text


async def test_configuration_change_and_invalid_settings(
    client: LanguageClient, workspace: Path
) -> None:
    main = workspace / "src" / "main.py"
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"lore": {"hover": {"enabled": False}}})
    )
    assert await hover_text(client, main, 3, 14) is None

    shown = len(client.messages)
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"lore": {"hover": {"max_lines": "many"}}})
    )
    await wait_for(client, "window/showMessage", lambda: len(client.messages) > shown)
    assert "hover.max_lines" in client.messages[-1].message
    # The last good settings stay: hovers are still off.
    assert await hover_text(client, main, 3, 14) is None

    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"lore": {}})
    )
    assert await hover_text(client, main, 3, 14) is not None


@pytest.mark.local_backend
async def test_cancelled_requests_are_answered_and_the_server_goes_on(
    client: LanguageClient, workspace: Path
) -> None:
    main = workspace / "src" / "main.py"
    futures = []
    for n in range(20):
        msg_id = f"cancel-{n}"
        futures.append(
            client.protocol.send_request(
                types.TEXT_DOCUMENT_HOVER,
                types.HoverParams(text_document=doc(main), position=pos(3, 14)),
                msg_id=msg_id,
            )
        )
        client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id=msg_id))
    outcomes = await settled(futures)
    # Each is answered: with its hover if it ran before the cancel arrived, else cancelled.
    for outcome in outcomes:
        assert isinstance(outcome, types.Hover) or is_cancelled(outcome), outcome
    assert await hover_text(client, main, 3, 14) is not None


@pytest.mark.local_backend
@pytest.mark.parametrize(
    ("uri", "line"),
    [
        ("untitled:Untitled-1", 0),
        ("https://example.com/x.py", 0),
        ("file:///nowhere/at/all.py", 0),
    ],
)
async def test_documents_neither_open_nor_in_the_workspace_are_refused(
    client: LanguageClient, uri: str, line: int
):
    with pytest.raises(JsonRpcException) as refused:
        await client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri), position=pos(line, 3)
            )
        )
    assert refused.value.code == -32803  # RequestFailed


@pytest.mark.local_backend
async def test_out_of_range_positions_huge_and_binary_documents(
    client: LanguageClient, workspace: Path
) -> None:
    main = workspace / "src" / "main.py"
    assert await hover_text(client, main, 9999, 0) is None
    assert await hover_text(client, main, 3, 9999) is None

    huge = workspace / "src" / "huge.txt"
    text = ("RequestQueue " * 100 + "\n") * 8000  # about 10 MB
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=huge.as_uri(), language_id="plaintext", version=1, text=text
            )
        )
    )
    assert (await hover_text(client, huge, 5000, 3)) is not None

    binary = workspace / "src" / "blob.bin"
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=binary.as_uri(),
                language_id="plaintext",
                version=1,
                text="\x00\x01\x02\ufffd" * 50,
            )
        )
    )
    assert await hover_text(client, binary, 0, 3) is None


@pytest.mark.local_backend
async def test_unknown_methods_and_failing_features_answer_with_errors(
    client: LanguageClient, workspace: Path
) -> None:
    with pytest.raises(JsonRpcException):
        await client.protocol.send_request_async("lore/doesNotExist", {})
    with pytest.raises(JsonRpcException):
        await client.protocol.send_request_async("lore/search", {"query": "x", "k": "lots"})
    assert await hover_text(client, workspace / "src" / "main.py", 3, 14) is not None
