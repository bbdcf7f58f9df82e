"""What each client meets: how editors start the server, the command ids it advertises, and
the same features under the capabilities of VS Code, Neovim and eglot 1.9."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from .conftest import CLIENT, INIT_OPTIONS, SERVER, capabilities, progress_ends, request, wait_for

pytestmark = pytest.mark.asyncio


def accept_registrations(client: LanguageClient) -> None:
    """Take the server's file watchers, as the editors that offer dynamic registration do."""

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register_capability(_params: types.RegistrationParams) -> None:
        return None


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[*SERVER, "--stdio"]))
async def stdio_client(lsp_client: LanguageClient):
    accept_registrations(lsp_client)
    yield
    await lsp_client.shutdown_session()


async def test_serve_accepts_stdio_and_advertises_only_server_commands(
    stdio_client: LanguageClient, workspace: Path
) -> None:
    """vscode-languageclient appends ``--stdio``, and registers each advertised command id as
    an editor command, which must not collide with the extension's own ``lore.*`` ones."""
    result = await stdio_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual_studio_code"),
            root_uri=workspace.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="kb")],
        )
    )
    commands = result.capabilities.execute_command_provider.commands
    assert {"lore.server.ask", "lore.server.reindex", "lore.server.status"} <= set(commands)
    assert all(command.startswith("lore.server.") for command in commands)

    await wait_for(stdio_client, "$/progress", lambda: progress_ends(stdio_client) >= 1)
    for command in ("lore.server.status", "lore.status"):  # the old id is still accepted
        status = await stdio_client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=command, arguments=[])
        )
        assert status["index"]["bases"][0]["documents"] >= 6


PROFILES = ["visual_studio_code", "neovim", "eglot@1.9"]
"""Clients that differ in what matters here: VS Code and Neovim resolve code actions and show
documents; eglot 1.9 does neither, and reports no progress."""


@pytest_lsp.fixture(config=ClientServerConfig(**CLIENT), params=PROFILES)
async def profiled(request: pytest.FixtureRequest, lsp_client: LanguageClient, workspace: Path):
    accept_registrations(lsp_client)
    caps = capabilities(request.param)
    await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=caps,
            root_uri=workspace.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="kb")],
            initialization_options=INIT_OPTIONS,
        )
    )
    lsp_client.caps = caps
    main = workspace / "src" / "main.py"
    lsp_client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=main.as_uri(), language_id="python", version=1, text=main.read_text()
            )
        )
    )
    # No waiting for the first index: the requests below are sent right after `initialized`.
    yield
    await lsp_client.shutdown_session()


def _doc(path: Path) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri=path.as_uri())


def _range(line: int, start: int, end: int) -> types.Range:
    return types.Range(types.Position(line, start), types.Position(line, end))


async def test_first_requests_wait_for_the_index_and_get_real_answers(
    profiled: LanguageClient, workspace: Path
) -> None:
    """Sent at once after `initialized`, on a folder never indexed: each answer is the real one,
    not the empty answer of an index still opening."""
    main = workspace / "src" / "main.py"
    search, hover, completion = await asyncio.gather(
        request(profiled, "lore/search", {"query": "ledgerctl failover", "k": 2}),
        profiled.text_document_hover_async(
            types.HoverParams(text_document=_doc(main), position=types.Position(3, 14))
        ),
        profiled.text_document_completion_async(
            types.CompletionParams(text_document=_doc(main), position=types.Position(2, 21))
        ),
    )
    assert search["results"][0]["path"] == "runbooks/ledger-outage.md"
    assert hover is not None and hover.contents.value.startswith("**Request queue**")
    items = completion.items if isinstance(completion, types.CompletionList) else completion
    assert any(item.label == "Settlement window" for item in items)


async def test_answer_actions_work_whether_or_not_the_client_resolves(
    profiled: LanguageClient, workspace: Path
) -> None:
    main = workspace / "src" / "main.py"
    actions = await _actions_on_request_queue(profiled, main)
    ask = next(a for a in actions if a.title.startswith("Ask Lore"))
    code_action = profiled.caps.text_document.code_action
    if code_action.resolve_support is None:
        assert ask.edit is not None  # eglot 1.9 never resolves: the edit comes with the action
    else:
        assert ask.edit is None  # computed only for the action the user picks
        ask = await profiled.code_action_resolve_async(ask)
    (edit,) = ask.edit.changes[main.as_uri()]
    assert edit.new_text.startswith("    # Lore on: RequestQueue\n")
    assert "glossary/terms.md:1" in edit.new_text


async def test_open_source_shows_the_document_or_answers_where_it_is(
    profiled: LanguageClient, workspace: Path
) -> None:
    main = workspace / "src" / "main.py"
    actions = await _actions_on_request_queue(profiled, main)
    source = next(a for a in actions if a.title.startswith("Open source: Request queue")).command
    assert source.command.startswith("lore.server.")
    result = await asyncio.wait_for(
        profiled.workspace_execute_command_async(
            types.ExecuteCommandParams(command=source.command, arguments=source.arguments)
        ),
        10,
    )
    terms = (workspace / "glossary" / "terms.md").as_uri()
    if profiled.caps.window and profiled.caps.window.show_document:
        assert result is None
        assert profiled.shown_documents[-1].uri == terms
        assert profiled.shown_documents[-1].selection.start.line == 0
    else:
        assert profiled.shown_documents == []  # never asked of a client that did not offer it
        assert result["uri"] == terms
        assert result["range"]["start"] == {"line": 0, "character": 0}


@pytest_lsp.fixture(config=ClientServerConfig(**CLIENT))
async def eglot(lsp_client: LanguageClient):
    accept_registrations(lsp_client)
    lsp_client.caps = capabilities("eglot@1.9")
    yield
    await lsp_client.shutdown_session()


async def _start_in(client: LanguageClient, folder: Path | None, opened: Path) -> None:
    """Start as eglot does: its project root (outside git, the code file's own folder)."""
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client.caps,
            root_uri=folder.as_uri() if folder else None,
            workspace_folders=[types.WorkspaceFolder(uri=folder.as_uri(), name=folder.name)]
            if folder
            else None,
            initialization_options=INIT_OPTIONS,
        )
    )
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=opened.as_uri(), language_id="python", version=1, text=opened.read_text()
            )
        )
    )


async def _message(client: LanguageClient, *parts: str) -> str:
    def said() -> str | None:
        messages = (m.message for m in client.messages)
        return next((m for m in messages if all(p in m for p in parts)), None)

    await wait_for(client, "window/showMessage", lambda: said() is not None, timeout=20)
    return said() or ""


async def _hover(client: LanguageClient, path: Path) -> str | None:
    result = await client.text_document_hover_async(
        types.HoverParams(text_document=_doc(path), position=types.Position(3, 14))
    )
    return result.contents.value if result else None


@pytest.mark.parametrize("given", ["code folder", "no folder"])
async def test_the_root_comes_from_markers_outside_git(
    eglot: LanguageClient, workspace: Path, given: str
) -> None:
    """No git: the docs' project has a pyproject.toml, and the code folder has no documents."""
    (workspace / "pyproject.toml").write_text("[project]\nname = 'payments'\n")
    main = workspace / "src" / "main.py"
    await _start_in(eglot, main.parent if given == "code folder" else None, main)
    said = await _message(eglot, "the knowledge base is", str(workspace))
    assert "pyproject.toml" in said
    text = await _hover(eglot, main)
    assert text is not None and text.startswith("**Request queue**")
    assert not (workspace / "src" / ".lore").exists()
    assert (workspace / ".lore" / ".gitignore").exists()


async def test_a_root_without_documents_is_said_and_left_untouched(
    eglot: LanguageClient, tmp_path: Path
) -> None:
    app = tmp_path / "loose" / "app"
    app.mkdir(parents=True)
    main = app / "main.py"
    main.write_text("from payments import RequestQueue\n\n\nqueue = RequestQueue()\n")
    await _start_in(eglot, app, main)
    said = await _message(eglot, "no documents", str(app))
    assert "md" in said
    assert await _hover(eglot, main) is None
    assert not (app / ".lore").exists()


async def _actions_on_request_queue(client: LanguageClient, main: Path):
    """The code actions on `RequestQueue` in the workspace's main.py."""
    return await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=_doc(main),
            range=_range(3, 12, 24),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
