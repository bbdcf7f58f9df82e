"""Emacs 28 with eglot 1.9 and with lsp-mode 8, each configured with exactly the snippet that
docs/editors.md gives users, driven in batch against a real `lore serve`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.workspace import add_code_file

REPO = Path(__file__).resolve().parents[2]
SESSION = Path(__file__).with_name("emacs_session.el")
GUIDE = REPO / "docs" / "editors.md"


def snippet(heading: str) -> str:
    """The first elisp block under ``heading`` in docs/editors.md."""
    section = GUIDE.read_text().split(f"\n## {heading}\n", 1)[1]
    found = re.search(r"```elisp\n(.*?)```", section, re.S)
    assert found, f"no elisp block under {heading!r}"
    return found.group(1)


def make_workspace(base: Path, *, git: bool) -> Path:
    """The fixture knowledge base with code in src/: a git repository, or (no git) a project
    marked only by its pyproject.toml."""
    workspace = base / "project"
    shutil.copytree(REPO / "tests" / "fixtures" / "kb", workspace)
    add_code_file(workspace)
    if git:
        subprocess.run(["git", "init", "-q", str(workspace)], check=True)
    else:
        (workspace / "pyproject.toml").write_text("[project]\nname = 'payments'\n")
    return workspace


def run_emacs(client: str, heading: str, base: Path, *, git: bool) -> dict:
    assert shutil.which("emacs"), "Debian's emacs-nox: `make test` installs it"
    workspace = make_workspace(base, git=git)
    # `lore` on PATH, as the snippet expects: this Python, with these sources.
    bin_dir = base / "bin"
    bin_dir.mkdir()
    (bin_dir / "lore").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m lore "$@"\n')
    (bin_dir / "lore").chmod(0o755)
    (base / "snippet.el").write_text(snippet(heading))
    results = base / "results.json"
    env = {
        **os.environ,
        "HOME": str(base / "home"),
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "LORE_EMACS_CLIENT": client,
        "LORE_SNIPPET": str(base / "snippet.el"),
        "LORE_CODE_FILE": str(workspace / "src" / "main.py"),
        "LORE_TEST_RESULTS": str(results),
    }
    (base / "home").mkdir()
    started = time.perf_counter()
    done = subprocess.run(
        ["emacs", "--batch", "-l", str(SESSION)],
        cwd=workspace / "src",
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
    )
    seen = json.loads(results.read_text()) if results.exists() else {}
    assert seen, f"Emacs wrote no results:\n{done.stdout}\n{done.stderr[-3000:]}"
    assert "error" not in seen, f"{seen['error']}\n{done.stderr[-3000:]}"
    seen.update(workspace=str(workspace), stderr=done.stderr, seconds=time.perf_counter() - started)
    return seen


CLIENTS = {"eglot": "Emacs (eglot)", "lsp-mode": "Emacs (lsp-mode)"}


@pytest.fixture(scope="module", params=list(CLIENTS))
def emacs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp(request.param)
    return run_emacs(request.param, CLIENTS[request.param], base, git=True)


def test_hover_shows_the_right_page(emacs: dict) -> None:
    assert "Request queue" in emacs["hover"]
    assert "glossary/terms.md:3" in emacs["hover"]


def test_completion_offers_a_knowledge_base_term(emacs: dict) -> None:
    assert "Settlement window" in emacs["completion"]


def test_ask_lore_inserts_a_cited_comment(emacs: dict) -> None:
    lines = emacs["after_ask"].splitlines()
    asked = lines.index("    # Lore on: RequestQueue")
    assert lines[asked - 1] == "def settle(self, settlement_window):"
    assert any("glossary/terms.md:1" in line for line in lines)
    assert lines[-2] == "    queue = RequestQueue()"  # the code itself is untouched


def test_open_source_opens_the_file_at_the_line_within_seconds(emacs: dict) -> None:
    assert emacs["open_file"] == str(Path(emacs["workspace"]) / "glossary" / "terms.md")
    assert emacs["open_line"] == 1
    assert emacs["open_seconds"] < 5


@pytest.mark.parametrize("client", list(CLIENTS))
def test_outside_git_the_root_is_found_said_and_the_code_folder_untouched(
    client: str, tmp_path: Path
) -> None:
    seen = run_emacs(client, CLIENTS[client], tmp_path, git=False)
    workspace = Path(seen["workspace"])
    assert f"the knowledge base is {workspace}" in seen["stderr"]
    assert "Request queue" in seen["hover"]
    assert not (workspace / "src" / ".lore").exists()
    assert (workspace / ".lore" / ".gitignore").read_text() == "*\n"
