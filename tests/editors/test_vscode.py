"""The VS Code extension in a real VS Code 1.100 (code-server), driven through headless Chromium.

`scripts/install-code-server` installs code-server and playwright-core once per machine (`make
test-editors` runs it first, with the Debian packages it needs); `vscode/session.mjs` drives the
editor against a real `lore serve` and records what a user would see.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from support.workspace import add_code_file

REPO = Path(__file__).resolve().parents[2]
EXTENSION = REPO / "editors" / "vscode"
SESSION = Path(__file__).parent / "vscode" / "session.mjs"
CHROMIUM = "/usr/lib/chromium/chromium"  # Debian's; /usr/bin/chromium is a wrapper script

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def contributed_settings(*, user_only: bool) -> dict[str, object]:
    """The server settings the extension contributes, at their defaults, as a user sets them:
    those VS Code takes only from the user's settings (scope machine), or the others."""
    package = json.loads((EXTENSION / "package.json").read_text())
    properties = package["contributes"]["configuration"]["properties"]
    return {
        key: spec["default"]
        for key, spec in properties.items()
        if not key.startswith(("lore.server.", "lore.trace."))
        and (spec.get("scope") in ("machine", "application")) == user_only
    }


def build_vsix(out: Path) -> Path:
    assert (EXTENSION / "node_modules").is_dir(), "run `make test-editors` (npm ci) first"
    vsix = out / "lore.vsix"
    subprocess.run(["npm", "run", "--silent", "build"], cwd=EXTENSION, check=True)
    subprocess.run(
        ["npx", "--no-install", "vsce", "package", "--no-dependencies", "--out", str(vsix)],
        cwd=EXTENSION,
        check=True,
        capture_output=True,
    )
    return vsix


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> dict:
    assert Path(CHROMIUM).exists(), "Debian's chromium: `make test-editors` installs it"
    code_server = subprocess.run(
        [REPO / "scripts" / "install-code-server"], check=True, capture_output=True, text=True
    ).stdout.strip()
    base = tmp_path_factory.mktemp("vscode")
    vsix = build_vsix(base)

    workspace = base / "kb"
    shutil.copytree(REPO / "tests" / "fixtures" / "kb", workspace)
    (workspace / ".git").mkdir()
    add_code_file(workspace)
    # Every contributed setting set explicitly, so that each one travels to the server.
    (workspace / ".vscode").mkdir()
    server = f'"{sys.executable}" -m lore serve'
    (workspace / ".vscode" / "settings.json").write_text(
        json.dumps({"lore.server.command": server, **contributed_settings(user_only=False)})
    )
    home = base / "home"
    (home / "data" / "User").mkdir(parents=True)
    (home / "data" / "User" / "settings.json").write_text(
        json.dumps(
            {
                "workbench.startupEditor": "none",
                "workbench.tips.enabled": False,
                "extensions.ignoreRecommendations": True,
                "telemetry.telemetryLevel": "off",
                "files.hotExit": "off",
                **contributed_settings(user_only=True),
            }
        )
    )

    results = base / "results.json"
    env = {
        **os.environ,
        "LORE_CODE_SERVER": code_server,
        "LORE_VSIX": str(vsix),
        "LORE_WORKSPACE": str(workspace),
        "LORE_HOME": str(home),
        "LORE_CHROMIUM": CHROMIUM,
        "LORE_TEST_RESULTS": str(results),
    }
    done = subprocess.run(
        ["node", str(SESSION)], env=env, capture_output=True, text=True, timeout=600
    )
    assert results.exists(), f"the session wrote no results:\n{done.stdout}\n{done.stderr}"
    data = json.loads(results.read_text())
    print("VS Code session timings (s):", data["timings"])
    return data


def seen(session: dict, key: str) -> Any:
    """What the session recorded under ``key``; a session that stopped before says where."""
    if key not in session:
        pytest.fail(
            f"the session stopped before {key!r}: {session.get('error')}\n"
            f"(screenshot: {session.get('screenshot')})"
        )
    return session[key]


def test_the_server_starts_with_every_setting_and_no_error(session: dict) -> None:
    troubles = [n for n in seen(session, "startup_notifications") if n["severity"] != "info"]
    assert not troubles, troubles


def test_no_step_brings_an_error(session: dict) -> None:
    troubles = [n for n in seen(session, "notifications") if n["severity"] != "info"]
    assert not troubles, troubles


def test_the_status_bar_shows_the_document_count(session: dict) -> None:
    status = seen(session, "status")
    assert re.fullmatch(r"\S* ?Lore: 6 docs", status), status


def test_hover_shows_the_right_page_with_a_link(session: dict) -> None:
    hover = seen(session, "hover")
    assert "Request queue" in hover["text"]
    assert "orders work by priority" in hover["text"]
    assert any(
        link["text"].startswith("glossary/terms.md:") and "glossary/terms.md" in link["href"]
        for link in hover["links"]
    ), hover["links"]


def test_completion_offers_a_knowledge_base_term(session: dict) -> None:
    labels = seen(session, "completion")
    assert any("Settlement window" in label for label in labels), labels


def test_ask_lore_about_inserts_a_comment_citing_a_page_and_line(session: dict) -> None:
    assert seen(session, "ask_action") == "Ask Lore about “RequestQueue”"
    lines = seen(session, "ask_comment").splitlines()
    assert "    # Lore on: RequestQueue" in lines
    citation = re.compile(r"    # \[1\] glossary/terms\.md:\d+ .*")
    assert any(citation.fullmatch(line) for line in lines), lines
    assert lines[-2:] == ["    queue = RequestQueue()", "    return queue.pop(self)"]


def test_lore_ask_shows_the_answer_with_matching_source_numbers(session: dict) -> None:
    answer = seen(session, "answer")
    assert answer["tab"].startswith("Lore: What do we do when the ledger database is down?")
    body = answer["text"].split("Sources")[0]
    assert "ledger" in body
    cited = set(re.findall(r"\[(\d+)\]", body))
    listed = {re.match(r"\[(\d+)\]", source).group(1) for source in answer["sources"]}
    assert cited and cited == listed, (cited, answer["sources"])
    assert len(listed) >= 2, answer["sources"]
    assert any("runbooks/ledger-outage.md:" in source for source in answer["sources"])


def test_an_answer_source_opens_its_file_at_the_line(session: dict) -> None:
    opened = seen(session, "answer_link")
    path, line = re.match(r"(\S+):(\d+)", opened["target"]).groups()
    assert opened["tab"].startswith(Path(path).name), opened
    assert opened["position"].startswith(f"Ln {line},"), opened


def test_open_source_opens_the_file_at_the_line(session: dict) -> None:
    title = seen(session, "open_action")
    path, line = re.search(r"\((\S+):(\d+)\)$", title).groups()
    opened = seen(session, "open_source")
    assert opened["tab"].startswith(Path(path).name), (title, opened)
    assert opened["position"].startswith(f"Ln {line},"), (title, opened)


def test_a_server_that_cannot_be_found_names_the_setting_to_set(session: dict) -> None:
    [missing] = seen(session, "missing_server")
    assert missing["severity"] == "error"
    assert "was not found" in missing["message"]
    assert "lore.server.command" in missing["message"]
