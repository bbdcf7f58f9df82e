"""Thousands of generated JSON-RPC messages against a real `lore serve`.

A seeded generator (set ``LORE_FUZZ_SEED`` to replay another run) mixes well-formed requests
with random params, broken envelopes (no or wrong ``jsonrpc``, odd ids, notification methods
with an id), garbage bodies, deep nesting and document edits. After each batch the server must
have answered every request with an id (with a result or an error; an id it cannot read is
answered with id null), and it must answer ``lore/status``.
"""

from __future__ import annotations

import json
import os
import queue
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

from .conftest import Gate, RawServer

SEED = int(os.environ.get("LORE_FUZZ_SEED", "1125"))
MESSAGES = 3000
BATCH = 250
TIME_LIMIT_S = 240.0

REQUESTS = [
    "textDocument/hover",
    "textDocument/completion",
    "textDocument/definition",
    "textDocument/codeAction",
    "textDocument/references",
    "textDocument/documentLink",
    "workspace/symbol",
    "completionItem/resolve",
    "codeAction/resolve",
    "workspace/executeCommand",
    "lore/search",
    "lore/status",
    "lore/ask",
    "initialize",
    "no/such/request",
    "$/no/such/request",
]
NOTIFICATIONS = [
    "textDocument/didOpen",
    "textDocument/didChange",
    "textDocument/didClose",
    "textDocument/didSave",
    "workspace/didChangeWatchedFiles",
    "workspace/didChangeConfiguration",
    "$/cancelRequest",
    "$/setTrace",
    "initialized",
    "no/such/notification",
]
COMMANDS = [
    "lore.server.status",
    "lore.server.search",
    "lore.server.openSource",
    "lore.status",
    "lore.ask",
    "no.such.command",
]
WORDS = ["RequestQueue", "settlement", "ledger", "window", "queue", "é😀", "", " ", "[", "](", "#"]


class Fuzzer:
    """Generates messages and remembers which answers they are owed."""

    def __init__(self, rng: random.Random, root: Path) -> None:
        self.rng = rng
        self.root = root
        self.next_id = 1_000
        self.uris = [
            (root / "src" / "main.py").as_uri(),
            (root / "glossary" / "terms.md").as_uri(),
            (root / "src" / "new.md").as_uri(),
            (root / "runbooks" / "ledger-outage.md").as_uri(),
            root.as_uri(),
            "file:///etc/passwd",
            "file:///dev/zero",
            "file:///proc/self/fd/0",
            "untitled:Untitled-1",
            "https://example.com/x.md",
            "file:///nowhere/x.md",
            "not a uri",
        ]

    # --- values -------------------------------------------------------------------------

    def junk(self, depth: int = 0) -> Any:
        """Any JSON value."""
        rng = self.rng
        kinds = ["int", "float", "str", "bool", "null"] + (["list", "dict"] if depth < 4 else [])
        kind = rng.choice(kinds)
        if kind == "int":
            return rng.choice([0, -1, 1, 2**31, 2**63, -(2**53), rng.randint(-100, 10_000)])
        if kind == "float":
            return rng.choice([0.5, -1.5, 1e308, 3.0])
        if kind == "str":
            return rng.choice(
                [*WORDS, "x" * rng.randint(0, 3000), "\x00\ud800"[: rng.randint(0, 1)]]
            )
        if kind == "bool":
            return rng.random() < 0.5
        if kind == "null":
            return None
        if kind == "list":
            return [self.junk(depth + 1) for _ in range(rng.randint(0, 4))]
        return {
            rng.choice(["uri", "line", "id", "x", "query"]): self.junk(depth + 1) for _ in range(3)
        }

    def maybe(self, value: Any) -> Any:
        """``value``, or now and then something else in its place."""
        return self.junk() if self.rng.random() < 0.1 else value

    def position(self) -> dict[str, Any]:
        rng = self.rng
        return {
            "line": self.maybe(rng.choice([0, 1, 2, 3, 5, 40, 10**6, -1])),
            "character": self.maybe(rng.choice([0, 3, 8, 14, 20, 10**6, -1])),
        }

    def document(self) -> dict[str, Any]:
        return {"uri": self.maybe(self.rng.choice(self.uris))}

    def text(self) -> str:
        rng = self.rng
        words = [rng.choice(WORDS) for _ in range(rng.randint(0, 40))]
        lines = [" ".join(words[i : i + 6]) for i in range(0, len(words), 6)]
        if rng.random() < 0.05:
            lines.append(rng.choice(["a", "[", "x"]) * rng.randint(1000, 50_000))
        return "\n".join(lines)

    def params(self, method: str) -> Any:
        rng = self.rng
        at = {"textDocument": self.document(), "position": self.position()}
        span = {"start": self.position(), "end": self.position()}
        match method:
            case "textDocument/hover" | "textDocument/definition" | "textDocument/completion":
                return at
            case "textDocument/references":
                return {**at, "context": {"includeDeclaration": rng.random() < 0.5}}
            case "textDocument/codeAction":
                return {
                    "textDocument": self.document(),
                    "range": span,
                    "context": {"diagnostics": []},
                }
            case "textDocument/documentLink":
                return {"textDocument": self.document()}
            case "workspace/symbol":
                return {"query": rng.choice(WORDS)}
            case "completionItem/resolve":
                return {"label": "x", "data": self.maybe({"root": str(self.root), "chunk_id": 1})}
            case "codeAction/resolve":
                data = {
                    "mode": rng.choice(["ask", "explain", "x"]),
                    "uri": rng.choice(self.uris),
                    "line": 0,
                    "text": rng.choice(WORDS),
                }
                return {"title": "t", "data": self.maybe(data)}
            case "workspace/executeCommand":
                return {
                    "command": rng.choice(COMMANDS),
                    "arguments": [self.junk() for _ in range(2)],
                }
            case "lore/search":
                return {"query": self.maybe(rng.choice(WORDS)), "k": self.maybe(3)}
            case "lore/ask":
                return {"question": self.maybe(rng.choice(WORDS[:4]))}
            case "initialize":
                return {"processId": None, "rootUri": self.root.as_uri(), "capabilities": {}}
            case "textDocument/didOpen":
                item = {
                    "uri": rng.choice(self.uris[:4]),
                    "languageId": rng.choice(["markdown", "python"]),
                    "version": 1,
                    "text": self.text(),
                }
                return {"textDocument": item}
            case "textDocument/didChange":
                change: dict[str, Any] = {"text": self.text()}
                if rng.random() < 0.7:
                    change["range"] = span
                doc = {"uri": rng.choice(self.uris[:4]), "version": rng.randint(2, 99)}
                return {"textDocument": doc, "contentChanges": [change]}
            case "textDocument/didClose" | "textDocument/didSave":
                return {"textDocument": self.document()}
            case "workspace/didChangeWatchedFiles":
                return {
                    "changes": [{"uri": rng.choice(self.uris), "type": rng.choice([1, 2, 3, 9])}]
                }
            case "workspace/didChangeConfiguration":
                return {
                    "settings": self.maybe({"lore": {"hover": {"max_lines": rng.choice([3, -1])}}})
                }
            case "$/cancelRequest":
                return {"id": rng.randint(1_000, self.next_id)}
            case "$/setTrace":
                return {"value": rng.choice(["off", "verbose", "bogus"])}
        return self.junk()

    # --- messages ------------------------------------------------------------------------

    def fresh_id(self) -> int | str:
        self.next_id += 1
        return self.next_id if self.rng.random() < 0.8 else f"s-{self.next_id}"

    def message(self) -> tuple[bytes, Any]:
        """A body to send, and the id its answer must carry (``...`` when none is owed)."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.03:
            body = rng.choice([b"{not json", b"\xff\xfe", b"", b"[]", b"[1, 2]", b"null", b'"x"'])
            return body, None
        if roll < 0.05:
            msg_id = self.fresh_id()
            depth = rng.choice([50, 999, 1500, 20_000])
            deep = "[" * depth + "]" * depth
            envelope = f'"jsonrpc": "2.0", "id": {json.dumps(msg_id)}, "method": "lore/search"'
            body = f'{{{envelope}, "params": {{"q": {deep}}}}}'
            return body.encode(), msg_id
        message: dict[str, Any] = {"jsonrpc": "2.0"}
        owed: Any = ...
        if rng.random() < 0.6:
            method = rng.choice(REQUESTS)
            msg_id = self.fresh_id()
            message.update(id=msg_id, method=method, params=self.params(method))
            owed = msg_id
        else:
            method = rng.choice(NOTIFICATIONS)
            message.update(method=method, params=self.params(method))
        mutation = rng.random()
        if mutation < 0.03:
            del message["jsonrpc"]
        elif mutation < 0.06:
            message["jsonrpc"] = rng.choice(["1.0", 2, None, "2.0 "])
        elif mutation < 0.09:
            bad_id = rng.choice([True, None, 1.5, [1], {"a": 1}])
            message["id"] = bad_id
            owed = None
        elif mutation < 0.12:
            message["id"] = owed = self.fresh_id()  # a notification method with an id
        elif mutation < 0.14:
            message["method"] = rng.choice([42, None, ["x"]])
        elif mutation < 0.16:
            message["params"] = rng.choice(["x", 1, True, None])
        elif mutation < 0.18:
            del message["params"]
        return json.dumps(message).encode(), owed


class Run:
    """Sends the fuzzer's messages to a server and checks that each request with an id is
    answered exactly once."""

    def __init__(self, server: RawServer, fuzzer: Fuzzer) -> None:
        self.server = server
        self.fuzzer = fuzzer
        self.owed: set[Any] = set()
        self.bodies: dict[Any, bytes] = {}
        self.answered: set[Any] = set()
        self.null_owed = self.null_answered = 0
        self.outcomes: Counter[Any] = Counter()

    def send(self, count: int) -> None:
        for _ in range(count):
            body, owe = self.fuzzer.message()
            self.server.send_bytes(body)
            if owe is None:
                self.null_owed += 1
            elif owe is not ...:
                self.owed.add(owe)
                self.bodies[owe] = body

    def collect(self, until: Any, timeout: float) -> None:
        """Take in messages until ``until`` is answered (answering the server's requests)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self.server.receive(max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                body = self.bodies.get(until, b"")[:300]
                raise AssertionError(f"no answer to {body!r} (seed {SEED})") from None
            if "method" in message:
                if "id" in message:
                    self.server.send({"id": message["id"], "result": None})
                continue
            self.outcomes[message["error"]["code"] if "error" in message else "result"] += 1
            if message.get("id") is None:
                self.null_answered += 1
            else:
                assert message["id"] not in self.answered, f"answered twice: {message}"
                self.answered.add(message["id"])
            if message.get("id") == until and until is not None:
                return

    def settle(self) -> None:
        """Wait for every answer owed, then check that the server still serves."""
        health = self.fuzzer.fresh_id()
        self.server.send({"id": health, "method": "lore/status", "params": {}})
        self.owed.add(health)
        self.collect(health, timeout=60)
        # Requests still running (an answer, a search) finish within their deadlines.
        while missing := self.owed - self.answered:
            self.collect(next(iter(missing)), timeout=60)
        assert self.server.proc.poll() is None, f"the server died (seed {SEED})"

    def check(self) -> None:
        assert not self.owed - self.answered
        assert self.answered - self.owed == set(), (
            f"answers to ids never sent: {self.answered - self.owed}"
        )
        assert self.null_answered == self.null_owed, (self.null_answered, self.null_owed, SEED)
        # Not a run of refusals: many requests reached their handlers and were answered.
        assert self.outcomes["result"] > sum(self.outcomes.values()) / 4, self.outcomes

    def end(self) -> None:
        self.server.send({"id": "bye", "method": "shutdown"})
        self.collect("bye", timeout=30)
        self.server.send({"method": "exit"})
        assert self.server.proc.wait(timeout=10) == 0


def workspace(kb_root: Path) -> Path:
    (kb_root / "src").mkdir(exist_ok=True)
    (kb_root / "src" / "main.py").write_text("queue = RequestQueue()\nledger.settle(window)\n")
    return kb_root


def test_fuzzed_messages_are_all_answered_and_the_server_stays_up(kb_root: Path) -> None:
    root = workspace(kb_root)
    server = RawServer(root)
    run = Run(server, Fuzzer(random.Random(SEED), root))
    started = time.monotonic()
    try:
        server.initialize(root)
        server.wait_until_indexed(first_id=1)
        sent = 0
        while sent < MESSAGES:
            assert time.monotonic() - started < TIME_LIMIT_S, f"over time (seed {SEED})"
            run.send(BATCH)
            sent += BATCH
            run.settle()
        run.check()
        run.end()
    finally:
        server.close()


def test_fuzzed_messages_sent_while_the_server_loads_are_all_answered_once(
    kb_root: Path, tmp_path: Path
) -> None:
    """Before pygls has loaded, hovers are answered early (``lore.lsp.early``) and everything
    else is kept for the server: each request still gets one answer."""
    root = workspace(kb_root)
    first = RawServer(root)  # records the initialize answer, and indexes
    try:
        first.initialize(root)
        first.wait_until_indexed(first_id=1)
    finally:
        first.close()
    gate = Gate(tmp_path)
    server = RawServer(root, env=gate.env)
    fuzzer = Fuzzer(random.Random(SEED + 1), root)
    run = Run(server, fuzzer)
    try:
        server.initialize(root)
        for uri in fuzzer.uris[:2]:  # documents to hover on, among the fuzzed ones
            text = (root / uri.removeprefix(root.as_uri() + "/")).read_text()
            item = {"uri": uri, "languageId": "markdown", "version": 1, "text": text}
            server.send({"method": "textDocument/didOpen", "params": {"textDocument": item}})
        hovers = [fuzzer.fresh_id() for _ in range(20)]
        for n, msg_id in enumerate(hovers):
            position = {"line": n % 4, "character": (7 * n) % 20}
            params = {"textDocument": {"uri": fuzzer.uris[n % 2]}, "position": position}
            server.send({"id": msg_id, "method": "textDocument/hover", "params": params})
            run.owed.add(msg_id)
        for msg_id in hovers:  # answered while pygls cannot even load
            run.collect(msg_id, timeout=30)
        run.send(BATCH)
        gate.open()
        run.settle()
        run.check()
        run.end()
    finally:
        server.close()
