"""Files that change under the indexer, FIFOs posing as ignore files, and oversized text."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lore.config import load_settings
from lore.kb.knowledge_base import KnowledgeBase
from lore.kb.types import IndexProgress


def test_fifo_ignore_files_do_not_hang_indexing(kb_root: Path) -> None:
    os.mkfifo(kb_root / ".gitignore")
    (kb_root / "docs").mkdir()
    os.mkfifo(kb_root / "docs" / ".loreignore")
    (kb_root / "docs" / "guide.md").write_text("# Guide\n\nThe flux capacitor.\n")
    # Reading a FIFO waits for a writer that never comes: the timeout is the failure.
    done = subprocess.run(
        [sys.executable, "-m", "lore", "index", str(kb_root), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert '"indexed": 7' in done.stdout


def test_files_swapped_or_grown_after_the_walk_are_not_read(kb_root: Path, tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "secret.md"
    secret.parent.mkdir()
    secret.write_text("# Secret\n\nThe vault combination is zebra-quartz-nine.\n")
    swapped = kb_root / "notes.txt"
    grown = kb_root / "README.md"
    settings = load_settings(kb_root, {"index": {"max_file_bytes": 100_000}})

    def change_files_after_the_walk(progress: IndexProgress) -> None:
        if progress.phase == "index" and progress.done_files == 0 and not swapped.is_symlink():
            swapped.unlink()
            swapped.symlink_to(secret)
            with grown.open("a") as f:
                f.write("growing " * 50_000)  # 400 kB, past the 100 kB limit

    with KnowledgeBase.open(kb_root, settings) as kb:
        report = kb.index(progress=change_files_after_the_walk)
        assert swapped.is_symlink()  # the swap did happen, after the walk listed the file
        assert report.skipped == 2
        assert kb.search("zebra quartz vault combination", 5) == []
        reasons = {s["path"]: s["reason"] for s in kb.status()["skipped"]}
        assert reasons["README.md"] == "too-large"
        assert reasons["notes.txt"].startswith("unreadable")


def test_a_huge_paragraph_is_cut_to_max_chars(kb_root: Path) -> None:
    sentence = "The settlement window closes at four in the morning. "
    (kb_root / "wall.txt").write_text(sentence * 36_000)  # 1.9 MB, one line
    with KnowledgeBase.open(kb_root, load_settings(kb_root)) as kb:
        kb.index()
        longest, pieces = kb.catalog.reader.execute(
            "SELECT max(length(c.text)), count(*) FROM chunks c JOIN documents d "
            "ON d.id = c.doc_id WHERE d.path = 'wall.txt'"
        ).fetchone()
    assert longest <= kb.settings.chunk.max_chars
    assert pieces > 700
