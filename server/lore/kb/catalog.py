"""The catalog: documents, chunks, terms, vectors and meta in one SQLite database (apsw).

The chunk embeddings live in a sqlite-vec ``vec0`` table in the same database, so one SQLite
transaction writes a batch's rows and vectors together. Writes go through the single writer
connection; readers get a connection per thread (WAL mode lets them read while it writes).
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import apsw

from lore._native import hash_bytes, normalize_term
from lore.kb.paths import link_destination

# Bumped when the tables or what the indexer puts in them change: an older index is rebuilt.
# 2: links, anchors and the trigram index of headings, titles and file names.
SCHEMA_VERSION = 2

# Heading paths are stored as one string; this separator never appears in headings.
PATH_SEP = "\x1f"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    state TEXT NOT NULL CHECK (state IN ('pending', 'committed'))
);
CREATE TABLE IF NOT EXISTS batch_paths (batch_id INTEGER NOT NULL, path TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS batch_paths_batch ON batch_paths(batch_id);
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    format TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    encoding TEXT NOT NULL,
    chunk_count INTEGER NOT NULL,
    batch_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id INTEGER NOT NULL,
    ordinal INTEGER NOT NULL,
    heading_path TEXT NOT NULL,
    start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    content_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id, ordinal);
CREATE TABLE IF NOT EXISTS terms (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id INTEGER NOT NULL,
    text TEXT NOT NULL,
    normalized TEXT NOT NULL,
    kind TEXT NOT NULL,
    line INTEGER NOT NULL,
    heading_path TEXT NOT NULL,
    anchor TEXT NOT NULL,
    chunk_id INTEGER
);
-- Covers completion's prefix scan (rowid, text and kind without touching the table) and
-- serves exact lookups by normalized form; it replaces the plain index on normalized.
CREATE INDEX IF NOT EXISTS terms_prefix ON terms(normalized, kind, text);
DROP INDEX IF EXISTS terms_normalized;
CREATE INDEX IF NOT EXISTS terms_text ON terms(text COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS terms_doc ON terms(doc_id);
-- Links inside the docs. ``dest`` is the page a path link names, relative to the root ('' for
-- wiki-links, rst labels and external URLs, which are resolved when asked).
CREATE TABLE IF NOT EXISTS links (
    doc_id INTEGER NOT NULL,
    line INTEGER NOT NULL,
    col INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    end_col INTEGER NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    anchor TEXT NOT NULL,
    text TEXT NOT NULL,
    dest TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS links_doc ON links(doc_id, line);
CREATE INDEX IF NOT EXISTS links_dest ON links(dest, anchor);
CREATE INDEX IF NOT EXISTS links_by_name ON links(target COLLATE NOCASE) WHERE kind = 'wiki';
CREATE INDEX IF NOT EXISTS links_by_label ON links(anchor) WHERE kind = 'ref';
CREATE TABLE IF NOT EXISTS anchors (
    doc_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    line INTEGER NOT NULL,
    heading TEXT NOT NULL,
    kind TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS anchors_doc ON anchors(doc_id, name);
CREATE INDEX IF NOT EXISTS anchors_name ON anchors(name);
-- Headings and page titles (with the page's path) by trigram: substring matches in
-- milliseconds for workspace symbols and link completion. The rowid is the term's id.
CREATE VIRTUAL TABLE IF NOT EXISTS names USING fts5(text, path, tokenize = 'trigram');
CREATE TABLE IF NOT EXISTS skipped (path TEXT PRIMARY KEY, reason TEXT NOT NULL);
-- Sentence embeddings of sections' short units (``lore.kb.semantic``), float32, by the hash of
-- the unit's text: filled by a background job after the full-text index, read by reranking.
CREATE TABLE IF NOT EXISTS unit_vectors (unit_hash TEXT PRIMARY KEY, vector BLOB NOT NULL)
    WITHOUT ROWID;
"""


@functools.cache
def _vec_extension() -> str:
    """sqlite-vec's loadable extension, found without importing the ``sqlite_vec`` package:
    its ``__init__`` imports numpy, a tenth of a second a language server's start-up can spare.
    """
    spec = importlib.util.find_spec("sqlite_vec")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the sqlite-vec package is not installed")
    return str(Path(spec.submodule_search_locations[0]) / "vec0")


def join_path(parts: Sequence[str]) -> str:
    return PATH_SEP.join(parts)


def split_path(value: str) -> tuple[str, ...]:
    return tuple(value.split(PATH_SEP)) if value else ()


class Catalog:
    """The SQLite side of one index. Thread-safe: one writer connection, one reader per thread."""

    def __init__(self, path: Path, *, dim: int, writable: bool) -> None:
        self.path = path
        self.dim = dim
        self.writable = writable
        self._local = threading.local()
        self._connections: list[apsw.Connection] = []
        self._connections_lock = threading.Lock()
        self._writer: apsw.Connection | None = None
        if writable:
            self._writer = self._connect(write=True)
            self._writer.execute("PRAGMA journal_mode=WAL")
            self._writer.execute("PRAGMA synchronous=NORMAL")
            with self.transaction() as db:
                db.execute(_SCHEMA)
                db.execute(
                    "CREATE VIRTUAL TABLE IF NOT EXISTS vectors USING vec0("
                    f"chunk_id INTEGER PRIMARY KEY, embedding float[{int(dim)}] "
                    "distance_metric=cosine)"
                )

    # --- connections ---------------------------------------------------------------------

    def _connect(self, *, write: bool) -> apsw.Connection:
        flags = apsw.SQLITE_OPEN_READWRITE | (apsw.SQLITE_OPEN_CREATE if write else 0)
        db = apsw.Connection(str(self.path), flags=flags)
        db.setbusytimeout(5000)
        db.enable_load_extension(True)
        db.load_extension(_vec_extension())
        db.enable_load_extension(False)
        with self._connections_lock:
            self._connections.append(db)
        return db

    @property
    def reader(self) -> apsw.Connection:
        """This thread's read connection."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._connect(write=False)
            self._local.db = db
        return db

    @contextmanager
    def transaction(self) -> Iterator[apsw.Connection]:
        """The writer connection inside one transaction (committed on success)."""
        if self._writer is None:
            raise PermissionError("this index is open read-only")
        with self._writer:
            yield self._writer

    def close(self) -> None:
        with self._connections_lock:
            for db in self._connections:
                try:
                    db.close()
                except apsw.Error:
                    pass
            self._connections.clear()
        self._writer = None

    # --- meta ----------------------------------------------------------------------------

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.reader.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, db: apsw.Connection, key: str, value: Any) -> None:
        db.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, str(value)),
        )

    def generation(self) -> int:
        return int(self.get_meta("generation", "0") or 0)

    def check(self) -> None:
        """Read the schema and every table once: raises apsw errors on a damaged file."""
        db = self.reader
        db.execute("SELECT count(*) FROM meta").fetchone()
        for table in ("documents", "chunks", "terms", "batches", "links", "anchors"):
            db.execute(f"SELECT max(rowid) FROM {table}").fetchone()

    # --- documents -----------------------------------------------------------------------

    def known_files(self) -> dict[str, tuple[int, int, str]]:
        """``path -> (size, mtime_ns, content_hash)`` of every indexed document."""
        rows = self.reader.execute("SELECT path, size, mtime_ns, content_hash FROM documents")
        return {path: (size, mtime, digest) for path, size, mtime, digest in rows}

    def delete_documents(self, db: apsw.Connection, paths: Iterable[str]) -> int:
        """Remove the documents at ``paths`` with their chunks, terms and vectors."""
        removed = 0
        for path in paths:
            row = db.execute("SELECT id FROM documents WHERE path = ?", (path,)).fetchone()
            if row is None:
                continue
            doc_id = row[0]
            chunk_ids = [
                (cid,) for (cid,) in db.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc_id,))
            ]
            # One key at a time: vec0 answers ``chunk_id = ?`` by lookup but scans every vector
            # for ``IN (subquery)``, which made re-indexing one page cost as much as a search.
            db.executemany("DELETE FROM vectors WHERE chunk_id = ?", chunk_ids)
            db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
            db.execute(
                "DELETE FROM names WHERE rowid IN (SELECT id FROM terms WHERE doc_id = ?)",
                (doc_id,),
            )
            db.execute("DELETE FROM terms WHERE doc_id = ?", (doc_id,))
            db.execute("DELETE FROM links WHERE doc_id = ?", (doc_id,))
            db.execute("DELETE FROM anchors WHERE doc_id = ?", (doc_id,))
            db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))
            removed += 1
        return removed

    def touch_documents(self, db: apsw.Connection, updates: Iterable[tuple[int, int, str]]) -> None:
        """Record a new size and mtime for files whose content did not change."""
        db.executemany("UPDATE documents SET size = ?, mtime_ns = ? WHERE path = ?", updates)

    def replace_skipped(self, db: apsw.Connection, skipped: Iterable[tuple[str, str]]) -> None:
        db.execute("DELETE FROM skipped")
        db.executemany("INSERT OR REPLACE INTO skipped(path, reason) VALUES (?, ?)", skipped)

    # --- batches -------------------------------------------------------------------------

    def begin_batch(self, db: apsw.Connection, paths: Iterable[str]) -> int:
        db.execute("INSERT INTO batches(state) VALUES ('pending')")
        batch_id = db.last_insert_rowid()
        db.executemany(
            "INSERT INTO batch_paths(batch_id, path) VALUES (?, ?)",
            ((batch_id, p) for p in paths),
        )
        return batch_id

    def commit_batch(self, batch_id: int) -> int:
        """Mark a batch committed and bump the generation; the new generation."""
        with self.transaction() as db:
            db.execute("DELETE FROM batch_paths WHERE batch_id = ?", (batch_id,))
            db.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
            generation = self.generation_in(db) + 1
            self.set_meta(db, "generation", generation)
        return generation

    def generation_in(self, db: apsw.Connection) -> int:
        row = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0

    def pending_batches(self) -> dict[int, list[str]]:
        """Batches a kill left half-done, with the paths each touched."""
        db = self._writer or self.reader
        pending: dict[int, list[str]] = {}
        for (batch_id,) in db.execute("SELECT id FROM batches WHERE state = 'pending'").fetchall():
            pending[batch_id] = [
                p
                for (p,) in db.execute(
                    "SELECT path FROM batch_paths WHERE batch_id = ?", (batch_id,)
                ).fetchall()
            ]
        return pending

    def drop_batch(self, batch_id: int, paths: Sequence[str]) -> None:
        """Undo a pending batch in SQLite: its files are forgotten and indexed again later."""
        with self.transaction() as db:
            self.delete_documents(db, paths)
            db.execute("DELETE FROM batch_paths WHERE batch_id = ?", (batch_id,))
            db.execute("DELETE FROM batches WHERE id = ?", (batch_id,))

    def insert_document(
        self, db: apsw.Connection, doc: Any, batch_id: int
    ) -> list[tuple[int, Any]]:
        """Write one prepared document (``lore._native.Document``); ``(chunk_id, chunk)`` pairs
        in document order."""
        db.execute(
            "INSERT INTO documents(path, title, format, content_hash, size, mtime_ns, encoding, "
            "chunk_count, batch_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                doc.rel_path,
                doc.title,
                doc.format,
                doc.content_hash,
                doc.size,
                doc.mtime_ns,
                doc.encoding,
                len(doc.chunks),
                batch_id,
            ),
        )
        doc_id = db.last_insert_rowid()
        chunk_ids: list[int] = []
        chunks = doc.chunks
        for chunk, embedding in zip(chunks, doc.embeddings, strict=True):
            db.execute(
                "INSERT INTO chunks(doc_id, ordinal, heading_path, start_line, end_line, kind, "
                "text, content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    doc_id,
                    chunk.ordinal,
                    join_path(chunk.heading_path),
                    chunk.start_line,
                    chunk.end_line,
                    chunk.kind,
                    chunk.text,
                    hash_bytes(chunk.text.encode("utf-8")),
                ),
            )
            chunk_id = db.last_insert_rowid()
            chunk_ids.append(chunk_id)
            if any(embedding):  # a chunk without words has no direction to compare
                db.execute(
                    "INSERT INTO vectors(chunk_id, embedding) VALUES (?, ?)",
                    (chunk_id, embedding),
                )
        spans = [(c.start_line, c.end_line) for c in chunks]
        db.executemany(
            "INSERT INTO terms(doc_id, text, normalized, kind, line, heading_path, anchor, "
            "chunk_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    doc_id,
                    term.text,
                    normalize_term(term.text),
                    term.kind,
                    term.line,
                    join_path(term.heading_path),
                    term.anchor,
                    chunk_for_line(chunk_ids, spans, term.line),
                )
                for term in [*doc.terms, TitleTerm(doc.title)]
                if normalize_term(term.text)
            ],
        )
        db.execute(
            "INSERT INTO names(rowid, text, path) SELECT id, text, "
            "CASE kind WHEN 'title' THEN ? ELSE '' END FROM terms "
            "WHERE doc_id = ? AND kind IN ('heading', 'title')",
            (doc.rel_path, doc_id),
        )
        db.executemany(
            "INSERT INTO links(doc_id, line, col, end_line, end_col, kind, target, anchor, text, "
            "dest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    doc_id,
                    link.line,
                    link.col,
                    link.end_line,
                    link.end_col,
                    link.kind,
                    link.target,
                    link.anchor,
                    link.text,
                    link_destination(doc.rel_path, link.kind, link.target) or "",
                )
                for link in doc.links
            ],
        )
        db.executemany(
            "INSERT INTO anchors(doc_id, name, line, heading, kind) VALUES (?, ?, ?, ?, ?)",
            [(doc_id, a.name, a.line, a.heading, a.kind) for a in doc.anchors],
        )
        return list(zip(chunk_ids, chunks, strict=True))

    # --- reads ---------------------------------------------------------------------------

    def chunk_count(self) -> int:
        return self.reader.execute("SELECT count(*) FROM chunks").fetchone()[0]

    def counts(self) -> dict[str, int]:
        db = self.reader
        documents, size = db.execute(
            "SELECT count(*), coalesce(sum(size), 0) FROM documents"
        ).fetchone()
        chunks = self.chunk_count()
        terms = db.execute("SELECT count(*) FROM terms").fetchone()[0]
        return {"documents": documents, "chunks": chunks, "terms": terms, "bytes": size}

    def skipped(self) -> list[tuple[str, str]]:
        return [
            tuple(r) for r in self.reader.execute("SELECT path, reason FROM skipped ORDER BY path")
        ]

    def latin1_documents(self) -> list[str]:
        rows = self.reader.execute("SELECT path FROM documents WHERE encoding = 'latin-1'")
        return [r[0] for r in rows]

    def all_paths(self) -> list[str]:
        return [r[0] for r in self.reader.execute("SELECT path FROM documents ORDER BY path")]


class TitleTerm:
    """A document's title as a vocabulary entry (kind ``title``), defined at line 1."""

    kind = "title"
    line = 1
    anchor = ""

    def __init__(self, title: str) -> None:
        self.text = title
        self.heading_path: list[str] = []


def chunk_for_line(chunk_ids: list[int], spans: list[tuple[int, int]], line: int) -> int | None:
    for chunk_id, (start, end) in zip(chunk_ids, spans, strict=True):
        if start <= line <= end:
            return chunk_id
    # A line between chunks (a heading that rode along with the next section) belongs to the
    # first chunk that starts after it.
    for chunk_id, (start, _end) in zip(chunk_ids, spans, strict=True):
        if start > line:
            return chunk_id
    return chunk_ids[0] if chunk_ids else None
