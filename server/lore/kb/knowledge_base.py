"""The knowledge base of one root: catalog, vectors and full text, opened together.

This is the API the CLI, the RAISE pipeline and the language server use. It is thread-safe:
the server calls it from several worker threads at once (reads run concurrently; writes are
serialised inside).
"""

from __future__ import annotations

import fcntl
import json
import logging
import math
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import apsw

from lore import _native
from lore.config import Settings
from lore.kb import index_dir
from lore.kb import search as hybrid
from lore.kb import semantic as semantic_
from lore.kb.catalog import SCHEMA_VERSION, Catalog, join_path, split_path
from lore.kb.fulltext import FullText
from lore.kb.indexer import run_index
from lore.kb.types import ChunkRecord, IndexProgress, IndexReport, SearchResult, TermRecord

log = logging.getLogger(__name__)

DB_NAME = index_dir.DB_FILES[0]
FULLTEXT_DIR = index_dir.FULLTEXT_DIR
LOCK_NAME = "writer.lock"

# Headings and definitions first: they are where a term is defined, not just mentioned.
_KIND_ORDER = (
    "CASE t.kind WHEN 'heading' THEN 0 WHEN 'definition' THEN 1 WHEN 'title' THEN 2 "
    "WHEN 'identifier' THEN 3 ELSE 4 END"
)
_TERM_COLUMNS = (
    "t.text, t.normalized, t.kind, d.path, d.title, t.heading_path, t.line, t.anchor, t.chunk_id"
)
_CHUNK_COLUMNS = (
    "c.id, c.doc_id, d.path, d.title, c.heading_path, c.start_line, c.end_line, c.text, c.kind, "
    "c.ordinal, c.content_hash"
)


class IndexError_(Exception):
    """The index cannot be used as asked (for example: the root is missing)."""


class IndexBusyError(IndexError_):
    """Another process is writing this index."""


@dataclass(slots=True)
class _Written:
    files: int = 0
    chunks: int = 0
    bytes: int = 0


class KnowledgeBase:
    """One root's knowledge base, stored under ``settings.index_dir(root)``."""

    root: Path
    """The folder whose files make up the knowledge base (absolute, resolved)."""
    settings: Settings
    read_only: bool
    """True when another process holds the writer lock: this one follows its commits."""
    repaired: str | None
    """Set by ``open`` when it found damage and repaired it or started over, saying what."""

    def __init__(self, root: Path, settings: Settings, read_only: bool) -> None:
        self.root = root
        self._root_text = str(root)  # joined with relative paths many times a request
        self.settings = settings
        self.index_dir = settings.index_dir(root)
        self.read_only = read_only
        self.repaired = None
        self.embedder = _native.HashedEmbedder(settings.embedder.dim)
        self._lock_file: IO[str] | None = None
        self._write_lock = threading.Lock()
        self._generation = 0
        self._reembedded = False
        self.embedding: dict[str, Any] | None = None
        """Sections embedded for reranking, as of the last batch this process stored."""
        self.catalog: Catalog
        self.fulltext: FullText

    # --- opening -------------------------------------------------------------------------

    @classmethod
    def open(
        cls, root: Path, settings: Settings, *, read_only: bool = False, rebuild: bool = False
    ) -> KnowledgeBase:
        """Open (creating if needed) the index of ``root``.

        Becomes the writer unless ``read_only`` or another process holds the writer lock.
        Repairs what a kill left half-done; rebuilds from scratch (and says so in ``repaired``)
        when the index is corrupt. ``rebuild`` drops the stores first, as the writer only.
        Raises ``IndexError_`` when ``root`` is not a folder or ``index.dir`` cannot be Lore's
        (see ``lore.kb.index_dir``), and ``IndexBusyError`` when a rebuild finds another writer.
        """
        root = Path(root).expanduser()
        if not root.is_dir():
            raise IndexError_(f"no such folder: {root}")
        kb = cls(root.resolve(), settings, read_only=True)
        try:
            kb.index_dir = index_dir.claim(kb.root, kb.index_dir)
        except (index_dir.UnsafeIndexDir, OSError) as exc:
            raise IndexError_(str(exc)) from None
        if not read_only:
            kb.read_only = not kb._take_writer_lock()
        if rebuild:
            if kb.read_only:
                raise IndexBusyError(f"another process is writing the index in {kb.index_dir}")
            index_dir.remove_stores(kb.index_dir)
        kb._open_stores()
        return kb

    def _take_writer_lock(self) -> bool:
        handle = open(self.index_dir / LOCK_NAME, "a+", encoding="utf-8")  # noqa: SIM115
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._lock_file = handle
        return True

    def _open_stores(self) -> None:
        if self.read_only:
            self._open_follower()
            return
        problem = self._try_open()
        if problem is not None:
            log.warning("rebuilding the index at %s: %s", self.index_dir, problem)
            self._wipe()
            reason = self._try_open()
            if reason is not None:
                raise IndexError_(f"cannot create an index in {self.index_dir}: {reason}")
            self.repaired = f"the index was unusable ({problem}); it was rebuilt from the files"
            return
        self._repair_pending()

    def _open_follower(self) -> None:
        # The writer creates the stores; a follower that starts first creates the same empty
        # schema, which SQLite and tantivy make safe to do twice.
        self.catalog = Catalog(self.index_dir / DB_NAME, dim=self.embedder.dim, writable=True)
        self.catalog.close()
        self.catalog = Catalog(self.index_dir / DB_NAME, dim=self.embedder.dim, writable=False)
        self.fulltext = FullText(self.index_dir / FULLTEXT_DIR, writable=False)
        self._generation = self.catalog.generation()

    def _try_open(self) -> str | None:
        """Open both stores as the writer; a reason they cannot be used, or None."""
        try:
            self.catalog = Catalog(self.index_dir / DB_NAME, dim=self.embedder.dim, writable=True)
            self.catalog.check()
            self.fulltext = FullText(self.index_dir / FULLTEXT_DIR, writable=True)
        except (apsw.Error, OSError, ValueError) as exc:
            self._close_stores()
            return f"{type(exc).__name__}: {exc}"
        schema = self.catalog.get_meta("schema_version")
        identity = self.catalog.get_meta("embedder")
        # Chunking settings shape every stored vector and posting: a change means a rebuild.
        chunking = self.settings.chunk
        wanted_identity = (
            f"{self.embedder.identity}/{self.embedder.dim}"
            f"/chunks-{chunking.max_chars}-{chunking.overlap_chars}"
        )
        if schema is None:
            with self.catalog.transaction() as db:
                self.catalog.set_meta(db, "schema_version", SCHEMA_VERSION)
                self.catalog.set_meta(db, "embedder", wanted_identity)
        elif schema != str(SCHEMA_VERSION):
            self._close_stores()
            return f"schema version {schema}, this Lore writes {SCHEMA_VERSION}"
        elif identity != wanted_identity:
            self._close_stores()
            self._reembedded = True
            return (
                f"the embedder or chunking changed ({identity} to {wanted_identity}): re-embedding"
            )
        chunks = self.catalog.chunk_count()
        if chunks != self.fulltext.num_docs() and not self.catalog.pending_batches():
            found = self.fulltext.num_docs()
            self._close_stores()
            return f"the full-text index holds {found} chunks, the catalog {chunks}"
        self._generation = self.catalog.generation()
        return None

    def _repair_pending(self) -> None:
        """Undo the batches a kill left pending, in tantivy and in SQLite."""
        pending = self.catalog.pending_batches()
        if not pending:
            return
        paths = sorted({p for batch in pending.values() for p in batch})
        self.fulltext.delete_paths(paths)
        self.fulltext.commit()
        for batch_id, batch_paths in pending.items():
            self.catalog.drop_batch(batch_id, batch_paths)
        self.repaired = (
            f"finished an interrupted index run: {len(paths)} files will be indexed again"
        )
        log.info(self.repaired)

    def _wipe(self) -> None:
        index_dir.remove_stores(self.index_dir)

    def _close_stores(self) -> None:
        for store in ("fulltext", "catalog"):
            obj = getattr(self, store, None)
            if obj is not None:
                obj.close()

    # --- state ---------------------------------------------------------------------------

    @property
    def generation(self) -> int:
        """Bumped by every commit; cache keys include it."""
        return self._generation

    def refresh(self) -> bool:
        """Follow the writer's commits (read-only mode); True when something new was seen."""
        try:
            current = self.catalog.generation()
        except apsw.Error:
            return False
        if current == self._generation:
            return False
        self.fulltext.reload()
        self._generation = current
        return True

    # --- indexing ------------------------------------------------------------------------

    def index(
        self,
        *,
        progress: Callable[[IndexProgress], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> IndexReport:
        """Bring the index up to date with the files.

        Incremental and crash-safe; checks ``cancelled`` between batches and stops early
        (what was committed stays). Every file is compared by size and mtime, which costs less
        than trusting a list of changed files from the editor. Raises ``IndexBusyError`` when
        read-only.
        """
        if self.read_only:
            raise IndexBusyError(
                f"another process is writing the index in {self.index_dir} (is `lore serve` "
                "running on this folder?)"
            )
        with self._write_lock:
            report = run_index(self, progress=progress, cancelled=cancelled)
            report.repaired = self.repaired
            report.reembedded = self._reembedded
            with self.catalog.transaction() as db:
                self.catalog.set_meta(db, "last_index", json.dumps(report.to_json()))
            return report

    def excluded_from_walk(self) -> list[str]:
        """Patterns that keep the walk out of the index folder itself."""
        try:
            rel = self.index_dir.resolve().relative_to(self.root)
        except ValueError:
            return []
        return [f"/{rel.as_posix()}/"]

    def write_batch(
        self, documents: Sequence[Any], gone: Sequence[str]
    ) -> tuple[_Written, list[tuple[str, str]]]:
        """Write prepared documents (replacing their old versions) and delete ``gone``."""
        written = _Written()
        errors = [(d.rel_path, d.error) for d in documents if d.error]
        paths = [d.rel_path for d in documents] + list(gone)
        rows: list[tuple[int, str, str, Sequence[str], str]] = []
        with self.catalog.transaction() as db:
            batch_id = self.catalog.begin_batch(db, paths)
            self.catalog.delete_documents(db, paths)
            for doc in documents:
                if doc.error:
                    continue
                for chunk_id, chunk in self.catalog.insert_document(db, doc, batch_id):
                    rows.append((chunk_id, doc.rel_path, doc.title, chunk.heading_path, chunk.text))
                written.files += 1
                written.bytes += doc.size
        written.chunks = len(rows)
        self.fulltext.delete_paths(paths)
        self.fulltext.add_chunks(rows)
        self.fulltext.commit()
        self._generation = self.catalog.commit_batch(batch_id)
        return written, errors

    def record_skipped(self, skipped: Sequence[tuple[str, str]]) -> None:
        with self.catalog.transaction() as db:
            self.catalog.replace_skipped(db, skipped)

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

    # --- sentence embeddings -------------------------------------------------------------

    def embed_sections(
        self,
        *,
        cancelled: Callable[[], bool] | None = None,
        progress: Callable[[semantic_.EmbedProgress], None] | None = None,
        limit: int | None = None,
    ) -> semantic_.EmbedProgress:
        """Embed the sections' units that have no vector yet (see ``semantic.embed_pending``).
        Raises ``IndexBusyError`` when read-only."""
        if self.read_only:
            raise IndexBusyError(f"another process is writing the index in {self.index_dir}")

        def record(state: semantic_.EmbedProgress) -> None:
            self.embedding = {"embedded": state.embedded, "total": state.total, "done": state.done}
            if progress is not None:
                progress(state)

        return semantic_.embed_pending(self, cancelled=cancelled, progress=record, limit=limit)

    def section_vectors(
        self, chunks: Sequence[ChunkRecord], *, embed_missing: int = 0
    ) -> dict[int, bytes]:
        """``chunk_id -> unit vector`` (float32 bytes) of the ``chunks`` whose section is
        embedded. Up to ``embed_missing`` others are embedded now, and stored by the writer."""
        units = {c.chunk_id: semantic_.unit_of(c) for c in chunks}
        vectors = semantic_.stored(self.catalog.reader, (key for key, _ in units.values()))
        missing = list({key: text for key, text in units.values() if key not in vectors}.items())
        if embed_missing and missing:
            missing = missing[:embed_missing]
            fresh = semantic_.encoder().embed([text for _, text in missing])
            new = {key: vector.tobytes() for (key, _), vector in zip(missing, fresh, strict=True)}
            if not self.read_only:
                self.store_unit_vectors(new.items())
            vectors.update(new)
        return {cid: vectors[key] for cid, (key, _) in units.items() if key in vectors}

    def store_unit_vectors(self, items: Iterable[tuple[str, bytes]]) -> None:
        with self._write_lock, self.catalog.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO unit_vectors(unit_hash, vector) VALUES (?, ?)", items
            )

    def drop_unit_vectors_except(self, keep: set[str]) -> int:
        """Delete the vectors of units no section has any more; how many were deleted."""
        with self._write_lock:
            stale = [
                (key,)
                for (key,) in self.catalog.reader.execute("SELECT unit_hash FROM unit_vectors")
                if key not in keep
            ]
            if stale:
                with self.catalog.transaction() as db:
                    db.executemany("DELETE FROM unit_vectors WHERE unit_hash = ?", stale)
        return len(stale)

    def search_bm25(self, query: str, k: int = 10) -> list[SearchResult]:
        """Full-text results only (for evaluation and the benchmarks)."""
        hits = self._bm25(query, k)
        return self._results([(c, s, {"bm25": s}) for c, s in hits], query, k)

    def _bm25(self, query: str, k: int) -> list[tuple[int, float]]:
        s = self.settings.search
        return self.fulltext.search(
            query, k, title_boost=s.title_boost, heading_boost=s.heading_boost
        )

    def rarity(self, words: Sequence[str]) -> dict[str, float]:
        """Each word's inverse document frequency over the chunks, ``log(1 + N / (df + 0.5))``:
        a word no chunk holds weighs most, one that most chunks hold weighs little."""
        total = self.fulltext.num_docs()
        return {w: math.log(1 + total / (self.fulltext.document_frequency(w) + 0.5)) for w in words}

    def search_vector(self, query: str, k: int = 10) -> list[SearchResult]:
        """Vector results only (for evaluation and the benchmarks)."""
        hits = self._knn(query, k)
        return self._results([(c, s, {"vector": s}) for c, s in hits], query, k)

    def _results(
        self,
        ranked: list[tuple[int, float, dict[str, float]]],
        query: str,
        k: int,
        *,
        per_page: int | None = None,
    ) -> list[SearchResult]:
        wanted = ranked if per_page else ranked[: k * 2]
        records = self._records([chunk_id for chunk_id, _, _ in wanted])
        return hybrid.to_results(ranked, records, query, k, per_page=per_page)

    def _knn(self, query: str, k: int) -> list[tuple[int, float]]:
        vector = self.embedder.embed(hybrid.embed_text(query))
        if not any(vector):
            return []
        rows = self.catalog.reader.execute(
            "SELECT chunk_id, distance FROM vectors WHERE embedding MATCH ? AND k = ? "
            "ORDER BY distance",
            (vector, k),
        )
        # An index written before zero vectors were left out still holds some; their cosine
        # distance is NULL.
        return [(chunk_id, 1.0 - distance) for chunk_id, distance in rows if distance is not None]

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
        if not chosen:
            return []
        rows = db.execute(
            f"SELECT t.id, {_TERM_COLUMNS} FROM terms t JOIN documents d ON d.id = t.doc_id "
            f"WHERE t.id IN ({','.join('?' * len(chosen))})",
            chosen,
        )
        by_id = {row[0]: self._term(row[1:]) for row in rows}
        return [by_id[term_id] for term_id in chosen if term_id in by_id]

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
        if not chosen:
            return []
        rows = db.execute(
            f"SELECT t.id, {_TERM_COLUMNS} FROM terms t JOIN documents d ON d.id = t.doc_id "
            f"WHERE t.id IN ({','.join('?' * len(chosen))})",
            chosen,
        )
        by_id = {row[0]: self._term(row[1:]) for row in rows}
        return [by_id[term_id] for term_id in chosen if term_id in by_id]

    def heading_by_anchor(self, path: str, anchor: str) -> TermRecord | None:
        """The heading of the document at ``path`` whose anchor is ``anchor``."""
        row = self.catalog.reader.execute(
            f"SELECT {_TERM_COLUMNS} FROM terms t JOIN documents d ON d.id = t.doc_id "
            "WHERE d.path = ? AND t.anchor = ? AND t.kind = 'heading' ORDER BY t.line LIMIT 1",
            (path, anchor),
        ).fetchone()
        return self._term(row) if row else None

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

    # --- chunks and documents ------------------------------------------------------------

    def _records(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRecord]:
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = self.catalog.reader.execute(
            f"SELECT {_CHUNK_COLUMNS} FROM chunks c JOIN documents d ON d.id = c.doc_id "
            f"WHERE c.id IN ({marks})",
            tuple(chunk_ids),
        )
        records = (self._chunk(row) for row in rows)
        return {r.chunk_id: r for r in records}

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

    def neighbours(self, chunk_id: int, before: int = 1, after: int = 1) -> list[ChunkRecord]:
        """The chunks around ``chunk_id`` in its document, in order, itself included."""
        row = self.catalog.reader.execute(
            "SELECT doc_id, ordinal FROM chunks WHERE id = ?", (chunk_id,)
        ).fetchone()
        if row is None:
            return []
        doc_id, ordinal = row
        rows = self.catalog.reader.execute(
            f"SELECT {_CHUNK_COLUMNS} FROM chunks c JOIN documents d ON d.id = c.doc_id "
            "WHERE c.doc_id = ? AND c.ordinal BETWEEN ? AND ? ORDER BY c.ordinal",
            (doc_id, ordinal - before, ordinal + after),
        )
        return [self._chunk(r) for r in rows]

    def chunks_of(self, path: str) -> list[ChunkRecord]:
        """The chunks of the document at ``path`` (relative), in order."""
        rows = self.catalog.reader.execute(
            f"SELECT {_CHUNK_COLUMNS} FROM chunks c JOIN documents d ON d.id = c.doc_id "
            "WHERE d.path = ? ORDER BY c.ordinal",
            (path,),
        )
        return [self._chunk(r) for r in rows]

    def documents(self) -> list[dict[str, Any]]:
        """Every document: ``path``, ``abs_path``, ``title``, ``chunks``, ``size``."""
        rows = self.catalog.reader.execute(
            "SELECT path, title, chunk_count, size FROM documents ORDER BY path"
        )
        return [
            {"path": p, "abs_path": str(self.root / p), "title": t, "chunks": n, "size": s}
            for p, t, n, s in rows
        ]

    # --- status and shutdown -------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """``root``, ``index_dir``, ``documents``, ``chunks``, ``terms``, ``bytes``,
        ``generation``, ``read_only``, ``embedder`` {identity, dim}, ``schema_version``,
        ``skipped`` [{path, reason}], ``last_index`` (the last IndexReport as JSON or None)."""
        last = self.catalog.get_meta("last_index")
        skipped = [{"path": p, "reason": r} for p, r in self.catalog.skipped()]
        skipped += [
            {"path": p, "reason": "not UTF-8: decoded as Latin-1"}
            for p in self.catalog.latin1_documents()
        ]
        return {
            "root": str(self.root),
            "index_dir": str(self.index_dir),
            **self.catalog.counts(),
            "generation": self.generation,
            "read_only": self.read_only,
            "embedder": {"identity": self.embedder.identity, "dim": self.embedder.dim},
            "semantic": {"model": semantic_.MODEL_ID, **(self.embedding or {})},
            "schema_version": SCHEMA_VERSION,
            "skipped": sorted(skipped, key=lambda s: s["path"]),
            "last_index": json.loads(last) if last else None,
            "repaired": self.repaired,
        }

    def close(self) -> None:
        """Commit pending writes, release the writer lock, close files."""
        with self._write_lock:
            self._close_stores()
            if self._lock_file is not None:
                fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
                self._lock_file.close()
                self._lock_file = None

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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


__all__ = ["IndexBusyError", "IndexError_", "KnowledgeBase", "join_path"]
