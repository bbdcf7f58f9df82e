"""The `lore` command on a shared knowledge base: `lore index --to`, and `kb.url` for search,
ask and status (from the user's settings, never from the workspace's own file)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from lore.config import load_settings
from lore.kb.postgres import SharedIndex


def lore(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lore", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_index_to_postgres_then_search_ask_and_status(kb_root: Path, shared_url: str) -> None:
    url = shared_url.replace("lore@", "lore:hunter2-secret@")  # trust auth ignores it
    done = lore("index", "--to", url, str(kb_root))
    assert done.returncode == 0, done.stderr
    assert "6 files (6 indexed" in done.stdout

    shared = {"LORE_KB__URL": url}
    found = lore("search", "RequestQueue", "--root", str(kb_root), "--json", env=shared)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["results"][0]["path"] == "glossary/terms.md"
    assert not (kb_root / ".lore").exists(), "no local index was made"

    answer = lore("ask", "What is the settlement window?", "--root", str(kb_root), env=shared)
    assert answer.returncode == 0 and "02:00 to 04:00 UTC" in answer.stdout

    status = lore("status", "--root", str(kb_root), "--json", env=shared)
    facts = json.loads(status.stdout)
    assert facts["backend"] == "postgresql" and facts["documents"] == 6
    assert facts["generation"] >= 1 and facts["replica"]["standby"] is False
    shown = lore("status", "--root", str(kb_root), env=shared)
    assert "shared: postgresql://lore@127.0.0.1" in shown.stdout
    for run in (done, found, answer, status, shown):
        assert "hunter2" not in run.stdout + run.stderr


def test_a_workspace_file_cannot_point_at_a_shared_kb(kb_root: Path, shared_url: str) -> None:
    SharedIndex.open(shared_url, kb_root, load_settings(kb_root)).close()
    (kb_root / "lore.toml").write_text(f'[kb]\nurl = "{shared_url}"\n')
    found = lore("search", "RequestQueue", "--root", str(kb_root), "--json")
    assert found.returncode == 0
    assert "kb.url" in found.stderr and "ignored" in found.stderr
    assert (kb_root / ".lore").is_dir(), "the local index answered"


def test_a_second_indexer_is_refused(kb_root: Path, shared_url: str) -> None:
    with SharedIndex.open(shared_url, kb_root, load_settings(kb_root)):
        busy = lore("index", "--to", shared_url, str(kb_root))
    assert busy.returncode == 2
    assert busy.stderr.startswith("lore: another indexer is writing")
    assert len(busy.stderr.strip().splitlines()) == 1
