"""The server reads only documents the editor opened and regular files inside the workspace.

Everything else (a file elsewhere on disk, /proc, a device, a FIFO, a symlink out of the docs,
a file over the size cap) gets an error with none of its content, and the server keeps serving.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from .conftest import SERVER, make_client, start

SECRET = "hunter2-correct-horse"
REFUSED = -32803  # LSP RequestFailed


@pytest_asyncio.fixture
async def client(workspace: Path) -> AsyncIterator[LanguageClient]:
    client = make_client()
    await client.start_io(*SERVER, env={**os.environ, "LORE_TEST_SECRET": SECRET})
    try:
        await start(client, workspace, "neovim")
        yield client
    finally:
        await client.shutdown_session()
        await client.stop()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file beside the workspace, not in it."""
    secret = tmp_path / "outside" / "credentials.md"
    secret.parent.mkdir()
    secret.write_text(f"# Credentials\n\nThe password is {SECRET}.\n")
    return secret


def whole_file(uri: str) -> types.CodeActionParams:
    return types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=types.Range(types.Position(0, 0), types.Position(40, 0)),
        context=types.CodeActionContext(diagnostics=[]),
    )


def at(uri: str, line: int = 2, character: int = 5) -> types.TextDocumentPositionParams:
    return types.TextDocumentPositionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=types.Position(line, character),
    )


async def refused(request) -> JsonRpcException:
    """The error a request ends with (bounded: a read that blocks fails the test)."""
    with pytest.raises(JsonRpcException) as caught:
        await asyncio.wait_for(request, 20)
    return caught.value


async def assert_refused_by_every_feature(client: LanguageClient, uri: str) -> None:
    position = at(uri)
    requests = [
        client.text_document_code_action_async(whole_file(uri)),
        client.text_document_hover_async(
            types.HoverParams(position.text_document, position.position)
        ),
        client.text_document_completion_async(
            types.CompletionParams(position.text_document, position.position)
        ),
        client.text_document_definition_async(
            types.DefinitionParams(position.text_document, position.position)
        ),
    ]
    for request in requests:
        error = await refused(request)
        assert error.code == REFUSED, (uri, error)
        assert SECRET not in str(error) and "root:" not in str(error)


@pytest.mark.asyncio
async def test_files_outside_the_workspace_are_never_read(
    client: LanguageClient, workspace: Path, outside: Path
) -> None:
    link = workspace / "glossary" / "shortcut.md"
    link.symlink_to(outside)
    uris = [
        outside.as_uri(),
        "file:///etc/passwd",
        "file:///proc/self/environ",
        link.as_uri(),  # a symlink inside the docs pointing out of them
        (workspace / ".." / "outside" / "credentials.md").as_uri(),
        "untitled:Untitled-1",
    ]
    for uri in uris:
        await assert_refused_by_every_feature(client, uri)
    resolve = client.code_action_resolve_async(
        types.CodeAction(
            title="Ask",
            data={"mode": "ask", "uri": outside.as_uri(), "line": 0, "text": "password"},
        )
    )
    assert (await refused(resolve)).code == REFUSED

    # The same file, opened in the editor, is the editor's to share: its buffer is read.
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            types.TextDocumentItem(outside.as_uri(), "markdown", 1, outside.read_text())
        )
    )
    actions = await client.text_document_code_action_async(whole_file(outside.as_uri()))
    assert actions and SECRET in repr(actions)


@pytest.mark.asyncio
async def test_unopened_files_inside_the_workspace_are_read(
    client: LanguageClient, workspace: Path
) -> None:
    uri = (workspace / "src" / "main.py").as_uri()
    hover = await client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(3, 14))
    )
    assert hover is not None and "queue" in hover.contents.value.lower()


@pytest.mark.asyncio
async def test_devices_fifos_and_huge_files_get_an_error_not_a_hang(
    client: LanguageClient, workspace: Path
) -> None:
    fifo = workspace / "src" / "pipe.py"
    os.mkfifo(fifo)
    huge = workspace / "src" / "huge.py"
    huge.write_text("RequestQueue = 1\n" * 200_000)  # 3.4 MB, over index.max_file_bytes
    uris = [
        "file:///dev/zero",
        "file:///dev/urandom",
        fifo.as_uri(),
        (workspace / "src").as_uri(),  # a folder
        "file:///proc/self/fd/0",
        huge.as_uri(),
    ]
    for uri in uris:
        await assert_refused_by_every_feature(client, uri)
    status = await asyncio.wait_for(client.protocol.send_request_async("lore/status", {}), 20)
    assert status.index.state.state == "ready"
