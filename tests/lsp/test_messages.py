"""No message stops the server: odd frames and requests get an error, long lines stay cheap,
and the life cycle follows the LSP specification."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from lore.lsp.framing import MAX_MESSAGE_BYTES

from .conftest import RawServer, request

INVALID_REQUEST = -32600
PARSE_ERROR = -32700


@pytest.fixture
def server(kb_root: Path):
    server = RawServer(kb_root)
    yield server
    server.close()


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_an_oversized_frame_is_an_error_and_the_stream_goes_on(
    server: RawServer, kb_root: Path
) -> None:
    server.initialize(kb_root)
    # A real body one byte over the cap is read past, answered with an error ...
    body = b'{"jsonrpc": "2.0", "id": 7, "method": "lore/status", "x": "' + b"a" * MAX_MESSAGE_BYTES
    server.send_bytes(body + b'"}')
    error = server.response(None)["error"]
    assert error["code"] == INVALID_REQUEST and "over the limit" in error["message"]
    # ... and the next message is read as usual.
    server.send({"id": 8, "method": "lore/status", "params": {}})
    assert "index" in server.response(8)["result"]


def test_a_huge_content_length_is_an_error_not_a_crash(server: RawServer) -> None:
    server.send_raw(b"Content-Length: 99999999999999\r\n\r\n{}")
    error = server.response(None)["error"]
    assert error["code"] == INVALID_REQUEST
    assert server.proc.poll() is None  # still running, reading past the frame
    assert server.proc.stdin is not None
    server.proc.stdin.close()
    assert server.proc.wait(timeout=10) == 0
    assert not any(b"MemoryError" in line for line in server.stderr)


def test_every_request_with_an_id_is_answered(server: RawServer, kb_root: Path) -> None:
    server.initialize(kb_root)
    status = '"method": "lore/status", "params": {}'
    odd: list[tuple[object, bytes, int]] = [
        # (the id the answer carries, the body sent, the error code expected)
        (1, b'{"id": 1, ' + status.encode() + b"}", INVALID_REQUEST),  # no "jsonrpc"
        (2, b'{"jsonrpc": "1.0", "id": 2, ' + status.encode() + b"}", INVALID_REQUEST),
        (3, b'{"jsonrpc": 2.0, "id": 3, ' + status.encode() + b"}", INVALID_REQUEST),
        (4, b'{"jsonrpc": "2.0", "id": 4, "method": 42}', INVALID_REQUEST),
        (5, b'{"jsonrpc": "2.0", "id": 5, "method": "lore/status", "params": "x"}', -32600),
        (None, b'{"jsonrpc": "2.0", "id": [6], "method": "lore/status"}', INVALID_REQUEST),
        (None, b'{"jsonrpc": "2.0", "id": true, "method": "lore/status"}', INVALID_REQUEST),
        (None, b"[1, 2]", INVALID_REQUEST),
        (None, b"{not json", PARSE_ERROR),
        (None, b"\xff\xfe", PARSE_ERROR),
        (9, b'{"jsonrpc": "2.0", "id": 9, "method": "no/such/method"}', -32601),
    ]
    for depth in (1_000, 5_000, 100_000):
        params = f'{{"deep": {nested(depth)}}}'
        before = f'{{"jsonrpc": "2.0", "id": {depth}, "method": "lore/ask", "params": {params}}}'
        after = f'{{"jsonrpc": "2.0", "method": "lore/ask", "params": {params}, "id": "{depth}"}}'
        odd.append((depth, before.encode(), INVALID_REQUEST))
        odd.append((str(depth), after.encode(), INVALID_REQUEST))
    for n, method in enumerate(["initialized", "textDocument/didOpen", "$/cancelRequest", "exit"]):
        body = {"jsonrpc": "2.0", "id": 100 + n, "method": method, "params": {}}
        odd.append((100 + n, json.dumps(body).encode(), INVALID_REQUEST))

    for msg_id, body, code in odd:
        server.send_bytes(body)
        answer = server.response(msg_id)
        assert answer["error"]["code"] == code, (body[:80], answer)
    # `exit` with an id was refused, not obeyed: the server still answers.
    server.send({"id": 500, "method": "lore/status", "params": {}})
    assert "index" in server.response(500)["result"]


def test_the_life_cycle_follows_the_specification(server: RawServer, kb_root: Path) -> None:
    result = server.initialize(kb_root)
    assert "capabilities" in result
    # A second initialize is refused, and does not re-root the server.
    other = kb_root / "runbooks"
    server.send(
        {
            "id": 2,
            "method": "initialize",
            "params": {"processId": None, "rootUri": other.as_uri(), "capabilities": {}},
        }
    )
    assert server.response(2)["error"]["code"] == INVALID_REQUEST
    # An extra `initialized` is harmless: indexing goes on, and saved edits are indexed.
    server.send({"method": "initialized", "params": {}})
    server.wait_until_indexed()
    page = kb_root / "glossary" / "walrus.md"
    page.write_text("# Walrus protocol\n\nThe walrus protocol retries tusks.\n")
    server.send(
        {"method": "textDocument/didSave", "params": {"textDocument": {"uri": page.as_uri()}}}
    )
    for msg_id in range(3, 1000):
        server.send({"id": msg_id, "method": "lore/search", "params": {"query": "walrus tusks"}})
        found = server.response(msg_id)["result"]["results"]
        if found and found[0]["path"] == "glossary/walrus.md":
            break
    else:
        raise AssertionError("the saved page was never indexed")
    server.send({"id": 2000, "method": "lore/status", "params": {}})
    bases = server.response(2000)["result"]["index"]["bases"]
    assert [Path(b["root"]).resolve() for b in bases] == [kb_root.resolve()]

    server.send({"id": 2001, "method": "shutdown", "params": None})  # as some clients send it
    assert server.response(2001)["result"] is None
    # After shutdown, a request is InvalidRequest (not silence).
    server.send({"id": 2002, "method": "lore/status", "params": {}})
    assert server.response(2002)["error"]["code"] == INVALID_REQUEST
    server.send({"method": "exit"})
    assert server.proc.wait(timeout=10) == 0


def test_exit_without_shutdown_exits_1(server: RawServer, kb_root: Path) -> None:
    server.initialize(kb_root)
    server.send({"method": "exit"})
    assert server.proc.wait(timeout=10) == 1


@pytest.mark.asyncio
async def test_long_lines_are_answered_at_once(client: LanguageClient, workspace: Path) -> None:
    minified = workspace / "src" / "minified.js"
    text = "a" * 100_000 + "\n" + "[" * 100_000 + "\n"
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            types.TextDocumentItem(minified.as_uri(), "javascript", 1, text)
        )
    )
    doc = types.TextDocumentIdentifier(minified.as_uri())
    end_of_as = types.Position(0, 100_000)
    among_brackets = types.Position(1, 50_000)
    requests = [
        client.text_document_completion_async(types.CompletionParams(doc, end_of_as)),
        client.text_document_definition_async(types.DefinitionParams(doc, among_brackets)),
        client.text_document_hover_async(types.HoverParams(doc, end_of_as)),
        request(client, "lore/status", {}),
    ]
    # Scanning the whole line from each `[` took 5.6 s for 40,000 of them (quadratic), with
    # nothing else answered meanwhile; now only a window around the cursor is scanned.
    completion, definition, hover, status = await asyncio.wait_for(asyncio.gather(*requests), 10)
    assert not completion and definition is None and hover is None
    assert "index" in status
