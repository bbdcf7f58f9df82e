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
from lore.kb.base import CHUNK_COLUMNS, BaseKnowledgeBase
from lore.kb.catalog import SCHEMA_VERSION, Catalog
from lore.kb.fulltext import FullText
from lore.kb.indexer import run_index
from lore.kb.types import ChunkRecord, IndexProgress, IndexReport, SearchResult

log = logging.getLogger(__name__)

DB_NAME = index_dir.DB_FILES[0]
FULLTEXT_DIR = index_dir.FULLTEXT_DIR
LOCK_NAME = "writer.lock"


class IndexError_(Exception):
    """The index cannot be used as asked (for example: the root is missing)."""


class IndexBusyError(IndexError_):
    """Another process is writing this index."""


@dataclass(slots=True)
class _Written:
    files: int = 0
    chunks: int = 0
    bytes: int = 0


class KnowledgeBase(BaseKnowledgeBase):
    """One root's knowledge base, stored under ``settings.index_dir(root)``."""

    root: Path
    """The folder whose files make up the knowledge base (absolute, resolved)."""
    settings: Settings
    read_only: bool
    """True when another process holds the writer lock: this one follows its commits."""
    repaired: str | None
    """Set by ``open`` when it found damage and repaired it or started over, saying what."""

    def __init__(self, root: Path, settings: Settings, read_only: bool) -> None:
        super().__init__(root, settings)
        self.index_dir = settings.index_dir(root)
        self.read_only = read_only
        self.embedder = _native.HashedEmbedder(settings.embedder.dim)
        self._lock_file: IO[str] | None = None
        self._write_lock = threading.Lock()
        self._generation = 0
        self._reembedded = False
        self.embedding: dict[str, Any] | None = None
        """Sections embedded for reranking, as of the last batch this process stored."""
        self._embed_queue = semantic_.EmbedQueue()
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

    def known_files(self) -> dict[str, tuple[int, int, str]]:
        return self.catalog.known_files()

    def touch_documents(self, updates: Sequence[tuple[int, int, str]]) -> None:
        with self.catalog.transaction() as db:
            self.catalog.touch_documents(db, updates)

    def document_count(self) -> int:
        return self.catalog.counts()["documents"]

    def record_skipped(self, skipped: Sequence[tuple[str, str]]) -> None:
        with self.catalog.transaction() as db:
            self.catalog.replace_skipped(db, skipped)

    # --- sentence embeddings -------------------------------------------------------------

    def embed_sections(
        self,
        *,
        cancelled: Callable[[], bool] | None = None,
        progress: Callable[[semantic_.EmbedProgress], None] | None = None,
        limit: int | None = None,
        pause: Callable[[], None] | None = None,
    ) -> semantic_.EmbedProgress:
        """Embed the sections' units that have no vector yet (see ``semantic.embed_pending``).
        Raises ``IndexBusyError`` when read-only."""
        if self.read_only:
            raise IndexBusyError(f"another process is writing the index in {self.index_dir}")

        def record(state: semantic_.EmbedProgress) -> None:
            self.embedding = {"embedded": state.embedded, "total": state.total, "done": state.done}
            if progress is not None:
                progress(state)

        return semantic_.embed_pending(
            self, self._embed_queue, cancelled=cancelled, progress=record, limit=limit, pause=pause
        )

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

    def _bm25(self, query: str, k: int) -> list[tuple[int, float]]:
        s = self.settings.search
        return self.fulltext.search(
            query, k, title_boost=s.title_boost, heading_boost=s.heading_boost
        )

    def chunk_total(self) -> int:
        return self.fulltext.num_docs()

    def rarity(self, words: Sequence[str]) -> dict[str, float]:
        """Each word's inverse document frequency over the chunks, ``log(1 + N / (df + 0.5))``:
        a word no chunk holds weighs most, one that most chunks hold weighs little."""
        total = self.fulltext.num_docs()
        return {w: math.log(1 + total / (self.fulltext.document_frequency(w) + 0.5)) for w in words}

    def search_vector(self, query: str, k: int = 10) -> list[SearchResult]:
        """Vector results only (for evaluation and the benchmarks)."""
        hits = self._knn(query, k)
        return self._results([(c, s, {"vector": s}) for c, s in hits], query, k)

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

    # --- chunks and documents ------------------------------------------------------------

    def _records(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRecord]:
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = self.catalog.reader.execute(
            f"SELECT {CHUNK_COLUMNS} FROM chunks c JOIN documents d ON d.id = c.doc_id "
            f"WHERE c.id IN ({marks})",
            tuple(chunk_ids),
        )
        records = (self._chunk(row) for row in rows)
        return {r.chunk_id: r for r in records}

    def _pages(self, chunk_ids: Sequence[int]) -> dict[int, int]:
        if not chunk_ids:
            return {}
        marks = ",".join("?" * len(chunk_ids))
        rows = self.catalog.reader.execute(
            f"SELECT id, doc_id FROM chunks WHERE id IN ({marks})", tuple(chunk_ids)
        )
        return dict(rows)

    def neighbours(self, chunk_id: int, before: int = 1, after: int = 1) -> list[ChunkRecord]:
        """The chunks around ``chunk_id`` in its document, in order, itself included."""
        row = self.catalog.reader.execute(
            "SELECT doc_id, ordinal FROM chunks WHERE id = ?", (chunk_id,)
        ).fetchone()
        if row is None:
            return []
        doc_id, ordinal = row
        rows = self.catalog.reader.execute(
            f"SELECT {CHUNK_COLUMNS} FROM chunks c JOIN documents d ON d.id = c.doc_id "
            "WHERE c.doc_id = ? AND c.ordinal BETWEEN ? AND ? ORDER BY c.ordinal",
            (doc_id, ordinal - before, ordinal + after),
        )
        return [self._chunk(r) for r in rows]

    def chunks_of(self, path: str) -> list[ChunkRecord]:
        """The chunks of the document at ``path`` (relative), in order."""
        rows = self.catalog.reader.execute(
            f"SELECT {CHUNK_COLUMNS} FROM chunks c JOIN documents d ON d.id = c.doc_id "
            "WHERE d.path = ? ORDER BY c.ordinal",
            (path,),
        )
        return [self._chunk(r) for r in rows]

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
            "backend": self.backend,
            "root": str(self.root),
            "index_dir": str(self.index_dir),
            **self.catalog.counts(),
            "generation": self.generation,
            "read_only": self.read_only,
            "embedder": {"identity": self.embedder.identity, "dim": self.embedder.dim},
            "semantic": {
                "model": semantic_.MODEL_ID,
                "stored": self.catalog.reader.execute(
                    "SELECT count(*) FROM unit_vectors"
                ).fetchone()[0],
                **(self.embedding or {}),
            },
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
