"""Hybrid search: BM25 and vector rankings fused into one, plus exact terms.

Two fusions are available (``search.fusion``):

- ``rrf``, reciprocal rank fusion (Cormack et al., 2009), adds ``weight / (k + rank)`` over the
  rankings a chunk appears in. It needs no calibration between BM25 and cosine scores, but it
  also ignores how far apart the scores are, so a weak ranker reorders close calls.
- ``relative``, relative score fusion: BM25 scores divided by the best one, plus
  ``vector_weight`` times the cosine similarity. It keeps BM25's margins, so the hashed
  embeddings break near-ties instead of overriding clear wins.

A query that *is* a known term or heading (``RequestQueue`` for "Request queue") puts its
defining chunks first: users who type a name want its definition.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from lore.kb.fulltext import query_words
from lore.kb.types import ChunkRecord, SearchResult

SNIPPET_CHARS = 220
# Enough of a huge query to rank by; the rest adds time, not precision.
MAX_EMBED_CHARS = 4000


@dataclass(frozen=True, slots=True)
class Candidates:
    """The raw rankings of one query, best first."""

    bm25: Sequence[tuple[int, float]]
    vector: Sequence[tuple[int, float]]
    exact: Sequence[int]


def fuse(
    candidates: Candidates,
    *,
    method: str,
    rrf_k: float,
    bm25_weight: float,
    vector_weight: float,
) -> list[tuple[int, float, dict[str, float]]]:
    """``(chunk_id, fused score, parts)`` best first."""
    fused: dict[int, float] = {}
    parts: dict[int, dict[str, float]] = {}
    top_bm25 = max((score for _, score in candidates.bm25), default=0.0) or 1.0
    for rank, (chunk_id, score) in enumerate(candidates.bm25, start=1):
        part = 1 / (rrf_k + rank) if method == "rrf" else score / top_bm25
        fused[chunk_id] = fused.get(chunk_id, 0.0) + bm25_weight * part
        parts.setdefault(chunk_id, {}).update(bm25=score, bm25_rank=rank)
    for rank, (chunk_id, similarity) in enumerate(candidates.vector, start=1):
        part = 1 / (rrf_k + rank) if method == "rrf" else similarity
        fused[chunk_id] = fused.get(chunk_id, 0.0) + vector_weight * part
        parts.setdefault(chunk_id, {}).update(vector=similarity, vector_rank=rank)
    # Exact matches go first, in their own order (headings before mentions): the boost is
    # larger than any fused score can be.
    exact_boost = 1.0 if method == "rrf" else bm25_weight + vector_weight + 1.0
    for position, chunk_id in enumerate(candidates.exact):
        fused[chunk_id] = fused.get(chunk_id, 0.0) + exact_boost / (1 + position * 0.01)
        parts.setdefault(chunk_id, {})["exact"] = 1.0
    ranked = sorted(fused.items(), key=lambda item: item[1], reverse=True)
    return [(chunk_id, score, parts[chunk_id]) for chunk_id, score in ranked]


def snippet(text: str, query: str, width: int = SNIPPET_CHARS) -> str:
    """One line of ``text`` around the first query word it contains."""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    lowered = flat.lower()
    positions = [lowered.find(w) for w in query_words(query) if len(w) > 2]
    hits = [p for p in positions if p >= 0]
    start = max(0, min(hits) - width // 4) if hits else 0
    # Start at a word boundary.
    if start > 0:
        space = flat.find(" ", start)
        start = space + 1 if 0 <= space < start + 20 else start
    end = min(len(flat), start + width)
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(flat) else ""
    return prefix + flat[start:end].rstrip() + suffix


def to_results(
    ranked: list[tuple[int, float, dict[str, float]]],
    records: dict[int, ChunkRecord],
    query: str,
    k: int,
    *,
    per_page: int | None = None,
) -> list[SearchResult]:
    """The first ``k`` results, at most ``per_page`` of each page (None: no limit)."""
    results: list[SearchResult] = []
    shown: dict[int, int] = {}
    for chunk_id, score, parts in ranked:
        record = records.get(chunk_id)
        if record is None:
            continue  # deleted since the full-text index was read
        if per_page is not None:
            if shown.get(record.doc_id, 0) >= per_page:
                continue
            shown[record.doc_id] = shown.get(record.doc_id, 0) + 1
        results.append(SearchResult(record, score, snippet(record.text, query), parts))
        if len(results) >= k:
            break
    return results


_SPACES = re.compile(r"\s+")


def embed_text(query: str) -> str:
    return _SPACES.sub(" ", query[:MAX_EMBED_CHARS])
