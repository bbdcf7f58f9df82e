"""LSP's framing: ``Content-Length`` headers and a body, read from a blocking byte stream.

Standard library only: ``lore serve`` reads messages with it before pygls has loaded (see
``lore.lsp.early``) as well as after.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Protocol

MAX_MESSAGE_BYTES = 32 * 1024 * 1024
"""The largest message body read. A bigger one is skipped unread and answered with an error."""
MAX_HEADER_LINE_BYTES = 4096
_DISCARD_CHUNK_BYTES = 1024 * 1024
_CONTENT_LENGTH = re.compile(rb"content-length:\s*(\d+)\s*", re.IGNORECASE)


class Source(Protocol):
    """Where frames come from: a blocking byte stream (stdin, a socket file)."""

    def readline(self, limit: int, /) -> bytes: ...

    def read(self, size: int, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Frame:
    """One framed message: its body, or why there is none."""

    body: bytes | None = None
    error: str | None = None
    skip: int = 0
    """Bytes of an oversized body still to be read past."""


def skip(source: Source, size: int) -> bool:
    """Read past ``size`` bytes, a chunk at a time; False if the stream ended first."""
    while size:
        chunk = source.read(min(size, _DISCARD_CHUNK_BYTES))
        if not chunk:
            return False
        size -= len(chunk)
    return True


def read_frame(source: Source) -> Frame | None:
    """The next frame from ``source``, or None at the end of the stream.

    Headers are read line by line (each at most ``MAX_HEADER_LINE_BYTES``), up to the empty
    line; ``Content-Length`` is required. For a body over ``MAX_MESSAGE_BYTES`` the frame
    carries an error and the number of bytes to ``skip``, unread.
    """
    length: int | None = None
    while True:
        line = source.readline(MAX_HEADER_LINE_BYTES)
        if not line:
            return None
        if not line.endswith(b"\n"):
            # A header longer than any real one: skip the rest of it.
            while line and not line.endswith(b"\n"):
                line = source.readline(MAX_HEADER_LINE_BYTES)
            if not line:
                return None
            continue
        if not line.strip():
            if length is None:
                continue  # a stray empty line: no frame began
            break
        match = _CONTENT_LENGTH.fullmatch(line.rstrip(b"\r\n"))
        if match:
            length = int(match.group(1))
    if length > MAX_MESSAGE_BYTES:
        return Frame(
            error=f"a message of {length} bytes is over the limit of {MAX_MESSAGE_BYTES}",
            skip=length,
        )
    chunks: list[bytes] = []
    remaining = length
    while remaining:
        chunk = source.read(remaining)
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return Frame(body=b"".join(chunks))


class FdSource:
    """Blocking reads of a file descriptor, buffered here rather than by ``io``: the reader
    thread, blocked in ``os.read`` when the process exits, then holds no lock of Python's
    buffered I/O (which would abort the interpreter's shutdown)."""

    def __init__(self, fd: int, already_read: bytes = b"") -> None:
        self._fd = fd
        self._buffer = bytearray(already_read)

    def readline(self, limit: int) -> bytes:
        while True:
            end = self._buffer.find(b"\n", 0, limit)
            if end >= 0:
                return self._take(end + 1)
            if len(self._buffer) >= limit or not self._fill():
                return self._take(min(limit, len(self._buffer)))

    def buffered(self) -> bool:
        """Whether bytes already read wait here (a read would not block for them)."""
        return bool(self._buffer)

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes (fewer when that is what has arrived); b"" at the end."""
        if not self._buffer:
            self._fill()
        return self._take(min(size, len(self._buffer)))

    def _fill(self) -> bool:
        chunk = os.read(self._fd, _READ_BYTES)
        self._buffer += chunk
        return bool(chunk)

    def _take(self, size: int) -> bytes:
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data


_READ_BYTES = 256 * 1024
