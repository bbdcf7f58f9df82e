"""Which folders are knowledge bases: the client's workspace folders, or a root found from
markers, and never an index in a folder that holds no documents."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lore import _native
from lore.config import Settings

ROOT_MARKERS = ("lore.toml", ".lore", ".git", "pyproject.toml")
"""What makes a folder a project root, as editors' root detection uses them."""


@dataclass(frozen=True)
class RootChoice:
    root: Path
    """The folder to index."""
    reason: str | None = None
    """Why this folder when the client named another (or none); None when it is the client's."""


def marked_root(start: Path) -> Path | None:
    """The nearest folder from ``start`` upwards that holds one of ``ROOT_MARKERS``."""
    for folder in (start, *start.parents):
        if any((folder / marker).exists() for marker in ROOT_MARKERS):
            return folder
    return None


def _marker_of(folder: Path) -> str:
    return next(m for m in ROOT_MARKERS if (folder / m).exists())


def has_documents(root: Path, settings: Settings) -> bool:
    """Whether the walk of ``root`` finds any file of the knowledge base."""
    try:
        walked = _native.walk(
            str(root),
            extensions=settings.index.extensions,
            max_file_bytes=settings.index.max_file_bytes,
            exclude=settings.index.exclude,
        )
    except OSError:
        return False
    return bool(walked.files)


def choose_root(folder: Path, settings: Settings) -> RootChoice:
    """The knowledge base for a folder the client gave.

    A folder that is marked, or holds documents, is the client's choice and stays. A folder
    with neither (an editor without project detection falls back to the code file's folder) is
    replaced by the nearest marked folder above it, when there is one.
    """
    if marked_root(folder) == folder or has_documents(folder, settings):
        return RootChoice(folder)
    above = marked_root(folder.parent) if folder.parent != folder else None
    if above is None:
        return RootChoice(folder)
    return RootChoice(above, f"{folder} holds no documents; {above} has {_marker_of(above)}")


def root_for_file(path: Path) -> RootChoice | None:
    """The root for a document opened with no workspace folder: the nearest marked folder."""
    above = marked_root(path.parent)
    if above is None:
        return None
    return RootChoice(above, f"the nearest folder above {path.name} with {_marker_of(above)}")


def wants_index(root: Path, settings: Settings) -> bool:
    """Whether to open (and so create) an index in ``root``: it has one, or it has documents."""
    return settings.index_dir(root).is_dir() or has_documents(root, settings)
