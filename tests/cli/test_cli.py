"""The `lore` command as a user runs it: exit codes, one-line errors, JSON, and a real kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import apsw
import pytest

from lore.config import load_settings
from lore.kb.knowledge_base import KnowledgeBase


def lore(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lore", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_index_then_search_and_status(kb_root: Path) -> None:
    done = lore("index", str(kb_root))
    assert done.returncode == 0, done.stderr
    assert "6 files" in done.stdout and "MB/s" in done.stdout

    found = lore("search", "RequestQueue", "--root", str(kb_root), "--json", "-k", "2")
    assert found.returncode == 0
    results = json.loads(found.stdout)["results"]
    assert results[0]["path"] == "glossary/terms.md"
    assert results[0]["heading_path"] == ["Glossary", "Request queue"]
    assert {"start_line", "end_line", "snippet", "score", "scores"} <= results[0].keys()

    status = json.loads(lore("status", "--root", str(kb_root), "--json").stdout)
    assert status["documents"] == 6 and status["generation"] >= 1


def test_index_embeds_the_sections_when_asked(kb_root: Path) -> None:
    done = lore("index", str(kb_root), "--embed", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["indexed"] == 6
    assert "sections embedded for reranking" in done.stderr
    status = json.loads(lore("status", "--root", str(kb_root), "--json").stdout)
    assert status["semantic"]["stored"] > 10
    shown = lore("status", "--root", str(kb_root)).stdout
    assert f"{status['semantic']['stored']} sections embedded for reranking" in shown
    again = lore("index", str(kb_root), "--embed")
    assert "(0 new)" in again.stdout


def test_search_indexes_a_folder_that_never_was(kb_root: Path) -> None:
    found = lore("search", "settlement window", "--root", str(kb_root))
    assert found.returncode == 0
    assert "glossary/terms.md:9-13" in found.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["search", "", "--root", "{root}"], 2, "the query is empty"),
        (["search", "x", "--root", "{root}/missing"], 2, "no such folder"),
        (["index", "{root}/missing"], 2, "no such folder"),
        (["search", "x", "-k", "0", "--root", "{root}"], 2, "-k must be"),
        (["search"], 2, "required"),
        (["frobnicate"], 2, "invalid choice"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(kb_root: Path, args, code, message) -> None:
    done = lore(*[a.format(root=kb_root) for a in args])
    assert done.returncode == code
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_invalid_setting_names_its_key(kb_root: Path) -> None:
    (kb_root / "lore.toml").write_text("[chunk]\nmax_chars = 3\n")
    done = lore("index", str(kb_root))
    assert done.returncode == 2
    assert "chunk.max_chars" in done.stderr


def test_hostile_and_huge_queries(kb_root: Path) -> None:
    lore("index", str(kb_root))
    syntax = lore("search", 'AND OR ((( "', "--root", str(kb_root), "--json")
    assert syntax.returncode in (0, 1) and "Traceback" not in syntax.stderr
    huge = lore("search", "ledger " * 15_000, "--root", str(kb_root), "--json")
    assert huge.returncode == 0
    assert json.loads(huge.stdout)["results"]


def test_no_result_exits_1(kb_root: Path) -> None:
    lore("index", str(kb_root))
    done = lore("search", "zzyzx qwxv", "--root", str(kb_root))
    assert done.returncode == 1


def test_status_lists_skipped_files(kb_root: Path) -> None:
    (kb_root / "blob.md").write_bytes(b"\0\1\2\3")
    lore("index", str(kb_root))
    done = lore("status", "--root", str(kb_root))
    assert "blob.md: binary" in done.stdout


def test_a_corrupt_index_is_rebuilt_by_index(kb_root: Path) -> None:
    lore("index", str(kb_root))
    (kb_root / ".lore" / "lore.db").write_bytes(b"garbage" * 1000)
    done = lore("index", str(kb_root))
    assert done.returncode == 0
    assert "rebuilt" in done.stderr
    assert "6 indexed" in done.stdout


def _generation(db_path: Path) -> int:
    try:
        db = apsw.Connection(str(db_path), flags=apsw.SQLITE_OPEN_READONLY)
        db.setbusytimeout(1000)
        row = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        db.close()
        return int(row[0]) if row else 0
    except apsw.Error:
        return 0


@pytest.mark.slow
def test_sigkill_mid_index_then_reindex_keeps_every_file_once(tmp_path: Path) -> None:
    root = tmp_path / "big"
    for i in range(3000):
        folder = root / f"guide{i % 30}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"page{i}.md").write_text(
            f"# Page {i}\n\nThe **term{i}** explains topic {i % 97}.\n\n## Details\n\n"
            + f"Paragraph about item {i} and its neighbours {i - 1} and {i + 1}.\n" * 20
        )
    (root / "lore.toml").write_text("[index]\nbatch_files = 100\n")
    db_path = root / ".lore" / "lore.db"

    proc = subprocess.Popen([sys.executable, "-m", "lore", "index", str(root)])
    deadline = time.monotonic() + 60
    # Wait for the first committed batch, then kill without warning.
    while _generation(db_path) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the index finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    again = lore("index", str(root))
    assert again.returncode == 0, again.stderr
    with KnowledgeBase.open(root, load_settings(root)) as kb:
        paths = kb.catalog.all_paths()
        assert len(paths) == len(set(paths)) == 3000
        catalog_ids = sorted(
            r[0] for r in kb.catalog.reader.execute("SELECT id FROM chunks").fetchall()
        )
        assert sorted(kb.fulltext.chunk_ids()) == catalog_ids
        vector_ids = sorted(
            r[0] for r in kb.catalog.reader.execute("SELECT chunk_id FROM vectors").fetchall()
        )
        assert vector_ids == catalog_ids
        assert kb.search("term2999", 1)[0].chunk.path == "guide29/page2999.md"


def test_serve_help_shows_its_transports() -> None:
    done = lore("serve", "--help")
    assert done.returncode == 0
    assert "--stdio" in done.stdout and "--tcp" in done.stdout


def test_check_lists_broken_links_and_exits_1(linked_root: Path, kb_root: Path) -> None:
    run = lore("check", str(linked_root))
    assert run.returncode == 1, run.stderr
    lines = run.stdout.splitlines()
    assert "index.md:6:9: no page 'missing.md' [missing-page]" in lines
    assert "index.md:6:29: no heading '#nowhere' in guide/queue.md [missing-anchor]" in lines
    assert not any("example.com" in line for line in lines)  # external URLs are not checked
    assert run.stderr.strip() == "4 broken links in 2 pages"

    as_json = json.loads(lore("check", str(linked_root), "--json").stdout)
    assert {b["code"] for b in as_json["broken"]} == {"missing-page", "missing-anchor"}

    (linked_root / "lore.toml").write_text('[links]\nanchors = false\nignore = ["missing.md"]\n')
    assert lore("check", str(linked_root)).stderr.strip() == "1 broken links in 1 pages"

    clean = lore("check", str(kb_root))
    assert (clean.returncode, clean.stdout, clean.stderr.strip()) == (0, "", "no broken links")


def test_serve_on_a_terminal_says_what_it_is_in_one_line() -> None:
    """stdin a terminal: one line on stderr, then the server runs until the terminal closes."""
    import pty
    import select

    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lore", "serve"],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    os.close(terminal)
    try:
        readable, _, _ = select.select([proc.stderr], [], [], 30)
        assert readable, "lore serve said nothing on a terminal"
        line = proc.stderr.readline().decode()
        assert "Language Server Protocol on stdin/stdout" in line
        assert "editor" in line and "docs/editors.md" in line
    finally:
        os.close(controller)  # the terminal closes: end of input
        proc.wait(timeout=30)
        proc.stdout.close()
        rest = proc.stderr.read().decode()
        proc.stderr.close()
    assert "Language Server Protocol" not in rest  # said once
