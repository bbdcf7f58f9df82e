"""Act: run the planned searches and the tools (exact term lookup, neighbouring sections)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lore.kb import semantic
from lore.kb.lookup import Library
from lore.kb.types import ChunkRecord, SearchResult


@dataclass(slots=True)
class Hit:
    chunk: ChunkRecord
    score: float
    """Fused over the queries that found it (reciprocal rank, as in hybrid search)."""
    origins: set[str] = field(default_factory=set)
    semantic: float | None = None
    """Cosine similarity of the question and the hit's section, when that is embedded."""


@dataclass(slots=True)
class Evidence:
    hits: dict[tuple[str, int], Hit] = field(default_factory=dict)

    def add(self, chunk: ChunkRecord, score: float, origin: str) -> None:
        key = (chunk.abs_path, chunk.chunk_id)
        hit = self.hits.get(key)
        if hit is None:
            self.hits[key] = Hit(chunk, score, {origin})
        else:
            hit.score += score
            hit.origins.add(origin)

    def ranked(self) -> list[Hit]:
        return sorted(self.hits.values(), key=lambda h: h.score, reverse=True)


RANK_CONSTANT = 0.5
"""The k of the reciprocal-rank votes that fuse the queries' rankings. Small, so that the
leading query's order decides and the follow-ups mostly add sources: on the aws-dev questions
k = 10 put the right page first for 66 of 121, k = 3 for 72, k = 0.5 for 77 (with reranking;
72 without)."""
FOLLOW_UP_WEIGHT = 0.5
"""A follow-up query's share of the vote: the plan's first query says what was asked, so its
ranking leads (on SciFact dev, equal votes cost 0.7 points of first-citation precision)."""


def search(
    library: Library,
    evidence: Evidence,
    queries: list[str],
    k: int,
    *,
    follow_up: bool = False,
    rerank: Reranker | None = None,
) -> int:
    """Search for each query and fuse the ranks, the first query leading.

    The leading query gets a hybrid search; follow-ups (the plan's reformulations, feedback
    queries) get full text only. The vector scan is most of a hybrid search's cost on a large
    knowledge base, and for follow-ups it changed no answer measurably: on the 29k-page AWS
    docs an answer takes 50 ms instead of 97 ms at p50, on SciFact first-citation precision
    moved from 56.7 % to 56.5 %. ``rerank`` reorders the leading query's results (with a
    wider net, ``Reranker.candidates``) before they vote. How many results it reranked.
    """
    reranked = 0
    for n, query in enumerate(queries):
        leading = n == 0 and not follow_up
        weight = 1.0 if leading else FOLLOW_UP_WEIGHT
        if leading and rerank is not None:
            results, similarity = rerank(library.search(query, max(k, rerank.candidates)))
            reranked = len(similarity)
            results = results[:k]
        else:
            similarity = {}
            results = library.search(query, k) if leading else library.search_fulltext(query, k)
        for rank, result in enumerate(results, start=1):
            vote = weight / (RANK_CONSTANT + rank) + result.scores.get("exact", 0.0) * 0.05
            evidence.add(result.chunk, vote, "search")
            key = (result.chunk.abs_path, result.chunk.chunk_id)
            if key in similarity:
                evidence.hits[key].semantic = similarity[key]
    return reranked


@dataclass(slots=True)
class Reranker:
    """Reorders search results by ``bm25 / best bm25 + weight × cosine``, the cosine between
    the question and each result's section (``lore.kb.semantic``), using the sections embedded
    so far. Exact term matches stay first."""

    library: Library
    question: str
    weight: float
    candidates: int
    embed_missing: int = 0

    def __call__(
        self, results: list[SearchResult]
    ) -> tuple[list[SearchResult], dict[tuple[str, int], float]]:
        similarity = self.library.similarity(
            self.question, [r.chunk for r in results], embed_missing=self.embed_missing
        )
        if not similarity:
            return results, {}
        keys = [(r.chunk.abs_path, r.chunk.chunk_id) for r in results]
        bm25 = {key: r.scores.get("bm25", 0.0) for key, r in zip(keys, results, strict=True)}
        fused = semantic.fuse(bm25, similarity, self.weight)
        exact = {key: r.scores.get("exact", 0.0) for key, r in zip(keys, results, strict=True)}
        order = sorted(
            range(len(results)), key=lambda i: (exact[keys[i]], fused[keys[i]]), reverse=True
        )
        return [results[i] for i in order], similarity


def lookup_terms(library: Library, evidence: Evidence, phrases: list[str]) -> int:
    """Tool: the defining section of each phrase that is a known term. Found count."""
    found = 0
    for phrase in phrases:
        for term in library.lookup_terms(phrase, limit=2):
            kb = library.owner_of(term.abs_path)
            chunk = kb.chunk(term.chunk_id) if kb and term.chunk_id is not None else None
            if chunk is not None:
                evidence.add(chunk, 0.2, "term")
                found += 1
    return found


def read_neighbours(library: Library, evidence: Evidence, top: int = 2) -> int:
    """Tool: the sections next to the best hits, which often finish their thought."""
    added = 0
    for hit in evidence.ranked()[:top]:
        kb = library.owner_of(hit.chunk.abs_path)
        if kb is None:
            continue
        for chunk in kb.neighbours(hit.chunk.chunk_id, before=0, after=1):
            if (
                chunk.chunk_id != hit.chunk.chunk_id
                and chunk.heading_path == hit.chunk.heading_path
            ):
                evidence.add(chunk, hit.score * 0.3, "neighbour")
                added += 1
    return added
