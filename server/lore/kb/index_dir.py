"""The index folder: claimed by a marker file, and the only place Lore ever deletes from.

``index.dir`` can point anywhere, and it may come from a repository's own ``lore.toml``, so
Lore never trusts it to be an index. A folder becomes Lore's when Lore creates it, or when it
is empty, or when it holds only the files an index is made of (an index written before the
marker existed); Lore then writes the marker. A folder that is the knowledge base's root,
contains it, or holds anything else is refused. Deleting an index removes the stores by name,
and in the full-text folder only the files tantivy names; the folder itself stays.
"""

from __future__ import annotations

import re
from pathlib import Path

MARKER = ".lore-index"
MARKER_TEXT = (
    "This folder holds a Lore index, rebuilt from the documents at will.\n"
    "Lore writes and deletes only its own files here.\n"
)
DB_FILES = ("lore.db", "lore.db-wal", "lore.db-shm", "lore.db-journal")
FULLTEXT_DIR = "fulltext"
# What an index folder may hold: the files Lore writes and the folders it makes.
_OWN_FILES = frozenset({MARKER, *DB_FILES, "writer.lock", ".gitignore"})
_OWN_DIRS = frozenset({FULLTEXT_DIR, "audit"})
# The files tantivy writes: segment files named by a UUID, its meta and its locks.
_TANTIVY_FILE = re.compile(
    r"[0-9a-f]{32}(\.\d+)?\.[a-z]+|meta\.json|\.managed\.json|\.tantivy-\w+\.lock"
)


class UnsafeIndexDir(ValueError):
    """``index.dir`` names a folder Lore must not write its index into."""


def claim(root: Path, index_dir: Path) -> Path:
    """Make ``index_dir`` Lore's index folder for ``root`` and return it, symlinks resolved.

    Raises :class:`UnsafeIndexDir` when the folder is the root, contains it, is not a folder,
    or holds files that are not an index's.
    """
    where = index_dir.expanduser().resolve()
    if root.resolve().is_relative_to(where):
        raise UnsafeIndexDir(
            f"index.dir {where} is the knowledge base's folder or contains it; "
            "the index needs a folder of its own, such as the default .lore"
        )
    if where.exists() and not where.is_dir():
        raise UnsafeIndexDir(f"index.dir {where} is not a folder")
    if (where / MARKER).is_file() and not (where / MARKER).is_symlink():
        return where
    if where.is_dir():
        foreign = sorted(entry.name for entry in where.iterdir() if not _is_own(entry))
        if foreign:
            shown = ", ".join(foreign[:3]) + (", …" if len(foreign) > 3 else "")
            raise UnsafeIndexDir(
                f"index.dir {where} holds files Lore did not write ({shown}); "
                "choose an empty or new folder"
            )
    created = not where.exists()
    where.mkdir(parents=True, exist_ok=True)
    if created:
        # Out of git the way a virtual environment keeps itself out: nothing here to commit.
        (where / ".gitignore").write_text("*\n", encoding="utf-8")
    (where / MARKER).write_text(MARKER_TEXT, encoding="utf-8")
    return where


def remove_stores(index_dir: Path) -> None:
    """Delete the catalog and the full-text index in a claimed folder, and nothing else."""
    for name in DB_FILES:
        (index_dir / name).unlink(missing_ok=True)
    fulltext = index_dir / FULLTEXT_DIR
    if fulltext.is_symlink() or not fulltext.is_dir():
        return
    for entry in fulltext.iterdir():
        if _TANTIVY_FILE.fullmatch(entry.name) and entry.is_file() and not entry.is_symlink():
            entry.unlink(missing_ok=True)
    if not any(fulltext.iterdir()):
        fulltext.rmdir()


def _is_own(entry: Path) -> bool:
    if entry.is_symlink():
        return False
    if entry.name in _OWN_FILES:
        return entry.is_file()
    return entry.name in _OWN_DIRS and entry.is_dir()
