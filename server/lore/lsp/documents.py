"""The one way the server reads a document.

A URI names either a document the editor opened (its buffer is the truth) or a file on disk.
Files are read only when they are regular files inside a workspace root once every symlink is
resolved, and no larger than ``index.max_file_bytes``: a request about ``/etc/passwd``,
``/proc/self/environ``, ``/dev/zero``, a FIFO, or a symlink out of the docs gets an error and no
content. Every feature that needs a document's text goes through ``read_document``.
"""

from __future__ import annotations

import asyncio
import os
import stat
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.uris import to_fs_path

from lore.lsp.server import LoreServer

# Above this size, splitting a document into lines is left to a thread, off the event loop.
_SPLIT_OFF_LOOP_CHARS = 256 * 1024


class DocumentRefused(JsonRpcException):
    """A document the server will not read (LSP ``RequestFailed``)."""

    CODE = -32803


@dataclass(frozen=True)
class Document:
    """A document's text as one request sees it."""

    uri: str
    text: str
    language_id: str | None = None

    @cached_property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    def line(self, number: int) -> str | None:
        """Line ``number`` without its line break, or None past the end."""
        return self.lines[number] if 0 <= number < len(self.lines) else None


async def read_document(ls: LoreServer, uri: str) -> Document:
    """The text of ``uri``: the editor's buffer, or a regular file inside a workspace root.

    Raises ``DocumentRefused`` for anything else (no content is returned or leaked).
    """
    opened = _opened(ls, uri)
    if opened is not None:
        document = Document(uri, opened.source, opened.language_id)
    else:
        path = fs_path(uri)
        if path is None:
            raise DocumentRefused(f"Lore reads only open documents and local files, not {uri}")
        roots = list(ls.roots)
        cap = ls.settings.index.max_file_bytes
        text = await asyncio.to_thread(read_workspace_file, path, roots, cap)
        document = Document(uri, text)
    if len(document.text) > _SPLIT_OFF_LOOP_CHARS:
        await asyncio.to_thread(lambda: document.lines)
    return document


async def line_at(ls: LoreServer, uri: str, position: types.Position) -> str | None:
    """The text of the line at ``position``, or None past the document's end."""
    return (await read_document(ls, uri)).line(position.line)


def read_workspace_file(path: Path, roots: list[Path], max_bytes: int) -> str:
    """The text of ``path`` if, symlinks resolved, it is a regular file inside one of ``roots``
    and at most ``max_bytes`` long; else ``DocumentRefused``. Blocking: call it off the loop."""
    real = Path(os.path.realpath(path))
    if not any(real.is_relative_to(os.path.realpath(root)) for root in roots):
        raise DocumentRefused(f"{path} is not open in the editor and not inside the workspace")
    # O_NONBLOCK: opening a FIFO must not wait for a writer. O_NOFOLLOW: a symlink swapped in
    # since the path was resolved is refused, not followed.
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(real, flags)
    except OSError as exc:
        raise DocumentRefused(f"cannot read {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise DocumentRefused(f"{path} is not a regular file")
        if info.st_size > max_bytes:
            raise DocumentRefused(f"{path} is larger than index.max_file_bytes ({max_bytes})")
        with os.fdopen(os.dup(fd), "rb") as file:
            data = file.read(max_bytes + 1)  # the size may have grown since fstat
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise DocumentRefused(f"{path} is larger than index.max_file_bytes ({max_bytes})")
    return data.decode("utf-8", errors="replace")


def _opened(ls: LoreServer, uri: str):
    try:
        return ls.workspace.text_documents.get(unquote(uri))
    except RuntimeError:  # no workspace yet: a request before initialize
        return None


def fs_path(uri: str) -> Path | None:
    """The local path of a ``file:`` URI, else None. (A path only: nothing is read.)"""
    if not uri.startswith("file:"):
        return None
    path = to_fs_path(uri)
    return Path(path) if path else None


def is_markdown(ls: LoreServer, uri: str) -> bool:
    opened = _opened(ls, uri)
    language = opened.language_id if opened is not None else None
    return language == "markdown" or uri.lower().endswith((".md", ".markdown", ".mdx"))
