"""Frames as ``lore.lsp.framing.read_frame`` cuts them from a byte stream."""

from __future__ import annotations

import io

from lore.lsp.framing import MAX_HEADER_LINE_BYTES, MAX_MESSAGE_BYTES, Frame, read_frame, skip


def frames(data: bytes) -> list[Frame]:
    stream = io.BytesIO(data)
    found = []
    while (frame := read_frame(stream)) is not None:
        found.append(frame)
        if frame.skip and not skip(stream, frame.skip):
            break
    return found


def test_headers_in_any_case_and_with_other_fields() -> None:
    data = (
        b"Content-Length: 2\r\n\r\n{}"
        b"content-length:3\r\nContent-Type: application/vscode-jsonrpc\r\n\r\n[1]"
        b"\r\n"  # a stray empty line between frames
        b"CONTENT-LENGTH: 4\n\nnull"
    )
    assert [f.body for f in frames(data)] == [b"{}", b"[1]", b"null"]


def test_a_header_line_longer_than_any_real_one_is_skipped() -> None:
    data = b"X-Junk: " + b"x" * (3 * MAX_HEADER_LINE_BYTES) + b"\r\nContent-Length: 2\r\n\r\n{}"
    assert [f.body for f in frames(data)] == [b"{}"]


def test_an_oversized_body_is_an_error_and_is_read_past() -> None:
    size = MAX_MESSAGE_BYTES + 1
    data = b"Content-Length: %d\r\n\r\n" % size + b"a" * size + b"Content-Length: 2\r\n\r\n{}"
    first, second = frames(data)
    assert first.body is None and first.error and "over the limit" in first.error
    assert second.body == b"{}"


def test_the_stream_may_end_anywhere() -> None:
    assert frames(b"") == []
    assert frames(b"Content-Length: 10\r\n\r\n{}") == []  # a body cut short
    assert frames(b"Content-Length: 99999999999999\r\n\r\n{}")[0].error  # no MemoryError
