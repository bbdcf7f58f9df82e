"""What every knowledge-base backend shares: search fusion, and the vocabulary read from a
SQLite catalog.

The local backend (``knowledge_base.KnowledgeBase``) keeps its whole index on disk; the shared
one (``postgres.SharedKnowledgeBase``) keeps chunks and full text in PostgreSQL and a mirror of
the vocabulary (terms, headings, titles, links and anchors) in a local SQLite catalog. Both
answer hover, completion, symbols and links from that catalog through the methods here; each
supplies its own full-text ranking and chunk reads.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from lore import _native
from lore.config import Settings
from lore.kb import search as hybrid
from lore.kb.catalog import Catalog, split_path
from lore.kb.types import ChunkRecord, IndexProgress, IndexReport, SearchResult, TermRecord

# Headings and definitions first: they are where a term is defined, not just mentioned.
_KIND_ORDER = (
    "CASE t.kind WHEN 'heading' THEN 0 WHEN 'definition' THEN 1 WHEN 'title' THEN 2 "
    "WHEN 'identifier' THEN 3 ELSE 4 END"
)
_TERM_COLUMNS = (
    "t.text, t.normalized, t.kind, d.path, d.title, t.heading_path, t.line, t.anchor, t.chunk_id"
)
CHUNK_COLUMNS = (
    "c.id, c.doc_id, d.path, d.title, c.heading_path, c.start_line, c.end_line, c.text, c.kind, "
    "c.ordinal, c.content_hash"
)


class BaseKnowledgeBase(ABC):
    """One root's knowledge base, whatever stores it. Thread-safe for reads."""

    root: Path
    """The folder the documents' relative paths are taken from (absolute, resolved)."""
    settings: Settings
    read_only: bool
    """True when this process cannot write the index: it follows another writer's commits."""
    repaired: str | None
    index_dir: Path
    """A local folder of this base's own (the audit log lives there)."""
    catalog: Catalog
    """The SQLite catalog that vocabulary, symbol and link lookups read."""
    backend: str = "local"

    def __init__(self, root: Path, settings: Settings) -> None:
        self.root = root
        self._root_text = str(root)  # joined with relative paths many times a request
        self.settings = settings
        self.repaired = None

    # --- what each backend supplies -------------------------------------------------------

    @property
    @abstractmethod
    def generation(self) -> int:
        """Bumped by every commit; cache keys include it."""

    @abstractmethod
    def refresh(self) -> bool:
        """Follow the writer's commits; True when something new was seen."""

    @abstractmethod
    def index(
        self,
        *,
        progress: Callable[[IndexProgress], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> IndexReport:
        """Bring the index up to date with the files (the writer only)."""

    @abstractmethod
    def _bm25(self, query: str, k: int) -> list[tuple[int, float]]:
        """Full-text ``(chunk_id, score)``, best first."""

    @abstractmethod
    def chunk_total(self) -> int:
        """How many chunks the full-text index holds."""

    @abstractmethod
    def rarity(self, words: Sequence[str]) -> dict[str, float]:
        """Each word's inverse document frequency over the chunks."""

    @abstractmethod
    def _records(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRecord]:
        """The chunks with these ids (those that still exist)."""

    @abstractmethod
    def neighbours(self, chunk_id: int, before: int = 1, after: int = 1) -> list[ChunkRecord]:
        """The chunks around ``chunk_id`` in its document, in order, itself included."""

    @abstractmethod
    def chunks_of(self, path: str) -> list[ChunkRecord]:
        """The chunks of the document at ``path`` (relative), in order."""

    @abstractmethod
    def status(self) -> dict[str, Any]:
        """Statistics and state, safe to show (no secrets)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections, locks and files."""

    def _knn(self, query: str, k: int) -> list[tuple[int, float]]:
        """Vector ``(chunk_id, similarity)``, best first; none unless the backend stores them."""
        return []

    def __enter__(self) -> BaseKnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- section embeddings (reranking answers) -------------------------------------------

    def section_vectors(
        self, chunks: Sequence[ChunkRecord], *, embed_missing: int = 0
    ) -> dict[int, bytes]:
        """``chunk_id -> unit vector`` (float32 bytes) of the ``chunks`` whose section is
        embedded. Up to ``embed_missing`` others are embedded now, and stored by the writer."""
        from lore.kb import semantic as semantic_

        units = {c.chunk_id: semantic_.unit_of(c) for c in chunks}
        vectors = semantic_.stored(self.catalog.reader, (key for key, _ in units.values()))
        missing = list({key: text for key, text in units.values() if key not in vectors}.items())
        if embed_missing and missing:
            missing = missing[:embed_missing]
            fresh = semantic_.encoder().embed([text for _, text in missing])
            new = {key: vector.tobytes() for (key, _), vector in zip(missing, fresh, strict=True)}
            if self._stores_vectors():
                self.store_unit_vectors(new.items())
            vectors.update(new)
        return {cid: vectors[key] for cid, (key, _) in units.items() if key in vectors}

    def _stores_vectors(self) -> bool:
        """Whether vectors embedded on demand are kept (in this base's SQLite catalog)."""
        return not self.read_only

    def store_unit_vectors(self, items: Iterable[tuple[str, bytes]]) -> None:
        with self.catalog.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO unit_vectors(unit_hash, vector) VALUES (?, ?)", items
            )

    # --- search --------------------------------------------------------------------------

    def search(self, query: str, k: int = 10, *, per_page: int = 1) -> list[SearchResult]:
        """Search: BM25, fused with the vector ranking when ``search.vector_weight`` is above
        zero, with an exact fast path for terms and headings; at most ``per_page`` results of
        one page (its best sections). An empty or blank query gives ``[]``; tantivy syntax
        characters are taken literally."""
        if not query.strip() or k <= 0:
            return []
        s = self.settings.search
        vector = (
            [hit for hit in self._knn(query, s.vector_candidates) if hit[1] >= s.min_similarity]
            if s.vector_weight > 0
            else []
        )
        candidates = hybrid.Candidates(
            bm25=self._bm25(query, s.bm25_candidates),
            vector=vector,
            exact=self._exact_chunks(query),
        )
        ranked = hybrid.fuse(
            candidates,
            method=s.fusion,
            rrf_k=s.rrf_k,
            bm25_weight=s.bm25_weight,
            vector_weight=s.vector_weight,
        )
        return self._results(ranked, query, k, per_page=per_page)

    def search_bm25(self, query: str, k: int = 10) -> list[SearchResult]:
        """Full-text results only (for evaluation and the benchmarks)."""
        hits = self._bm25(query, k)
        return self._results([(c, s, {"bm25": s}) for c, s in hits], query, k)

    def _results(
        self,
        ranked: list[tuple[int, float, dict[str, float]]],
        query: str,
        k: int,
        *,
        per_page: int | None = None,
    ) -> list[SearchResult]:
        wanted = ranked[: k * 2]
        if per_page:
            # Which page each candidate is on, then whole records only for those shown: most
            # candidates are a page's second or third best, and their text is not needed.
            pages = self._pages([chunk_id for chunk_id, _, _ in ranked])
            shown: dict[int, int] = {}
            wanted = []
            for item in ranked:
                page = pages.get(item[0])
                if page is not None and shown.get(page, 0) < per_page:
                    shown[page] = shown.get(page, 0) + 1
                    wanted.append(item)
                    if len(wanted) >= k * 2:
                        break
        records = self._records([chunk_id for chunk_id, _, _ in wanted])
        return hybrid.to_results(wanted, records, query, k, per_page=per_page)

    def _pages(self, chunk_ids: Sequence[int]) -> dict[int, int]:
        """``chunk_id -> doc_id`` of the chunks that still exist."""
        return {cid: record.doc_id for cid, record in self._records(chunk_ids).items()}

    def _exact_chunks(self, query: str) -> list[int]:
        if len(query) > 100:
            return []
        seen: list[int] = []
        for term in self.lookup_terms(query, limit=5):
            if term.chunk_id is not None and term.chunk_id not in seen:
                seen.append(term.chunk_id)
        return seen

    # --- vocabulary ----------------------------------------------------------------------

    def lookup_terms(self, text: str, limit: int = 10) -> list[TermRecord]:
        """Vocabulary entries whose normalised form equals ``normalize_term(text)``; headings and
        definitions first. Fast: one indexed SQLite lookup."""
        key = _native.normalize_term(text)
        if not key:
            return []
        rows = self.catalog.reader.execute(
            f"SELECT {_TERM_COLUMNS} FROM terms t JOIN documents d ON d.id = t.doc_id "
            f"WHERE t.normalized = ? ORDER BY {_KIND_ORDER}, length(d.path), t.line LIMIT ?",
            (key, limit),
        )
        return [self._term(row) for row in rows]

    def terms_with_prefix(self, prefix: str, limit: int = 50) -> list[TermRecord]:
        """Vocabulary entries (terms, headings, page titles) whose text or normalised form starts
        with ``prefix`` (case-insensitive), one per distinct text, most useful first."""
        prefix = prefix.strip()
        if not prefix:
            return []
        key = _native.normalize_term(prefix) or prefix.lower()
        # A range scan of the covering `terms_prefix` index: `LIKE` with `OR` and an `ORDER BY`
        # over every match scans the whole vocabulary (tens of milliseconds on a large
        # knowledge base). The first matches in index order are ranked here, and only the
        # chosen ones are read in full.
        db = self.catalog.reader
        candidates = db.execute(
            "SELECT t.id, t.text, t.kind FROM terms t "
            "WHERE t.normalized >= ? AND t.normalized < ? ORDER BY t.normalized LIMIT ?",
            (key, key + "\U0010ffff", limit * 20),
        ).fetchall()
        kind_rank = {"heading": 0, "definition": 1, "title": 2, "identifier": 3}
        candidates.sort(key=lambda r: (kind_rank.get(r[2], 4), len(r[1])))
        seen: set[str] = set()
        chosen: list[int] = []
        for term_id, text, _kind in candidates:
            if text.lower() not in seen:
                seen.add(text.lower())
                chosen.append(term_id)
                if len(chosen) >= limit:
                    break
        return self._terms_by_id(chosen)

    def headings(self, query: str = "", limit: int = 200) -> list[TermRecord]:
        """Headings and page titles whose text contains ``query`` (case-insensitive), the
        ones it starts, then whose words it starts, then the rest, shorter first.

        Three characters or more go through the trigram index (``names``): a few milliseconds
        at any size, where ``LIKE '%…%'`` read every heading. Shorter queries scan until
        they have enough matches; an empty one takes the first headings and pages.

        A common word matches tens of thousands of headings: at most twice ``limit`` of them
        are read (those the query starts first), ranked on their text alone, and only the
        ``limit`` kept are read in full.
        """
        query = query.strip()
        db = self.catalog.reader
        needle = query.lower()
        words = needle.split()
        wanted = limit * 2
        # (term id, document id, text) of each candidate.
        candidates: list[tuple[int, int, str]] = []
        if query:
            # Those that start with the query first, through the index of normalised forms.
            key = _native.normalize_term(query) or needle
            candidates += db.execute(
                "SELECT id, doc_id, text FROM terms WHERE normalized >= ? AND normalized < ? "
                "AND kind IN ('heading', 'title') LIMIT ?",
                (key, key + "\U0010ffff", wanted),
            ).fetchall()
        trigram_words = [w for w in words if len(w) >= 3]
        if trigram_words and len(candidates) < wanted:
            phrases = " AND ".join('"' + w.replace('"', '""') + '"' for w in trigram_words)
            candidates += db.execute(
                "SELECT names.rowid, t.doc_id, names.text FROM names "
                "JOIN terms t ON t.id = names.rowid WHERE names MATCH ? LIMIT ?",
                (f"text : ({phrases})", wanted),
            ).fetchall()
        elif query and len(candidates) < wanted:
            # Too short for trigrams: a scan, which stops once it has enough matches.
            candidates += db.execute(
                "SELECT names.rowid, t.doc_id, names.text FROM names "
                "JOIN terms t ON t.id = names.rowid WHERE names.text LIKE ? ESCAPE '\\' LIMIT ?",
                (f"%{_escape_like(query)}%", wanted),
            ).fetchall()
        elif not query:
            candidates = db.execute(
                "SELECT id, doc_id, text FROM terms WHERE kind IN ('heading', 'title') LIMIT ?",
                (wanted,),
            ).fetchall()
        # A page's title is usually also its first heading: each text is listed once a page,
        # at its best rank.
        best: dict[tuple[int, str], tuple[int, int, int]] = {}
        for term_id, doc_id, text in candidates:
            rank = _containment_rank(words, text) if words else 0
            if rank is None:
                continue
            order = (rank, len(text), term_id)
            if order < best.get((doc_id, text), (3, 0, 0)):
                best[(doc_id, text)] = order
        chosen = [term_id for _, _, term_id in sorted(best.values())[:limit]]
        return self._terms_by_id(chosen)

    def heading_by_anchor(self, path: str, anchor: str) -> TermRecord | None:
        """The heading of the document at ``path`` whose anchor is ``anchor``."""
        row = self.catalog.reader.execute(
            f"SELECT {_TERM_COLUMNS} FROM terms t JOIN documents d ON d.id = t.doc_id "
            "WHERE d.path = ? AND t.anchor = ? AND t.kind = 'heading' ORDER BY t.line LIMIT 1",
            (path, anchor),
        ).fetchone()
        return self._term(row) if row else None

    def _terms_by_id(self, ids: list[int]) -> list[TermRecord]:
        """The terms ``ids`` names, read in full, in that order."""
        if not ids:
            return []
        rows = self.catalog.reader.execute(
            f"SELECT t.id, {_TERM_COLUMNS} FROM terms t JOIN documents d ON d.id = t.doc_id "
            f"WHERE t.id IN ({','.join('?' * len(ids))})",
            ids,
        )
        by_id = {row[0]: self._term(row[1:]) for row in rows}
        return [by_id[term_id] for term_id in ids if term_id in by_id]

    def _term(self, row: tuple) -> TermRecord:
        text, normalized, kind, path, title, heading_path, line, anchor, chunk_id = row
        return TermRecord(
            text=text,
            normalized=normalized,
            kind=kind,
            path=path,
            abs_path=os.path.join(self._root_text, path),
            title=title,
            heading_path=split_path(heading_path),
            line=line,
            anchor=anchor,
            chunk_id=chunk_id,
        )

    def _chunk(self, row: tuple) -> ChunkRecord:
        chunk_id, doc_id, path, title, heading_path, start, end, text, kind, ordinal, digest = row
        return ChunkRecord(
            chunk_id=chunk_id,
            doc_id=doc_id,
            path=path,
            abs_path=os.path.join(self._root_text, path),
            title=title,
            heading_path=split_path(heading_path),
            start_line=start,
            end_line=end,
            text=text,
            kind=kind,
            ordinal=ordinal,
            content_hash=digest,
        )

    def chunk(self, chunk_id: int) -> ChunkRecord | None:
        return self._records([chunk_id]).get(chunk_id)

    def documents(self) -> list[dict[str, Any]]:
        """Every document: ``path``, ``abs_path``, ``title``, ``chunks``, ``size``."""
        rows = self.catalog.reader.execute(
            "SELECT path, title, chunk_count, size FROM documents ORDER BY path"
        )
        return [
            {"path": p, "abs_path": str(self.root / p), "title": t, "chunks": n, "size": s}
            for p, t, n, s in rows
        ]


def _containment_rank(words: list[str], text: str) -> int | None:
    """0 when ``text`` starts with the words, 1 when each starts one of its words, 2 when it
    only contains them, None when it does not (case-insensitive)."""
    lowered = text.lower()
    if not all(w in lowered for w in words):
        return None
    if lowered.startswith(" ".join(words)):
        return 0
    starts = lowered.replace("-", " ").replace("_", " ").split()
    if all(any(s.startswith(w) for s in starts) for w in words):
        return 1
    return 2


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
