"""The Rust extension as Python sees it: the stub's contract, and the GIL released in pop."""

from __future__ import annotations

import threading
from pathlib import Path

from lore import _native


def test_prepare_documents_keeps_lines_and_reports_errors(kb_root: Path) -> None:
    terms = kb_root / "glossary" / "terms.md"
    docs = _native.prepare_documents(
        [(str(terms), "glossary/terms.md"), (str(kb_root / "gone.md"), "gone.md")], dim=32
    )
    glossary, gone = docs
    lines = terms.read_text().splitlines()
    for chunk in glossary.chunks:
        assert "\n".join(lines[chunk.start_line - 1 : chunk.end_line]) == chunk.text
    assert [len(e) for e in glossary.embeddings] == [32 * 4] * len(glossary.chunks)
    assert gone.error is not None and gone.chunks == []


def test_walk_reports_skipped_files(kb_root: Path) -> None:
    (kb_root / "blob.md").write_bytes(b"\x00\x01")
    walked = _native.walk(str(kb_root), extensions=["md"], max_file_bytes=10_000)
    assert [(s.rel_path, s.reason) for s in walked.skipped] == [("blob.md", "binary")]


def test_identifier_forms_normalise_alike() -> None:
    forms = {_native.normalize_term(t) for t in ("RequestQueue", "request_queue", "request-queue")}
    assert forms == {"request queue"}


def test_workers_block_in_pop_without_holding_the_gil() -> None:
    queue = _native.RequestQueue()
    popped: list[object] = []
    started = threading.Barrier(3)

    def worker() -> None:
        started.wait()
        job = queue.pop(30)
        popped.append(job.payload if job else None)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    started.wait()
    # Both workers now block in pop(); this thread still runs Python code, which it could not
    # do if pop() held the GIL.
    total = sum(range(200_000))
    queue.submit("user", "a")
    queue.submit("user", "b")
    for t in threads:
        t.join(30)
    assert total > 0 and sorted(popped) == ["a", "b"]


def test_response_cache_keeps_to_its_budget() -> None:
    cache = _native.ResponseCache(100, 60.0)
    for n in range(20):
        cache.put(f"k{n}", b"x" * 10)
    stats = cache.stats()
    assert stats["bytes"] <= 100 and stats["evictions"] > 0
    assert cache.get("k19") == b"x" * 10 and cache.get("k0") is None
