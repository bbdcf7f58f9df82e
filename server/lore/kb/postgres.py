"""A knowledge base shared by a team, in PostgreSQL (15 or newer).

One indexer (``lore index --to postgresql://…``, typically a CI job) writes it; every editor's
``lore serve`` reads it, from the primary or from a streaming replica.

- **Writing** (:class:`SharedIndex`): the same walk, hashing and chunking as the local indexer
  (``indexer.run_index``, in Rust). One writer at a time, by a session advisory lock. Each batch
  is one transaction that replaces its documents and bumps the generation, so a kill at any
  point rolls back the batch in hand: nothing is lost, nothing is written twice.
- **Full text**: each chunk's ``tsvector`` (English stems, no stop words) weights the page title
  ``A``, the heading path ``B`` and the body ``D``, under a GIN index; ``ts_rank`` ranks with the
  same title and heading boosts as the local BM25. Vectors are not stored: search's vector leg
  is off by default (``search.vector_weight = 0``), and with it on, the shared backend still
  ranks by full text only.
- **Reading** (:class:`SharedKnowledgeBase`): search and chunks come from PostgreSQL. Terms,
  headings, titles, links and anchors are mirrored into a local SQLite catalog (the same schema
  as the local backend's, without the chunks' text), so hover, completion, symbols and links
  answer in microseconds and never wait on the network. The mirror follows the shared
  generation: new documents are copied, removed ones dropped.
- **Schema**: versioned migrations in ``lore_schema``; ``lore_meta`` records the embedder and
  chunking identity (a change makes the indexer rebuild), the text-search configuration, the
  generation and an instance id (a recreated database makes mirrors start over).

A URL's password never reaches a log, an error message or a status: see :func:`redact`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lore import _native
from lore.config import Settings
from lore.kb import index_dir
from lore.kb.base import CHUNK_COLUMNS, BaseKnowledgeBase
from lore.kb.catalog import Catalog, TitleTerm, chunk_for_line, join_path
from lore.kb.fulltext import COMMON_MIN_CHUNKS, COMMON_SHARE, indexed_form, query_words
from lore.kb.indexer import run_index
from lore.kb.knowledge_base import IndexBusyError, IndexError_
from lore.kb.paths import link_destination
from lore.kb.types import ChunkRecord, IndexProgress, IndexReport

log = logging.getLogger(__name__)

# English stemming without a stop-word list, as the local index's tantivy ``en_stem``: both
# backends match the same words ("what is" included), so answers and related pages agree.
TEXT_SEARCH_CONFIG = "lore_english"
# One writer per database: the key of its session advisory lock (any fixed bigint).
WRITER_LOCK_KEY = 0x4C6F7265  # "Lore"
CONNECT_TIMEOUT_S = 5
MIRROR_FILE = index_dir.DB_FILES[0]
# Queries of up to this many words rank the chunks that hold two of them first (66 pairs).
MAX_PAIRED_WORDS = 12

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "documents, chunks with weighted full text, terms, links, anchors",
        """
CREATE TEXT SEARCH DICTIONARY lore_english_stem (TEMPLATE = snowball, Language = english);
CREATE TEXT SEARCH CONFIGURATION lore_english (COPY = pg_catalog.english);
ALTER TEXT SEARCH CONFIGURATION lore_english
    ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part
    WITH lore_english_stem;
CREATE TABLE lore_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE documents (
    id bigserial PRIMARY KEY,
    path text NOT NULL UNIQUE,
    title text NOT NULL,
    format text NOT NULL,
    content_hash text NOT NULL,
    size bigint NOT NULL,
    mtime_ns bigint NOT NULL,
    encoding text NOT NULL,
    chunk_count integer NOT NULL,
    generation bigint NOT NULL
);
CREATE TABLE chunks (
    id bigserial PRIMARY KEY,
    doc_id bigint NOT NULL REFERENCES documents ON DELETE CASCADE,
    ordinal integer NOT NULL,
    heading_path text NOT NULL,
    start_line integer NOT NULL,
    end_line integer NOT NULL,
    kind text NOT NULL,
    text text NOT NULL,
    content_hash text NOT NULL,
    search tsvector NOT NULL
);
CREATE INDEX chunks_doc ON chunks (doc_id, ordinal);
CREATE INDEX chunks_search ON chunks USING gin (search);
CREATE TABLE terms (
    id bigserial PRIMARY KEY,
    doc_id bigint NOT NULL REFERENCES documents ON DELETE CASCADE,
    text text NOT NULL,
    normalized text NOT NULL,
    kind text NOT NULL,
    line integer NOT NULL,
    heading_path text NOT NULL,
    anchor text NOT NULL,
    chunk_id bigint
);
-- Exact lookups (normalized = $1) and prefix ones (normalized LIKE 'reque%') by one index.
CREATE INDEX terms_normalized ON terms (normalized text_pattern_ops, kind);
CREATE INDEX terms_doc ON terms (doc_id);
CREATE TABLE links (
    doc_id bigint NOT NULL REFERENCES documents ON DELETE CASCADE,
    line integer NOT NULL,
    col integer NOT NULL,
    end_line integer NOT NULL,
    end_col integer NOT NULL,
    kind text NOT NULL,
    target text NOT NULL,
    anchor text NOT NULL,
    text text NOT NULL,
    dest text NOT NULL
);
CREATE INDEX links_doc ON links (doc_id);
CREATE TABLE anchors (
    doc_id bigint NOT NULL REFERENCES documents ON DELETE CASCADE,
    name text NOT NULL,
    line integer NOT NULL,
    heading text NOT NULL,
    kind text NOT NULL
);
CREATE INDEX anchors_doc ON anchors (doc_id);
CREATE TABLE skipped (path text PRIMARY KEY, reason text NOT NULL);
""",
    ),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


class SharedKbError(IndexError_):
    """The shared knowledge base cannot be reached or used (the message holds no password)."""


# --- connections ---------------------------------------------------------------------------


def redact(url: str) -> str:
    """``url`` without its password, for messages and status: ``postgresql://user@host:5432/db``."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(url)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown by its scheme alone
        return "postgresql://(unparsable URL)"
    user = parts.get("user")
    host = parts.get("host") or "localhost"
    port = parts.get("port")
    where = f"[{host}]" if ":" in str(host) else str(host)
    if str(host).startswith("/"):
        where = f"(socket {host})"
    text = "postgresql://" + (f"{user}@" if user else "") + where
    text += f":{port}" if port else ""
    return text + f"/{parts.get('dbname') or ''}"


def _scrub(message: str, url: str) -> str:
    """An error message with any password of ``url`` masked (libpq rarely repeats it; be sure)."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        password = conninfo_to_dict(url).get("password")
    except Exception:  # noqa: BLE001
        password = None
    message = " ".join(str(message).split())
    return message.replace(str(password), "***") if password else message


def connect(url: str, *, read_only: bool) -> Any:
    """An autocommit connection; readers' sessions refuse to write even with a writer's role."""
    import psycopg

    try:
        conn = psycopg.connect(
            url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, application_name="lore"
        )
    except psycopg.Error as exc:
        raise SharedKbError(f"cannot connect to {redact(url)}: {_scrub(str(exc), url)}") from None
    if read_only:
        conn.execute("SET default_transaction_read_only = on")
    return conn


def _schema_version(conn: Any) -> int:
    exists = conn.execute("SELECT to_regclass('lore_schema') IS NOT NULL").fetchone()[0]
    if not exists:
        return 0
    return conn.execute("SELECT coalesce(max(version), 0) FROM lore_schema").fetchone()[0]


def migrate(conn: Any) -> int:
    """Apply the migrations this database lacks, each in its own transaction; the version."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS lore_schema (version integer PRIMARY KEY, "
        "description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
    )
    current = _schema_version(conn)
    if current > SCHEMA_VERSION:
        raise SharedKbError(
            f"the shared knowledge base has schema version {current}; this Lore knows "
            f"{SCHEMA_VERSION}: upgrade Lore"
        )
    for version, description, sql in MIGRATIONS:
        if version <= current:
            continue
        with conn.transaction():
            conn.execute(sql)
            conn.execute(
                "INSERT INTO lore_schema (version, description) VALUES (%s, %s)",
                (version, description),
            )
            if version == 1:
                conn.execute(
                    "INSERT INTO lore_meta (key, value) VALUES ('generation', '0'), "
                    "('instance', %s), ('text_search_config', %s)",
                    (uuid.uuid4().hex, TEXT_SEARCH_CONFIG),
                )
    return SCHEMA_VERSION


def _meta(conn: Any, key: str) -> str | None:
    row = conn.execute("SELECT value FROM lore_meta WHERE key = %s", (key,)).fetchone()
    return row[0] if row else None


def _set_meta(conn: Any, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO lore_meta (key, value) VALUES (%s, %s) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def embedder_identity(settings: Settings) -> str:
    """What shapes every stored chunk: the embedder and the chunking (as the local index)."""
    embedder = _native.HashedEmbedder(settings.embedder.dim)
    chunking = settings.chunk
    return (
        f"{embedder.identity}/{embedder.dim}/chunks-{chunking.max_chars}-{chunking.overlap_chars}"
    )


# --- the indexer ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Written:
    files: int = 0
    chunks: int = 0
    bytes: int = 0


_INSERT_CHUNK = (
    "INSERT INTO chunks (id, doc_id, ordinal, heading_path, start_line, end_line, kind, text, "
    "content_hash, search) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, "
    f"setweight(to_tsvector('{TEXT_SEARCH_CONFIG}', %s), 'A') || "
    f"setweight(to_tsvector('{TEXT_SEARCH_CONFIG}', %s), 'B') || "
    f"setweight(to_tsvector('{TEXT_SEARCH_CONFIG}', %s), 'D'))"
)


class SharedIndex:
    """The writer of a shared knowledge base: ``lore index --to URL ROOT``."""

    def __init__(self, url: str, root: Path, settings: Settings) -> None:
        self.url = url
        self.root = root
        self.settings = settings
        self.embedder = _native.HashedEmbedder(settings.embedder.dim)
        self._conn: Any = None
        self._generation = 0
        self.rebuilt: str | None = None

    @classmethod
    def open(
        cls, url: str, root: Path, settings: Settings, *, rebuild: bool = False
    ) -> SharedIndex:
        """Connect, take the writer lock, bring the schema up to date.

        Raises ``IndexBusyError`` when another indexer holds the lock, ``SharedKbError`` when
        the database cannot be reached or is newer than this Lore.
        """
        root = Path(root).expanduser()
        if not root.is_dir():
            raise IndexError_(f"no such folder: {root}")
        index = cls(url, root.resolve(), settings)
        index._conn = connect(url, read_only=False)
        try:
            locked = index._conn.execute(
                "SELECT pg_try_advisory_lock(%s)", (WRITER_LOCK_KEY,)
            ).fetchone()[0]
            if not locked:
                raise IndexBusyError(
                    f"another indexer is writing the shared knowledge base at {redact(url)}"
                )
            migrate(index._conn)
            wanted = embedder_identity(settings)
            stored = _meta(index._conn, "embedder")
            if rebuild or (stored is not None and stored != wanted):
                index.rebuilt = (
                    "rebuilt on request"
                    if rebuild
                    else f"the embedder or chunking changed ({stored} to {wanted}): rebuilt"
                )
                with index._conn.transaction():
                    index._conn.execute(
                        "TRUNCATE documents, chunks, terms, links, anchors, skipped"
                    )
                    _set_meta(index._conn, "embedder", wanted)
                    index._bump()
            elif stored is None:
                _set_meta(index._conn, "embedder", wanted)
            index._generation = int(_meta(index._conn, "generation") or 0)
        except BaseException:
            index.close()
            raise
        return index

    @property
    def generation(self) -> int:
        return self._generation

    def _bump(self) -> int:
        row = self._conn.execute(
            "UPDATE lore_meta SET value = (value::bigint + 1)::text WHERE key = 'generation' "
            "RETURNING value"
        ).fetchone()
        self._generation = int(row[0])
        return self._generation

    def index(
        self,
        *,
        progress: Callable[[IndexProgress], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> IndexReport:
        before = self._generation
        report = run_index(self, progress=progress, cancelled=cancelled)
        if self._generation != before or _meta(self._conn, "common_lexemes") is None:
            self._record_common_lexemes()
            report.generation = self._generation
        report.repaired = self.rebuilt
        report.reembedded = bool(self.rebuilt) and "changed" in (self.rebuilt or "")
        _set_meta(self._conn, "last_index", json.dumps(report.to_json()))
        return report

    def _record_common_lexemes(self) -> None:
        """Record the words in more than ``COMMON_SHARE`` of the chunks (none in a small
        index), as the local full-text index leaves them out of matching: readers drop them
        from queries, where they cost most of the ranking and move no score."""
        with self._conn.transaction():
            chunks = self._conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
            common: list[str] = []
            if chunks >= COMMON_MIN_CHUNKS:
                common = [
                    word
                    for (word,) in self._conn.execute(
                        "SELECT word FROM ts_stat('SELECT search FROM chunks') "
                        "WHERE ndoc > %s ORDER BY word",
                        (COMMON_SHARE * chunks,),
                    )
                ]
            _set_meta(self._conn, "common_lexemes", json.dumps(common))
            self._bump()

    # --- what run_index asks of its target --------------------------------------------------

    def excluded_from_walk(self) -> list[str]:
        rel = self.settings.index_dir(self.root)
        try:
            return [f"/{rel.resolve().relative_to(self.root).as_posix()}/"]
        except ValueError:
            return []

    def known_files(self) -> dict[str, tuple[int, int, str]]:
        rows = self._conn.execute("SELECT path, size, mtime_ns, content_hash FROM documents")
        return {path: (size, mtime, digest) for path, size, mtime, digest in rows}

    def touch_documents(self, updates: Sequence[tuple[int, int, str]]) -> None:
        with self._conn.transaction(), self._conn.cursor() as cur:
            cur.executemany(
                "UPDATE documents SET size = %s, mtime_ns = %s WHERE path = %s", list(updates)
            )

    def document_count(self) -> int:
        return self._conn.execute("SELECT count(*) FROM documents").fetchone()[0]

    def record_skipped(self, skipped: Sequence[tuple[str, str]]) -> None:
        with self._conn.transaction(), self._conn.cursor() as cur:
            cur.execute("DELETE FROM skipped")
            cur.executemany(
                "INSERT INTO skipped (path, reason) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                list(skipped),
            )

    def write_batch(
        self, documents: Sequence[Any], gone: Sequence[str]
    ) -> tuple[_Written, list[tuple[str, str]]]:
        """Replace the batch's documents and delete ``gone`` in one transaction that also bumps
        the generation: readers see all of the batch or none of it."""
        written = _Written()
        errors = [(d.rel_path, d.error) for d in documents if d.error]
        paths = [d.rel_path for d in documents] + list(gone)
        good = [d for d in documents if not d.error]
        conn = self._conn
        with conn.transaction(), conn.cursor() as cur:
            cur.execute("DELETE FROM documents WHERE path = ANY(%s)", (paths,))
            doc_ids = _next_ids(cur, "documents_id_seq", len(good))
            chunk_ids = _next_ids(cur, "chunks_id_seq", sum(len(d.chunks) for d in good))
            generation = self._generation + 1
            doc_rows, chunk_rows, term_rows, link_rows, anchor_rows = [], [], [], [], []
            taken = 0
            for doc, doc_id in zip(good, doc_ids, strict=True):
                ids = chunk_ids[taken : taken + len(doc.chunks)]
                taken += len(doc.chunks)
                doc_rows.append(
                    (doc_id, doc.rel_path, doc.title, doc.format, doc.content_hash, doc.size,
                     doc.mtime_ns, doc.encoding, len(doc.chunks), generation)
                )  # fmt: skip
                for chunk_id, chunk in zip(ids, doc.chunks, strict=True):
                    heading = join_path(chunk.heading_path)
                    chunk_rows.append(
                        (chunk_id, doc_id, chunk.ordinal, heading, chunk.start_line,
                         chunk.end_line, chunk.kind, chunk.text,
                         _native.hash_bytes(chunk.text.encode("utf-8")),
                         doc.title, " / ".join(chunk.heading_path), chunk.text)
                    )  # fmt: skip
                spans = [(c.start_line, c.end_line) for c in doc.chunks]
                for term in [*doc.terms, TitleTerm(doc.title)]:
                    normalized = _native.normalize_term(term.text)
                    if normalized:
                        term_rows.append(
                            (doc_id, term.text, normalized, term.kind, term.line,
                             join_path(term.heading_path), term.anchor,
                             chunk_for_line(ids, spans, term.line))
                        )  # fmt: skip
                for link in doc.links:
                    dest = link_destination(doc.rel_path, link.kind, link.target) or ""
                    link_rows.append(
                        (doc_id, link.line, link.col, link.end_line, link.end_col, link.kind,
                         link.target, link.anchor, link.text, dest)
                    )  # fmt: skip
                anchor_rows += [(doc_id, a.name, a.line, a.heading, a.kind) for a in doc.anchors]
                written.files += 1
                written.bytes += doc.size
            cur.executemany(
                "INSERT INTO documents (id, path, title, format, content_hash, size, mtime_ns, "
                "encoding, chunk_count, generation) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                doc_rows,
            )
            cur.executemany(_INSERT_CHUNK, chunk_rows)
            cur.executemany(
                "INSERT INTO terms (doc_id, text, normalized, kind, line, heading_path, anchor, "
                "chunk_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                term_rows,
            )
            cur.executemany(
                "INSERT INTO links (doc_id, line, col, end_line, end_col, kind, target, anchor, "
                "text, dest) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                link_rows,
            )
            cur.executemany(
                "INSERT INTO anchors (doc_id, name, line, heading, kind) "
                "VALUES (%s, %s, %s, %s, %s)",
                anchor_rows,
            )
            self._bump()
            # Delivered at commit, to sessions that LISTEN on the primary (replicas get none).
            cur.execute("SELECT pg_notify('lore_generation', %s)", (str(self._generation),))
        written.chunks = len(chunk_rows)
        return written, errors

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()  # the session's advisory lock goes with it
            self._conn = None

    def __enter__(self) -> SharedIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _next_ids(cur: Any, sequence: str, count: int) -> list[int]:
    """``count`` fresh ids from ``sequence`` in one round trip (the rows then go in by
    ``executemany``, which psycopg pipelines)."""
    if count == 0:
        return []
    cur.execute("SELECT nextval(%s) FROM generate_series(1, %s)", (sequence, count))
    return [row[0] for row in cur.fetchall()]


# --- the reader ------------------------------------------------------------------------------


def mirror_dir(url: str, root: Path) -> Path:
    """The local folder of the mirror of ``url`` served for ``root``, in the user's cache."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    key = hashlib.sha256(f"{redact(url)}\n{root}".encode()).hexdigest()[:16]
    return Path(base) / "lore" / "shared" / key


class SharedKnowledgeBase(BaseKnowledgeBase):
    """A shared knowledge base read from PostgreSQL (a primary or a replica).

    Documents' paths are taken from ``root`` (a checkout of the docs, so that sources open);
    the vocabulary is read from the local mirror, chunks and full text from PostgreSQL.
    """

    backend = "postgresql"

    def __init__(self, url: str, root: Path, settings: Settings) -> None:
        super().__init__(root, settings)
        self._url = url
        self.url = redact(url)
        self.read_only = True
        self.index_dir = mirror_dir(url, root)
        self._local = threading.local()
        self._connections: list[Any] = []
        self._connections_lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._generation = 0
        self._chunks = 0
        self._common: set[str] = set()
        self._frequency: dict[str, int] = {}

    @classmethod
    def open(cls, url: str, root: Path, settings: Settings) -> SharedKnowledgeBase:
        """Connect, check the schema and bring the local mirror up to date.

        Raises ``SharedKbError`` when the database cannot be reached, has no knowledge base
        yet, or was written by a newer Lore."""
        root = Path(root).expanduser()
        if not root.is_dir():
            raise IndexError_(f"no such folder: {root}")
        kb = cls(url, root.resolve(), settings)
        try:
            version = _schema_version(kb._conn())
            if version == 0:
                raise SharedKbError(
                    f"{kb.url} holds no knowledge base yet: run `lore index --to URL` first"
                )
            if version > SCHEMA_VERSION:
                raise SharedKbError(
                    f"{kb.url} has schema version {version}; this Lore knows {SCHEMA_VERSION}"
                )
            kb.index_dir = index_dir.claim(kb.root, kb.index_dir)
            kb.catalog = Catalog(
                kb.index_dir / MIRROR_FILE, dim=settings.embedder.dim, writable=True
            )
            kb._sync()
        except BaseException:
            kb.close()
            raise
        return kb

    # --- connections ----------------------------------------------------------------------

    def _conn(self) -> Any:
        """This thread's connection to PostgreSQL."""
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = connect(self._url, read_only=True)
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Rows of one statement; a dropped connection is opened again once."""
        import psycopg

        for attempt in (1, 2):
            try:
                return self._conn().execute(sql, params).fetchall()
            except psycopg.OperationalError as exc:
                self._local.conn = None
                if attempt == 2:
                    raise SharedKbError(f"{self.url}: {_scrub(str(exc), self._url)}") from None
        return []

    @contextmanager
    def _snapshot(self) -> Iterator[Any]:
        """A read-only repeatable-read transaction: several queries, one state of the KB."""
        conn = self._conn()
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    # --- the generation and the mirror ----------------------------------------------------

    @property
    def generation(self) -> int:
        return self._generation

    def refresh(self) -> bool:
        """Follow the indexer: when the shared generation moved, update the mirror."""
        try:
            current = int(self._query("SELECT value FROM lore_meta WHERE key = 'generation'")[0][0])
        except (SharedKbError, IndexError):
            return False
        if current == self._generation:
            return False
        self._sync()
        return True

    def _sync(self) -> None:
        """Copy into the mirror the documents it lacks, and drop those PostgreSQL no longer
        has (a rewritten document has a new id: it is both). One snapshot of PostgreSQL."""
        with self._sync_lock, self._snapshot() as pg:
            generation = int(_meta(pg, "generation") or 0)
            instance = _meta(pg, "instance") or ""
            chunks = pg.execute("SELECT count(*) FROM chunks").fetchone()[0]
            common = set(json.loads(_meta(pg, "common_lexemes") or "[]"))
            mirror = self.catalog
            if mirror.get_meta("instance") != instance:
                with mirror.transaction() as db:
                    for table in ("documents", "chunks", "terms", "names", "links", "anchors"):
                        db.execute(f"DELETE FROM {table}")
                    mirror.set_meta(db, "instance", instance)
            shared_ids = {row[0] for row in pg.execute("SELECT id FROM documents")}
            local_ids = {row[0] for row in mirror.reader.execute("SELECT id FROM documents")}
            gone = sorted(local_ids - shared_ids)
            new = sorted(shared_ids - local_ids)
            rows = _mirror_rows(pg, new) if new else {}
            with mirror.transaction() as db:
                for doc_id in gone:
                    for sql in _MIRROR_DELETES:
                        db.execute(sql, (doc_id,))
                for table, sql in _MIRROR_INSERTS.items():
                    if rows.get(table):
                        db.executemany(sql, rows[table])
                if new:
                    marks = ",".join("?" * len(new))
                    db.execute(
                        "INSERT INTO names(rowid, text, path) SELECT t.id, t.text, "
                        "CASE t.kind WHEN 'title' THEN d.path ELSE '' END FROM terms t "
                        f"JOIN documents d ON d.id = t.doc_id WHERE t.doc_id IN ({marks}) "
                        "AND t.kind IN ('heading', 'title')",
                        new,
                    )
                mirror.set_meta(db, "generation", generation)
        self._chunks = chunks
        self._common = common
        self._frequency = {}
        self._generation = generation
        if gone or new:
            log.info("shared knowledge base %s: +%d -%d documents", self.url, len(new), len(gone))

    def _stores_vectors(self) -> bool:
        return True  # section vectors embedded on demand are kept in the mirror, by content

    def store_unit_vectors(self, items: Iterable[tuple[str, bytes]]) -> None:
        with self._sync_lock:
            super().store_unit_vectors(items)

    # --- search and chunks ----------------------------------------------------------------

    def _bm25(self, query: str, k: int) -> list[tuple[int, float]]:
        words = query_words(query)
        # Words most chunks hold are left out, as the local backend does (all kept when every
        # word is that common).
        words = [w for w in words if indexed_form(w) not in self._common] or words
        if not words:
            return []
        if 3 <= len(words) <= MAX_PAIRED_WORDS:
            # The best of an any-word match hold two of the words or more: rank those first,
            # a fraction of the rows, and every matching row only when they are too few.
            pairs = " | ".join(f"({a} & {b})" for a, b in itertools.combinations(words, 2))
            ranked = self._ranked(words, k, among=pairs)
            if len(ranked) >= k:
                return ranked
        return self._ranked(words, k)

    def _ranked(
        self, words: list[str], k: int, among: str | None = None
    ) -> list[tuple[int, float]]:
        """``ts_rank`` of the chunks that hold any of ``words`` (those that match ``among``,
        when given), best first. The words are ``\\w+`` runs: no tsquery operator."""
        s = self.settings.search
        # ts_rank's weights are {D, C, B, A}: body, unused, heading path, title; at most 1.
        weights = [1.0, 0.0, min(s.heading_boost, 1.0), min(s.title_boost, 1.0)]
        matching = f"to_tsquery('{TEXT_SEARCH_CONFIG}', %s)"
        rows = self._query(
            "SELECT c.id, ts_rank(%s::float4[], c.search, q, 1) AS score "
            f"FROM chunks c, {matching} AS q, {matching} AS m "
            "WHERE c.search @@ m ORDER BY score DESC, c.id LIMIT %s",
            (weights, " | ".join(words), among or " | ".join(words), k),
        )
        return [(chunk_id, float(score)) for chunk_id, score in rows]

    def chunk_total(self) -> int:
        return self._chunks

    def rarity(self, words: Sequence[str]) -> dict[str, float]:
        """As the local backend's: ``log(1 + N / (df + 0.5))``, df counted by the GIN index and
        remembered until the generation changes."""
        missing = [w for w in dict.fromkeys(words) if w not in self._frequency]
        for word in missing:
            self._frequency[word] = self._query(
                "SELECT count(*) FROM chunks "
                f"WHERE search @@ plainto_tsquery('{TEXT_SEARCH_CONFIG}', %s)",
                (word,),
            )[0][0]
        total = self._chunks
        return {w: math.log(1 + total / (self._frequency[w] + 0.5)) for w in words}

    def _records(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRecord]:
        if not chunk_ids:
            return {}
        rows = self._query(
            f"SELECT {CHUNK_COLUMNS} FROM chunks c JOIN documents d ON d.id = c.doc_id "
            "WHERE c.id = ANY(%s)",
            (list(chunk_ids),),
        )
        records = (self._chunk(row) for row in rows)
        return {r.chunk_id: r for r in records}

    def _pages(self, chunk_ids: Sequence[int]) -> dict[int, int]:
        if not chunk_ids:
            return {}
        rows = self._query("SELECT id, doc_id FROM chunks WHERE id = ANY(%s)", (list(chunk_ids),))
        return dict(rows)

    def neighbours(self, chunk_id: int, before: int = 1, after: int = 1) -> list[ChunkRecord]:
        rows = self._query(
            f"SELECT {CHUNK_COLUMNS} FROM chunks me JOIN chunks c ON c.doc_id = me.doc_id "
            "JOIN documents d ON d.id = c.doc_id WHERE me.id = %s "
            "AND c.ordinal BETWEEN me.ordinal - %s AND me.ordinal + %s ORDER BY c.ordinal",
            (chunk_id, before, after),
        )
        return [self._chunk(r) for r in rows]

    def chunks_of(self, path: str) -> list[ChunkRecord]:
        rows = self._query(
            f"SELECT {CHUNK_COLUMNS} FROM chunks c JOIN documents d ON d.id = c.doc_id "
            "WHERE d.path = %s ORDER BY c.ordinal",
            (path,),
        )
        return [self._chunk(r) for r in rows]

    def index(
        self,
        *,
        progress: Callable[[IndexProgress], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> IndexReport:
        raise IndexBusyError(
            f"the shared knowledge base at {self.url} is written by `lore index --to`, "
            "not by editors"
        )

    # --- status and shutdown --------------------------------------------------------------

    def replica(self) -> dict[str, Any]:
        """Whether this is a standby, and how far its replay is behind what it received."""
        standby, lag_bytes, lag_s = self._query(
            "SELECT pg_is_in_recovery(), "
            "pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), "
            "CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
            "ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END"
        )[0]
        if not standby:
            return {"standby": False, "lag_bytes": 0, "lag_s": 0.0}
        return {
            "standby": True,
            "lag_bytes": int(lag_bytes or 0),
            "lag_s": round(float(lag_s or 0.0), 3),
        }

    def status(self) -> dict[str, Any]:
        with self._snapshot() as pg:
            documents, size = pg.execute(
                "SELECT count(*), coalesce(sum(size), 0)::bigint FROM documents"
            ).fetchone()
            chunks = pg.execute("SELECT count(*) FROM chunks").fetchone()[0]
            terms = pg.execute("SELECT count(*) FROM terms").fetchone()[0]
            skipped = [
                {"path": p, "reason": r}
                for p, r in pg.execute("SELECT path, reason FROM skipped ORDER BY path")
            ]
            last = _meta(pg, "last_index")
            identity = _meta(pg, "embedder") or ""
            generation = int(_meta(pg, "generation") or 0)
        return {
            "backend": self.backend,
            "url": self.url,
            "root": str(self.root),
            "index_dir": str(self.index_dir),
            "documents": documents,
            "chunks": chunks,
            "terms": terms,
            "bytes": size,
            "generation": generation,
            "mirror_generation": self._generation,
            "replica": self.replica(),
            "read_only": True,
            "embedder": {
                "identity": identity.split("/")[0],
                "dim": int(identity.split("/")[1]) if identity.count("/") else 0,
            },
            "schema_version": SCHEMA_VERSION,
            "skipped": skipped,
            "last_index": json.loads(last) if last else None,
            "repaired": None,
        }

    def close(self) -> None:
        with self._connections_lock:
            for conn in self._connections:
                try:
                    conn.close()
                except Exception:  # noqa: BLE001 - closing what may already be gone
                    pass
            self._connections.clear()
        catalog = getattr(self, "catalog", None)
        if catalog is not None:
            catalog.close()


_MIRROR_TABLES = {
    "documents": (
        "id, path, title, format, content_hash, size, mtime_ns, encoding, chunk_count, 0",
        "id, path, title, format, content_hash, size, mtime_ns, encoding, chunk_count, batch_id",
    ),
    # The chunks' places only (links find the section a heading opens); their text stays shared.
    "chunks": (
        "id, doc_id, ordinal, heading_path, start_line, end_line, kind, '', ''",
        "id, doc_id, ordinal, heading_path, start_line, end_line, kind, text, content_hash",
    ),
    "terms": (
        "id, doc_id, text, normalized, kind, line, heading_path, anchor, chunk_id",
        "id, doc_id, text, normalized, kind, line, heading_path, anchor, chunk_id",
    ),
    "links": (
        "doc_id, line, col, end_line, end_col, kind, target, anchor, text, dest",
        "doc_id, line, col, end_line, end_col, kind, target, anchor, text, dest",
    ),
    "anchors": ("doc_id, name, line, heading, kind", "doc_id, name, line, heading, kind"),
}
_MIRROR_INSERTS = {
    table: f"INSERT INTO {table} ({local}) VALUES ({','.join('?' * len(local.split(',')))})"
    for table, (_shared, local) in _MIRROR_TABLES.items()
}
_MIRROR_DELETES = [
    "DELETE FROM names WHERE rowid IN (SELECT id FROM terms WHERE doc_id = ?)",
    *(f"DELETE FROM {t} WHERE doc_id = ?" for t in ("chunks", "terms", "links", "anchors")),
    "DELETE FROM documents WHERE id = ?",
]


def _mirror_rows(pg: Any, doc_ids: list[int]) -> dict[str, list[tuple]]:
    rows: dict[str, list[tuple]] = {}
    for table, (shared, _local) in _MIRROR_TABLES.items():
        key = "id" if table == "documents" else "doc_id"
        rows[table] = pg.execute(
            f"SELECT {shared} FROM {table} WHERE {key} = ANY(%s)", (doc_ids,)
        ).fetchall()
    return rows
