"""Sentence embeddings of sections: the real model, the store in the real index, reranking."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from lore.kb import semantic
from lore.kb.knowledge_base import KnowledgeBase
from lore.kb.lookup import Library
from lore.raise_.pipeline import Pipeline

from .conftest import open_kb

pytestmark = pytest.mark.skipif(not semantic.available(), reason="the model is not installed")

QUESTION = "How do I recover the ledger after an outage?"


def stored_count(kb: KnowledgeBase) -> int:
    return kb.catalog.reader.execute("SELECT count(*) FROM unit_vectors").fetchone()[0]


def test_the_model_puts_paraphrases_closer_than_unrelated_text() -> None:
    vectors = semantic.encoder().embed(
        [
            "How long does SQS keep a message?",
            "Amazon SQS retains messages for four days by default, up to 14 days.",
            "Lambda functions can be written in Python, Node.js or Java.",
        ]
    )
    assert vectors.shape == (3, semantic.DIM) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_a_unit_is_the_title_headings_and_first_lines() -> None:
    unit = semantic.unit_text("Queues", ("Queues", "Retention"), "Messages stay\n four days. " * 99)
    assert unit.startswith("Queues — Retention: Messages stay four days.")
    assert len(unit) < len("Queues — Retention: ") + semantic.UNIT_CHARS + 1


def first_citation(kb: KnowledgeBase, question: str) -> str:
    """The path of the best source the answer was written from."""
    answer = Pipeline().answer(Library([kb]), question, kb.settings)
    (act,) = [step for step in answer.trace if step["stage"] == "act"]
    return act["top"][0].partition(":")[0]


def test_reranking_puts_the_page_that_answers_first(kb: KnowledgeBase) -> None:
    # Nothing embedded yet: the full-text order.
    assert first_citation(kb, QUESTION) == "README.md"
    assert kb.search(QUESTION, 1)[0].chunk.path == "README.md"

    kb.embed_sections()
    assert first_citation(kb, QUESTION) == "runbooks/ledger-outage.md"
    # `lore/search` stays full-text.
    assert kb.search(QUESTION, 1)[0].chunk.path == "README.md"


def test_an_answer_may_embed_the_sections_it_needs(kb_root: Path) -> None:
    with open_kb(kb_root, semantic={"embed_missing": 50}) as eager:
        eager.index()
        assert first_citation(eager, QUESTION) == "runbooks/ledger-outage.md"
        assert 0 < stored_count(eager) < eager.catalog.chunk_count()


def test_similarity_fuses_with_the_scores_and_is_neutral_where_missing() -> None:
    fused = semantic.fuse({"a": 2.0, "b": 1.0, "c": 1.0}, {"a": 0.1, "b": 0.9}, weight=1.0)
    assert fused["b"] > fused["a"] > fused["c"]
    assert fused["c"] == pytest.approx(0.5 + 0.5)
    assert semantic.fuse({"a": 2.0}, {}, weight=1.0) == {"a": 2.0}


def test_embedding_resumes_where_it_stopped_and_forgets_deleted_sections(
    kb: KnowledgeBase, kb_root: Path
) -> None:
    first = kb.embed_sections(limit=5)
    assert (first.added, first.done) == (5, False) and first.total > 10
    assert stored_count(kb) == 5

    rest = kb.embed_sections()
    assert rest.added == first.total - 5 and rest.done
    assert stored_count(kb) == rest.total
    assert kb.status()["semantic"]["embedded"] == rest.total

    (kb_root / "runbooks" / "ledger-outage.md").unlink()
    kb.index()
    kb.close()
    # A new process reads every section's key, and deletes the vectors no section uses.
    with open_kb(kb_root) as reopened:
        again = reopened.embed_sections()
        assert again.added == 0 and again.done
        assert stored_count(reopened) == again.total < rest.total


def test_after_an_edit_only_the_new_sections_are_read_and_embedded(
    kb: KnowledgeBase, kb_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb.embed_sections()
    runbook = kb_root / "runbooks" / "ledger-outage.md"
    runbook.write_text(runbook.read_text() + "\n## Aftermath\n\nWrite the incident review.\n")
    kb.index()
    scans = []
    real = semantic._unit_keys_in_order
    monkeypatch.setattr(
        semantic,
        "_unit_keys_in_order",
        lambda kb, after=0, pause=lambda: None: scans.append(after) or real(kb, after, pause),
    )
    progress = kb.embed_sections()
    assert scans and all(after > 0 for after in scans)  # no full scan
    # The edited page's sections are new chunks; only the new and changed units are embedded.
    assert 1 <= progress.added <= len(kb.chunks_of("runbooks/ledger-outage.md"))
    assert progress.done


def test_a_cancelled_run_stops_between_batches_and_keeps_them(kb: KnowledgeBase) -> None:
    batches = []
    progress = kb.embed_sections(
        cancelled=lambda: len(batches) >= 1, progress=batches.append, limit=None
    )
    assert not progress.done and progress.added == stored_count(kb) > 0


def test_the_background_job_embeds_after_a_wake_and_stops_on_close(kb: KnowledgeBase) -> None:
    finished = threading.Event()

    def progress(_kb: KnowledgeBase, state: semantic.EmbedProgress) -> None:
        if state.done:
            finished.set()

    job = semantic.BackgroundEmbedder(lambda: [kb], progress)
    job.wake()
    assert finished.wait(60)
    job.close()
    assert stored_count(kb) == kb.status()["semantic"]["total"]


def test_the_background_job_gives_way_while_requests_are_served(kb: KnowledgeBase) -> None:
    busy = True
    asked = threading.Event()
    finished = threading.Event()

    def quiet() -> bool:
        asked.set()
        return not busy

    def progress(_kb: KnowledgeBase, state: semantic.EmbedProgress) -> None:
        if state.done:
            finished.set()

    job = semantic.BackgroundEmbedder(lambda: [kb], progress, quiet=quiet)
    job.wake()
    assert asked.wait(60)
    assert stored_count(kb) == 0  # nothing embedded while the server is busy
    busy = False
    assert finished.wait(60)
    job.close()
    assert stored_count(kb) == kb.status()["semantic"]["total"] > 0
