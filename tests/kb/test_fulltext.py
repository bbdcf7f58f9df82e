"""The full-text index on its own (tantivy)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lore.kb import fulltext
from lore.kb.fulltext import FullText


@pytest.fixture
def index(tmp_path: Path):
    store = FullText(tmp_path / "fulltext", writable=True)
    rows = []
    for n in range(60):
        # Every chunk says "service"; a few say "retention", one says both with "period".
        words = ["the", "service", "queue"] + (["retention"] if n % 20 == 0 else [])
        words += ["period"] if n == 40 else []
        rows.append((n, f"page{n}.md", f"Page {n}", ["Section"], " ".join(words) + f" item{n}."))
    store.add_chunks(rows)
    store.commit()
    yield store
    store.close()


def test_words_most_chunks_hold_are_left_out_of_a_large_index(
    index: FullText, monkeypatch: pytest.MonkeyPatch
) -> None:
    question = "What is the retention period of the queue service?"
    words = fulltext.query_words(question)
    assert index._rare_enough(words) == words  # a small index keeps every word

    monkeypatch.setattr(fulltext, "COMMON_MIN_CHUNKS", 50)
    kept = index._rare_enough(words)
    assert {"retention", "period"} <= set(kept)
    assert not {"the", "service", "queue"} & set(kept)
    assert index.search(question, 1)[0][0] == 40
    # A query of common words only keeps them all.
    assert index._rare_enough(["the", "service"]) == ["the", "service"]
