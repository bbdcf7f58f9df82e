"""The shared knowledge base in a real PostgreSQL: schema, incremental indexing, one writer,
the readers' mirror, and no password in sight. (The features themselves run on both backends:
see the ``library`` fixture and the language-server tests.)"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from conftest import index_shared
from lore.config import load_settings
from lore.kb.fulltext import query_words
from lore.kb.knowledge_base import IndexBusyError
from lore.kb.postgres import (
    SCHEMA_VERSION,
    SharedIndex,
    SharedKbError,
    SharedKnowledgeBase,
    embedder_identity,
    redact,
)


def _rows(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def test_the_schema_is_versioned_and_records_the_embedder(kb_root: Path, shared_url: str) -> None:
    index_shared(kb_root, shared_url)
    assert _rows(shared_url, "SELECT version FROM lore_schema") == [(SCHEMA_VERSION,)]
    meta = dict(_rows(shared_url, "SELECT key, value FROM lore_meta"))
    assert meta["embedder"] == embedder_identity(load_settings(kb_root))
    assert int(meta["generation"]) >= 1
    indexes = dict(_rows(shared_url, "SELECT indexname, indexdef FROM pg_indexes"))
    assert "USING gin (search)" in indexes["chunks_search"]
    assert "text_pattern_ops" in indexes["terms_normalized"]
    # Title, heading path and body carry their own weights.
    weights = _rows(
        shared_url,
        "SELECT DISTINCT w FROM chunks, unnest(search) AS u(lexeme, positions, weights), "
        "unnest(weights) AS w ORDER BY w",
    )
    assert [w for (w,) in weights] == ["A", "B", "D"]


def test_indexing_again_is_incremental_by_content_hash(kb_root: Path, shared_url: str) -> None:
    settings = load_settings(kb_root)
    with SharedIndex.open(shared_url, kb_root, settings) as target:
        first = target.index()
        assert first.indexed == 6 and first.files == 6
        assert target.index().indexed == 0
        page = kb_root / "glossary" / "terms.md"
        page.write_text(page.read_text())  # a new mtime, the same content
        (kb_root / "notes.txt").unlink()
        (kb_root / "new.md").write_text("# Brand new\n\nA page about the merge freeze.\n")
        report = target.index()
    assert (report.indexed, report.removed, report.unchanged) == (1, 1, 5)
    paths = [p for (p,) in _rows(shared_url, "SELECT path FROM documents ORDER BY path")]
    assert "new.md" in paths and "notes.txt" not in paths and len(paths) == len(set(paths))
    assert report.generation > first.generation


def test_one_indexer_at_a_time(kb_root: Path, shared_url: str) -> None:
    settings = load_settings(kb_root)
    with (
        SharedIndex.open(shared_url, kb_root, settings),
        pytest.raises(IndexBusyError, match="another indexer"),
    ):
        SharedIndex.open(shared_url, kb_root, settings)
    SharedIndex.open(shared_url, kb_root, settings).close()  # the lock went with the session


def test_a_chunking_change_rebuilds(kb_root: Path, shared_url: str) -> None:
    index_shared(kb_root, shared_url)
    settings = load_settings(kb_root, {"chunk": {"max_chars": 400}})
    with SharedIndex.open(shared_url, kb_root, settings) as target:
        assert target.rebuilt and "changed" in target.rebuilt
        assert target.index().indexed == 6


def open_shared(root: Path, url: str) -> SharedKnowledgeBase:
    """A reader of the knowledge base that ``url`` holds, for ``root``'s settings."""
    return SharedKnowledgeBase.open(url, root, load_settings(root))


def test_a_newer_schema_is_refused(kb_root: Path, shared_url: str) -> None:
    index_shared(kb_root, shared_url)
    with psycopg.connect(shared_url, autocommit=True) as conn:
        conn.execute("INSERT INTO lore_schema (version, description) VALUES (99, 'future')")
    with pytest.raises(SharedKbError, match="schema version 99"):
        open_shared(kb_root, shared_url)
    with pytest.raises(SharedKbError, match="upgrade Lore"):
        SharedIndex.open(shared_url, kb_root, load_settings(kb_root))


def test_an_empty_database_says_to_index_first(kb_root: Path, shared_url: str) -> None:
    with pytest.raises(SharedKbError, match="lore index --to"):
        open_shared(kb_root, shared_url)


def test_readers_follow_the_generation_in_their_mirror(kb_root: Path, shared_url: str) -> None:
    index_shared(kb_root, shared_url)
    with open_shared(kb_root, shared_url) as kb:
        assert not kb.lookup_terms("MergeFreeze")
        assert kb.refresh() is False
        (kb_root / "freeze.md").write_text("# Merge freeze\n\nNo merges on Fridays.\n")
        index_shared(kb_root, shared_url)
        assert not kb.lookup_terms("MergeFreeze")  # the mirror waits for the refresh
        assert kb.refresh() is True
        [term] = [t for t in kb.lookup_terms("MergeFreeze") if t.kind == "heading"]
        assert kb.chunk(term.chunk_id).text.startswith("# Merge freeze")
        assert kb.status()["generation"] == kb.generation
        (kb_root / "freeze.md").unlink()
        index_shared(kb_root, shared_url)
        assert kb.refresh() is True
        assert not kb.lookup_terms("MergeFreeze")
        assert not kb.headings("Merge freeze")


def test_readers_cannot_write(kb_root: Path, shared_url: str) -> None:
    index_shared(kb_root, shared_url)
    with open_shared(kb_root, shared_url) as kb:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            kb._conn().execute("DELETE FROM documents")
        with pytest.raises(IndexBusyError, match="lore index --to"):
            kb.index()


def test_a_password_never_shows(kb_root: Path, shared_url: str) -> None:
    with_password = shared_url.replace("lore@", "lore:hunter2-secret@")
    index_shared(kb_root, with_password)
    with open_shared(kb_root, with_password) as kb:
        status = json.dumps(kb.status())
    assert "hunter2" not in status and redact(with_password) in status
    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        nowhere = f"postgresql://lore:hunter2-secret@127.0.0.1:{s.getsockname()[1]}/kb"
    with pytest.raises(SharedKbError) as failure:
        open_shared(kb_root, nowhere)
    assert "hunter2" not in str(failure.value) and "cannot connect" in str(failure.value)


def _corpus(root: Path, pages: int) -> None:
    for n in range(pages):
        folder = root / f"guide-{n % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        sections = "\n\n".join(
            f"## Step {s} of page {n}\n\nConfigure widget {n}-{s} before the gateway {s}.\n"
            + "More words to make a chunk. " * 30
            for s in range(4)
        )
        (folder / f"page-{n}.md").write_text(f"# Page {n}\n\n{sections}\n")


def _wait(condition, what: str, timeout: float = 60) -> None:
    """Wait (by a deadline) until ``condition()`` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def _indexer_in_a_write(url: str) -> bool:
    rows = _rows(
        url,
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'lore' "
        "AND backend_xid IS NOT NULL",
    )
    return rows[0][0] > 0


def _no_indexer(url: str) -> bool:
    rows = _rows(url, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'lore'")
    return rows[0][0] == 0


def test_a_killed_indexer_loses_and_duplicates_nothing(tmp_path: Path, shared_url: str) -> None:
    root = tmp_path / "docs"
    _corpus(root, 300)
    command = [sys.executable, "-m", "lore", "index", "--to", shared_url, str(root)]
    env = {**os.environ, "LORE_INDEX__BATCH_FILES": "10"}
    with psycopg.connect(shared_url, autocommit=True) as listener:
        indexer = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _wait(lambda: _rows(shared_url, "SELECT to_regclass('lore_meta')")[0][0], "the schema")
        listener.execute("LISTEN lore_generation")
        # A few batches committed, then killed in the middle of writing the next one.
        for _ in listener.notifies(timeout=60, stop_after=3):
            pass
        _wait(lambda: _indexer_in_a_write(shared_url), "a batch in flight")
        indexer.send_signal(signal.SIGKILL)
        indexer.wait()
    committed = _rows(shared_url, "SELECT count(*) FROM documents")[0][0]
    assert 0 < committed < 300, "killed mid-run"
    # Every committed document is whole: its chunks and its title term are all there.
    broken = _rows(
        shared_url,
        "SELECT d.path FROM documents d WHERE d.chunk_count <> "
        "(SELECT count(*) FROM chunks c WHERE c.doc_id = d.id) "
        "OR NOT EXISTS (SELECT 1 FROM terms t WHERE t.doc_id = d.id AND t.kind = 'title')",
    )
    assert broken == []
    _wait(lambda: _no_indexer(shared_url), "the killed session to end")

    rerun = subprocess.run([*command, "--json"], env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    assert report["indexed"] == 300 - committed and report["files"] == 300
    paths = [p for (p,) in _rows(shared_url, "SELECT path FROM documents")]
    assert len(paths) == len(set(paths)) == 300
    chunks = _rows(shared_url, "SELECT count(*), count(DISTINCT (doc_id, ordinal)) FROM chunks")
    assert chunks[0][0] == chunks[0][1], "no chunk written twice"
    expected = sum(n for (n,) in _rows(shared_url, "SELECT chunk_count FROM documents"))
    assert chunks[0][0] == expected


def test_words_most_chunks_hold_are_left_out_of_matching(
    kb_root: Path, shared_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lore.kb import postgres

    monkeypatch.setattr(postgres, "COMMON_MIN_CHUNKS", 1)  # the fixture is small
    index_shared(kb_root, shared_url)
    common = json.loads(
        dict(_rows(shared_url, "SELECT key, value FROM lore_meta"))["common_lexemes"]
    )
    assert "the" in common and "settlement" not in common
    with open_shared(kb_root, shared_url) as kb:
        plain = kb._bm25("settlement window", 50)
        assert kb._bm25("the settlement window", 50) == plain
        assert kb._bm25("the", 50), "a query of common words only keeps them"


def test_ranking_those_with_two_words_first_keeps_the_best(kb_root: Path, shared_url: str) -> None:
    index_shared(kb_root, shared_url)
    with open_shared(kb_root, shared_url) as kb:
        for question in (
            "what happens to the ledger during the settlement window",
            "how does the request queue order work by priority",
            "who approves a retry budget change for payments",
        ):
            words = query_words(question)
            assert kb._bm25(question, 3) == kb._ranked(words, 3), question
        # Whatever the words, the query is well-formed (a bad one would raise here).
        for odd in ("___ __init__ foo_bar x", "é ü 北京 1e10 a'b", "and or not <-> ! & |"):
            kb._bm25(odd, 3)
