"""Reads scale with streaming replicas: index into the primary, read from a standby made by
``pg_basebackup -R`` on another loopback port, also while the indexer writes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest

from conftest import index_shared
from lore.config import load_settings
from lore.kb.postgres import SharedIndex, SharedKnowledgeBase
from support.postgres import Cluster


@pytest.fixture(scope="module")
def replica(postgres: Cluster):
    standby = Cluster(postgres.base, "replica").replica_of(postgres)
    yield standby
    standby.stop()


def _caught_up(primary_url: str, replica_url: str, timeout: float = 60) -> None:
    """Wait (by a deadline) until the standby has replayed everything the primary wrote
    (asked in the maintenance database: the knowledge base's own may not be there yet)."""
    primary_url = primary_url.rsplit("/", 1)[0] + "/postgres"
    replica_url = replica_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(primary_url, autocommit=True) as primary:
        target = primary.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    deadline = time.monotonic() + timeout
    with psycopg.connect(replica_url, autocommit=True) as standby:
        while not standby.execute(
            "SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), %s) >= 0", (target,)
        ).fetchone()[0]:
            assert time.monotonic() < deadline, "the replica never caught up"
            time.sleep(0.01)


def _on(replica: Cluster, url: str) -> str:
    return url.replace(url.rsplit("@", 1)[1].split("/")[0], f"127.0.0.1:{replica.port}")


def test_editors_read_from_a_replica(kb_root: Path, shared_url: str, replica: Cluster) -> None:
    index_shared(kb_root, shared_url)
    replica_url = _on(replica, shared_url)
    _caught_up(shared_url, replica_url)
    settings = load_settings(kb_root)
    kb = SharedKnowledgeBase.open(replica_url, kb_root, settings)
    primary = SharedKnowledgeBase.open(shared_url, kb_root, settings)
    try:
        status = kb.status()
        assert status["replica"]["standby"] is True and status["replica"]["lag_bytes"] >= 0
        assert status["documents"] == 6 and status["generation"] == primary.generation
        for query in ("ledgerctl failover", "settlement window", "RequestQueue"):
            assert [r.chunk.path for r in kb.search(query, 3)] == [
                r.chunk.path for r in primary.search(query, 3)
            ]
        assert kb.lookup_terms("RequestQueue")[0].path == "glossary/terms.md"
    finally:
        kb.close()
        primary.close()


def test_reads_from_a_replica_while_the_indexer_writes(
    tmp_path: Path, kb_root: Path, shared_url: str, replica: Cluster
) -> None:
    index_shared(kb_root, shared_url)
    replica_url = _on(replica, shared_url)
    _caught_up(shared_url, replica_url)
    for n in range(200):
        (kb_root / "more" / f"page-{n}.md").parent.mkdir(exist_ok=True)
        (kb_root / "more" / f"page-{n}.md").write_text(
            f"# Extra page {n}\n\nThe quokka enclosure drill number {n}.\n"
        )
    settings = load_settings(kb_root, {"index": {"batch_files": 10}})
    kb = SharedKnowledgeBase.open(replica_url, kb_root, settings)
    failures: list[BaseException] = []

    def write() -> None:
        try:
            with SharedIndex.open(shared_url, kb_root, settings) as target:
                target.index()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            failures.append(exc)

    writer = threading.Thread(target=write)
    generations = set()
    try:
        writer.start()
        while writer.is_alive():
            kb.refresh()
            generations.add(kb.generation)
            results = kb.search("ledgerctl failover", 5)
            # Whatever batch the replica is at, reads are whole: the runbook is found,
            # and every result's chunk is there.
            assert results[0].chunk.path == "runbooks/ledger-outage.md"
            assert all(r.chunk.text for r in results)
        writer.join()
        assert not failures, failures
        _caught_up(shared_url, replica_url)
        kb.refresh()
        assert len(kb.documents()) == 206
        assert kb.lookup_terms("Extra page 199")[0].path == "more/page-199.md"
        assert len(generations) > 1, "reads happened while batches were being committed"
    finally:
        writer.join()
        kb.close()
