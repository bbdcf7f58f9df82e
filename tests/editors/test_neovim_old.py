"""The Neovim plugin in a real Neovim older than 0.11 (Debian's 0.7): one line, no error."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEBIAN_NEOVIM = Path("/usr/bin/nvim")  # `make test` installs Debian's `neovim`; 0.7.2 on bookworm


def test_an_older_neovim_is_told_which_version_is_needed(tmp_path: Path) -> None:
    assert DEBIAN_NEOVIM.exists(), "Debian's neovim: `make test` installs it"
    version = subprocess.run([DEBIAN_NEOVIM, "--version"], capture_output=True, text=True).stdout
    found = re.match(r"NVIM v(\d+)\.(\d+)\.(\d+)", version)
    assert found and (int(found[1]), int(found[2])) < (0, 11), version.splitlines()[0]

    messages = tmp_path / "messages"
    done = subprocess.run(
        [
            DEBIAN_NEOVIM,
            "--headless",
            "--clean",
            "--cmd",
            f"set runtimepath^={REPO / 'editors' / 'nvim'}",
            "-c",
            f"redir! > {messages} | silent messages | redir END",
            "-c",
            "if v:errmsg != '' | cquit 3 | endif",
            "-c",
            "qall!",
        ],
        cwd=tmp_path,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Error" not in done.stderr, done.stderr
    said = [line for line in messages.read_text().splitlines() if line.strip()]
    this = ".".join(found.groups())
    assert said == [
        f"Lore needs Neovim 0.11 or later (this is {this}); on 0.10, see :help lore-0.10"
    ]
