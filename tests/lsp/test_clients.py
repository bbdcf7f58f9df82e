"""What each client meets: how editors start the server, and the command ids it advertises."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from .conftest import SERVER, progress_ends, wait_for

pytestmark = pytest.mark.asyncio


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[*SERVER, "--stdio"]))
async def stdio_client(lsp_client: LanguageClient):
    @lsp_client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register_capability(_params: types.RegistrationParams) -> None:
        return None

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
