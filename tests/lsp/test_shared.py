"""`lore serve` on a shared knowledge base (``kb.url`` from the editor's settings): it reports
the backend, follows the indexer's generations, and never shows the URL's password."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from conftest import index_shared

from .conftest import RawServer


def _status_until(server: RawServer, done: Callable[[dict], bool], timeout: float = 60) -> dict:
    """Ask for ``lore/status`` until ``done(status)`` (each ask is a round trip), by a deadline."""
    deadline = time.monotonic() + timeout
    msg_id = 1000
    while True:
        msg_id += 1
        server.send({"id": msg_id, "method": "lore/status", "params": {}})
        status = server.response(msg_id)["result"]
        if done(status):
            return status
        assert time.monotonic() < deadline, f"status never got there: {status['index']}"


def _hover(server: RawServer, path: Path, line: int, character: int, msg_id: int) -> str | None:
    server.send(
        {
            "id": msg_id,
            "method": "textDocument/hover",
            "params": {
                "textDocument": {"uri": path.as_uri()},
                "position": {"line": line, "character": character},
            },
        }
    )
    result = server.response(msg_id)["result"]
    return result["contents"]["value"] if result else None


def test_the_server_follows_a_shared_kb_and_hides_its_password(
    workspace: Path, shared_url: str
) -> None:
    url = shared_url.replace("lore@", "lore:hunter2-secret@")  # trust auth ignores it
    index_shared(workspace, url)
    server = RawServer(workspace)
    seen: list[str] = []
    try:
        server.send(
            {
                "id": 1,
                "method": "initialize",
                "params": {
                    "processId": None,
                    "rootUri": workspace.as_uri(),
                    "capabilities": {},
                    "initializationOptions": {"kb": {"url": url}},
                },
            }
        )
        server.response(1)
        server.send({"method": "initialized", "params": {}})
        status = _status_until(server, lambda s: s["index"]["state"].get("state") == "following")
        seen.append(json.dumps(status))
        [base] = status["index"]["bases"]
        assert base["backend"] == "postgresql" and base["documents"] == 6
        assert base["url"] == shared_url  # as given, less the password
        assert base["replica"] == {"standby": False, "lag_bytes": 0, "lag_s": 0.0}
        assert not (workspace / ".lore").exists(), "no local index of the shared folder"

        main = workspace / "src" / "main.py"
        main.write_text("ledger = LedgerFreeze()\n")
        server.send(
            {
                "method": "textDocument/didOpen",
                "params": {
                    "textDocument": {
                        "uri": main.as_uri(),
                        "languageId": "python",
                        "version": 1,
                        "text": main.read_text(),
                    }
                },
            }
        )
        assert _hover(server, main, 0, 12, msg_id=2) is None
        # The team's indexer runs; the editor's mirror follows the new generation.
        (workspace / "runbooks" / "freeze.md").write_text(
            "# Ledger freeze\n\nNo deploys to the ledger during the settlement window.\n"
        )
        index_shared(workspace, url)
        status = _status_until(
            server,
            lambda s: s["index"]["bases"][0]["mirror_generation"] > base["generation"],
        )
        seen.append(json.dumps(status))
        text = _hover(server, main, 0, 12, msg_id=3)
        assert text is not None and text.startswith("**Ledger freeze**")
        assert "runbooks/freeze.md:1" in text
    finally:
        server.close()
    logged = b"".join(server.stderr).decode(errors="replace")
    assert "hunter2" not in logged and not any("hunter2" in s for s in seen)
