"""Lore deletes only what it created: the index folder is claimed, and checked, before use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lore.config import load_settings
from lore.kb.index_dir import MARKER
from lore.kb.knowledge_base import IndexError_, KnowledgeBase


def lore(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lore", *args], capture_output=True, text=True, timeout=120
    )


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("index_dir", [".", "..", "{root}", "docs"])
def test_index_dir_that_is_or_holds_the_documents_is_refused(kb_root: Path, index_dir: str) -> None:
    (kb_root / "docs").mkdir()
    (kb_root / "docs" / "guide.md").write_text("# Guide\n", encoding="utf-8")
    (kb_root / "lore.toml").write_text(
        f'[index]\ndir = "{index_dir.format(root=kb_root)}"\n', encoding="utf-8"
    )
    before = files_under(kb_root.parent)
    for args in (["index", str(kb_root)], ["index", str(kb_root), "--rebuild"]):
        done = lore(*args)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "index.dir" in done.stderr
    assert files_under(kb_root.parent) == before  # nothing deleted, nothing written


def test_a_folder_with_foreign_files_is_refused_and_kept(kb_root: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("precious", encoding="utf-8")
    (kb_root / "lore.toml").write_text(f'[index]\ndir = "{elsewhere}"\n', encoding="utf-8")
    done = lore("index", str(kb_root), "--rebuild")
    assert done.returncode == 2 and "did not write (keep.txt)" in done.stderr
    assert (elsewhere / "keep.txt").read_text(encoding="utf-8") == "precious"
    assert sorted(p.name for p in elsewhere.iterdir()) == ["keep.txt"]


def test_a_symlink_to_the_root_is_refused(kb_root: Path) -> None:
    (kb_root / "link").symlink_to(kb_root, target_is_directory=True)
    with pytest.raises(IndexError_, match="contains it"):
        KnowledgeBase.open(kb_root, load_settings(kb_root, {"index": {"dir": "link"}}))


def test_rebuild_removes_only_what_lore_wrote(kb_root: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"  # empty and outside the root: Lore may claim it
    (kb_root / "lore.toml").write_text(f'[index]\ndir = "{index}"\n', encoding="utf-8")
    assert lore("index", str(kb_root)).returncode == 0
    assert (index / MARKER).is_file()
    (index / "notes.txt").write_text("mine", encoding="utf-8")
    (index / "fulltext" / "README").write_text("mine too", encoding="utf-8")

    done = lore("index", str(kb_root), "--rebuild")
    assert done.returncode == 0, done.stderr
    assert "6 indexed" in done.stdout
    assert (index / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert (index / "fulltext" / "README").read_text(encoding="utf-8") == "mine too"
    found = lore("search", "settlement window", "--root", str(kb_root))
    assert found.returncode == 0 and "glossary/terms.md" in found.stdout


def test_an_index_from_before_the_marker_is_adopted(kb_root: Path) -> None:
    with KnowledgeBase.open(kb_root, load_settings(kb_root)) as kb:
        kb.index()
    (kb_root / ".lore" / MARKER).unlink()
    with KnowledgeBase.open(kb_root, load_settings(kb_root)) as kb:
        assert kb.index().unchanged == 6
    assert (kb_root / ".lore" / MARKER).is_file()
