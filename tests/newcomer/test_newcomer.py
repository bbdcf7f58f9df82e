"""The first steps of a new user: the documented install works on a Debian or Ubuntu Python, and
`make demo` says what it is doing while the Rust core builds."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Where a newcomer reads how to install: the README, the tutorial and the editors' guide.
INSTALL_DOCS = [
    (REPO / "README.md", "## Using it"),
    (REPO / "docs" / "tutorial.md", "## 1. Install"),
    (REPO / "docs" / "editors.md", "# Editors"),
]


def first_shell_block(path: Path, heading: str) -> str:
    section = path.read_text().split(f"{heading}\n", 1)[1]
    found = re.search(r"```sh\n(.*?)```", section, re.S)
    assert found, f"no sh block under {heading!r} in {path.name}"
    return found.group(1)


@pytest.mark.parametrize(("doc", "heading"), INSTALL_DOCS, ids=lambda v: getattr(v, "name", v))
def test_the_documented_install_never_runs_pip_on_the_system_python(
    doc: Path, heading: str
) -> None:
    """Debian's and Ubuntu's Python refuse a bare `pip install` (PEP 668,
    externally-managed-environment): every install goes through a virtual environment's own
    pip, or pipx."""
    commands = [
        line.split("#", 1)[0].strip() for line in first_shell_block(doc, heading).splitlines()
    ]
    installs = [c for c in commands if re.search(r"\bpip\b.*\binstall\b", c)]
    assert installs, "the block installs Lore"
    venv = next((c for c in commands if re.match(r"python3 -m venv (\S+)$", c)), None)
    assert venv, "the block creates the virtual environment it installs into"
    venv_dir = venv.split()[-1]
    for command in installs:
        assert command.startswith(f"{venv_dir}/bin/pip install"), command


def test_the_documented_virtual_environment_is_made_by_a_stock_python(tmp_path: Path) -> None:
    """The tutorial's first step, run as written (with HOME in a scratch folder)."""
    block = first_shell_block(REPO / "docs" / "tutorial.md", "## 1. Install")
    venv_line = next(line for line in block.splitlines() if line.startswith("python3 -m venv"))
    command = venv_line.split("#", 1)[0].strip()
    done = subprocess.run(
        ["bash", "-c", command],
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / ".venvs" / "lore" / "bin" / "pip").exists()


def test_make_demo_says_it_is_building_and_how_long_it_took(tmp_path: Path) -> None:
    """The build itself is replaced at the edge (a `pip` that only records its arguments): what
    is tested is what the Makefile tells the user around it."""
    assert shutil.which("make")
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    (tmp_path / "rust").mkdir()
    (tmp_path / "rust" / "Cargo.toml").touch()
    (tmp_path / "pyproject.toml").touch()
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for tool in ("python", "pip", "lore"):
        (bin_dir / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> "{tmp_path}/calls"\n')
        (bin_dir / tool).chmod(0o755)
    done = subprocess.run(
        ["make", "demo"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    building = next(i for i, line in enumerate(out) if line.startswith("Building Lore's Rust core"))
    assert "minutes" in out[building]
    assert re.fullmatch(r"Built in \d+ s\.", out[building + 1])
    assert "pip install --quiet -e ." in (tmp_path / "calls").read_text()
