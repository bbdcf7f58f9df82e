"""Reading the editor's documents safely: any URI, any size, any bytes."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types
from pygls.uris import to_fs_path

from lore.lsp.server import LoreServer


def line_at(ls: LoreServer, uri: str, position: types.Position) -> str | None:
    """The text of the line at ``position``, or None for an unknown document or position.

    Documents the editor has open come from its buffers; others are read from disk only when
    they are ``file:`` URIs.
    """
    if position.line < 0:
        return None
    try:
        document = ls.workspace.get_text_document(uri)
        lines = document.lines
    except (OSError, UnicodeDecodeError, ValueError, RuntimeError):
        return None  # RuntimeError: no workspace yet (a request before initialize)
    if position.line >= len(lines):
        return None
    return lines[position.line].rstrip("\r\n")


def fs_path(uri: str) -> Path | None:
    """The local path of a ``file:`` URI, else None."""
    if not uri.startswith("file:"):
        return None
    path = to_fs_path(uri)
    return Path(path) if path else None


def is_markdown(ls: LoreServer, uri: str) -> bool:
    try:
        language = ls.workspace.get_text_document(uri).language_id
    except (OSError, ValueError):
        language = None
    return language == "markdown" or uri.lower().endswith((".md", ".markdown", ".mdx"))
