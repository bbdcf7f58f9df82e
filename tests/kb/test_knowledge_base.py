"""The knowledge base against real SQLite, sqlite-vec and tantivy."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from lore.config import load_settings
from lore.kb.knowledge_base import IndexBusyError, IndexError_, KnowledgeBase

from .conftest import open_kb


def test_first_index_reads_every_file(kb_root: Path) -> None:
    with open_kb(kb_root) as kb:
        report = kb.index()
        assert (report.files, report.indexed, report.unchanged) == (6, 6, 0)
        assert report.chunks > 10 and report.bytes > 2000 and report.generation >= 1
        assert {d["path"] for d in kb.documents()} >= {"glossary/terms.md", "notes.txt"}


def test_reindex_is_incremental(kb: KnowledgeBase, kb_root: Path) -> None:
    again = kb.index()
    assert (again.indexed, again.unchanged, again.removed) == (0, 6, 0)

    (kb_root / "notes.txt").write_text("On-call notes\n\nThe pager rotates weekly.\n")
    (kb_root / "runbooks" / "ledger-outage.md").unlink()
    (kb_root / "new.md").write_text("# Brand new\n\nThe **flux capacitor** needs 1.21 GW.\n")
    os.utime(kb_root / "README.md", ns=(1, 1))  # touched, same content: no re-read
    report = kb.index()
    assert (report.indexed, report.removed) == (2, 1)
    assert kb.search("pager rotates weekly", 1)[0].chunk.path == "notes.txt"
    assert not kb.search("ledgerctl failover standby", 3) or all(
        r.chunk.path != "runbooks/ledger-outage.md" for r in kb.search("ledgerctl failover", 5)
    )
    assert kb.lookup_terms("FluxCapacitor")[0].path == "new.md"
    # Every store dropped the old chunks: one vector and one posting per chunk, no orphans.
    (vectors,) = kb.catalog.reader.execute("SELECT count(*) FROM vectors").fetchone()
    assert vectors == kb.catalog.chunk_count() == kb.fulltext.num_docs()


@pytest.mark.parametrize(
    "query", ["RequestQueue", "request_queue", "request-queue", "Request queue"]
)
def test_identifier_forms_find_the_definition_first(kb: KnowledgeBase, query: str) -> None:
    top = kb.search(query, 3)[0]
    assert top.chunk.path == "glossary/terms.md"
    assert top.chunk.heading == "Request queue"
    assert top.scores.get("exact") == 1.0


def test_results_point_at_the_right_lines(kb: KnowledgeBase, kb_root: Path) -> None:
    for result in kb.search("fail over the ledger database to the standby replica", 5):
        lines = (kb_root / result.chunk.path).read_text().splitlines()
        span = "\n".join(lines[result.chunk.start_line - 1 : result.chunk.end_line])
        assert span == result.chunk.text
    top = kb.search("ledgerctl failover", 1)[0]
    assert top.chunk.path == "runbooks/ledger-outage.md"
    assert top.chunk.heading_path == ("Ledger outage runbook", "Mitigation")


@pytest.mark.parametrize("query", ['AND OR ((( "', "title:foo", "a* ~2 ^3", "x" * 100_000])
def test_hostile_queries_never_raise(kb: KnowledgeBase, query: str) -> None:
    assert isinstance(kb.search(query, 5), list)


def test_blank_query_gives_nothing(kb: KnowledgeBase) -> None:
    assert kb.search("   ", 5) == []


def test_vocabulary_lookups(kb: KnowledgeBase) -> None:
    terms = kb.lookup_terms("settlement_window")
    assert (
        terms[0].kind == "heading" and terms[0].line == 9 and terms[0].anchor == "settlement-window"
    )
    assert kb.chunk(terms[0].chunk_id).start_line <= 9 <= kb.chunk(terms[0].chunk_id).end_line
    assert "Settlement window" in [t.text for t in kb.terms_with_prefix("sett")]
    assert "Idempotency key" in [t.text for t in kb.terms_with_prefix("idem")]
    headings = [t.text for t in kb.headings("ledger")]
    assert "Ledger outage runbook" in headings and len(headings) == len(set(headings))


def test_neighbours_read_around_a_hit(kb: KnowledgeBase) -> None:
    chunks = kb.chunks_of("glossary/terms.md")
    around = kb.neighbours(chunks[1].chunk_id)
    assert [c.ordinal for c in around] == [0, 1, 2]


def test_unreadable_binary_huge_and_latin1_files_are_listed(kb_root: Path) -> None:
    (kb_root / "blob.md").write_bytes(b"# x\0\1\2")
    (kb_root / "huge.md").write_text("# Huge\n\n" + "word " * 5000)
    (kb_root / "old.txt").write_bytes(b"Caf\xe9 menu\n\nCr\xe8me br\xfbl\xe9e.\n")
    secret = kb_root / "secret.md"
    secret.write_text("# Secret\n")
    secret.chmod(0)
    with open_kb(kb_root, index={"max_file_bytes": 10_000}) as kb:
        report = kb.index()
        reasons = {s["path"]: s["reason"] for s in kb.status()["skipped"]}
        assert reasons["blob.md"] == "binary"
        assert reasons["huge.md"] == "too-large"
        assert reasons["old.txt"].startswith("not UTF-8")
        if os.geteuid() != 0:  # root reads anything
            assert reasons["secret.md"].startswith("unreadable")
        assert report.skipped >= 2
        assert kb.search("crème brûlée", 1)[0].chunk.path == "old.txt"


def test_missing_root_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(IndexError_, match="no such folder"):
        KnowledgeBase.open(tmp_path / "nope", load_settings(None))


def test_a_second_opener_follows_the_writer(kb: KnowledgeBase, kb_root: Path) -> None:
    with KnowledgeBase.open(kb_root, kb.settings) as follower:
        assert follower.read_only
        with pytest.raises(IndexBusyError):
            follower.index()
        before = follower.generation
        (kb_root / "later.md").write_text("# Later\n\nThe **zeppelin** arrives at noon.\n")
        kb.index()
        assert follower.refresh()
        assert follower.generation > before
        assert follower.search("zeppelin arrives", 1)[0].chunk.path == "later.md"


def test_a_corrupt_catalog_is_rebuilt_and_said_so(kb_root: Path) -> None:
    with open_kb(kb_root) as kb:
        kb.index()
        db = kb.index_dir / "lore.db"
    db.write_bytes(b"this is not a database" * 100)
    for extra in ("lore.db-wal", "lore.db-shm"):
        (db.parent / extra).unlink(missing_ok=True)
    with open_kb(kb_root) as kb:
        assert kb.repaired and "rebuilt" in kb.repaired
        assert kb.index().indexed == 6
        assert kb.search("settlement window", 1)


def test_a_lost_fulltext_index_is_noticed(kb_root: Path) -> None:
    with open_kb(kb_root) as kb:
        kb.index()
        fulltext = kb.index_dir / "fulltext"
    for f in fulltext.iterdir():
        f.unlink()
    with open_kb(kb_root) as kb:
        assert kb.repaired
        kb.index()
        assert kb.search("ledgerctl failover", 1)[0].chunk.path == "runbooks/ledger-outage.md"


def test_an_embedder_change_reembeds(kb_root: Path) -> None:
    with open_kb(kb_root) as kb:
        kb.index()
    with open_kb(kb_root, embedder={"dim": 64}) as kb:
        assert kb.repaired and "embedder or chunking changed" in kb.repaired
        report = kb.index()
        assert report.reembedded and report.indexed == 6
        assert kb.status()["embedder"]["dim"] == 64
        assert kb.search_vector("settlement window", 1)[0].chunk.heading == "Settlement window"


@pytest.mark.parametrize("content", ["x", ".", "---", "# h", "😀🎉"])
def test_a_page_without_words_leaves_search_working(kb_root: Path, content: str) -> None:
    (kb_root / "x.md").write_text(content, encoding="utf-8")
    with open_kb(kb_root) as kb:
        kb.index()
        for query in ("settlement window", content, "h x"):
            kb.search(query, 5)  # no TypeError from a word-less chunk's vector
        assert kb.search("settlement window", 5)[0].chunk.path == "glossary/terms.md"
        assert kb.search_vector("settlement window", 50)


def test_search_lists_each_page_once_at_its_best_section(kb: KnowledgeBase) -> None:
    # The runbook has several sections about the ledger: one result stands for the page.
    results = kb.search("ledger database failover standby replica", 10)
    paths = [r.chunk.path for r in results]
    assert len(paths) == len(set(paths)) and "runbooks/ledger-outage.md" in paths
    assert len(kb.search("ledger database failover standby replica", 10, per_page=3)) > len(paths)


def test_search_leaves_the_vector_scan_out_unless_it_is_weighted(kb_root: Path) -> None:
    with open_kb(kb_root) as plain:
        plain.index()
        assert all("vector" not in r.scores for r in plain.search("settlement window", 5))
    with open_kb(kb_root, search={"vector_weight": 0.25}) as hybrid:
        assert any("vector" in r.scores for r in hybrid.search("settlement window", 5))


def test_the_index_folder_keeps_itself_out_of_git(kb_root: Path) -> None:
    subprocess.run(["git", "init", "-q", str(kb_root)], check=True)
    KnowledgeBase.open(kb_root, load_settings(kb_root)).close()
    assert (kb_root / ".lore" / ".gitignore").read_text() == "*\n"
    untracked = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=kb_root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert untracked  # the knowledge base's own files
    assert ".lore" not in untracked
