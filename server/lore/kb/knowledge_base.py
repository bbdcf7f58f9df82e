"""The knowledge base of one root: catalog, vectors and full text, opened together.

This is the API the CLI, the RAISE pipeline and the language server use. It is thread-safe:
the server calls it from several worker threads at once (reads run concurrently; writes are
serialised inside).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lore.config import Settings
from lore.kb.types import ChunkRecord, IndexProgress, IndexReport, SearchResult, TermRecord


class IndexError_(Exception):
    """The index cannot be used as asked (for example: the root is missing)."""


class KnowledgeBase:
    """One root's knowledge base, stored under ``settings.index_dir(root)``."""

    root: Path
    """The folder whose files make up the knowledge base (absolute, resolved)."""
    settings: Settings
    read_only: bool
    """True when another process holds the writer lock: this one follows its commits."""
    repaired: str | None
    """Set by ``open`` when it found damage and repaired it or started over, saying what."""

    @classmethod
    def open(cls, root: Path, settings: Settings, *, read_only: bool = False) -> KnowledgeBase:
        """Open (creating if needed) the index of ``root``.

        Becomes the writer unless ``read_only`` or another process holds the writer lock.
        Repairs what a kill left half-done; rebuilds from scratch (and says so in ``repaired``)
        when the index is corrupt. Raises ``IndexError_`` when ``root`` is not a folder.
        """
        raise NotImplementedError

    @property
    def generation(self) -> int:
        """Bumped by every commit; cache keys include it."""
        raise NotImplementedError

    def index(
        self,
        *,
        paths: Sequence[Path] | None = None,
        progress: Callable[[IndexProgress], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> IndexReport:
        """Bring the index up to date with the files: everything, or just ``paths`` (changed,
        created or deleted files). Incremental and crash-safe; checks ``cancelled`` between
        batches and stops early (what was committed stays). Raises ``PermissionError`` when
        read-only."""
        raise NotImplementedError

    def refresh(self) -> bool:
        """Follow the writer's commits (read-only mode); True when something new was seen."""
        raise NotImplementedError

    def search(self, query: str, k: int = 10) -> list[SearchResult]:
        """Hybrid search: BM25 and vector candidates fused by RRF, with an exact fast path for
        terms and headings. An empty or blank query gives ``[]``; tantivy syntax characters are
        taken literally."""
        raise NotImplementedError

    def search_bm25(self, query: str, k: int = 10) -> list[SearchResult]:
        """Full-text results only (for evaluation and the benchmarks)."""
        raise NotImplementedError

    def search_vector(self, query: str, k: int = 10) -> list[SearchResult]:
        """Vector results only (for evaluation and the benchmarks)."""
        raise NotImplementedError

    def lookup_terms(self, text: str, limit: int = 10) -> list[TermRecord]:
        """Vocabulary entries whose normalised form equals ``normalize_term(text)``; headings and
        definitions first. Fast: one indexed SQLite lookup."""
        raise NotImplementedError

    def terms_with_prefix(self, prefix: str, limit: int = 50) -> list[TermRecord]:
        """Vocabulary entries (terms, headings, page titles) whose text or normalised form starts
        with ``prefix`` (case-insensitive), one per distinct text, most useful first."""
        raise NotImplementedError

    def headings(self, query: str = "", limit: int = 200) -> list[TermRecord]:
        """Headings and page titles whose text contains ``query`` (case-insensitive)."""
        raise NotImplementedError

    def documents(self) -> list[dict[str, Any]]:
        """Every document: ``path``, ``abs_path``, ``title``, ``chunks``, ``size``."""
        raise NotImplementedError

    def chunk(self, chunk_id: int) -> ChunkRecord | None:
        raise NotImplementedError

    def neighbours(self, chunk_id: int, before: int = 1, after: int = 1) -> list[ChunkRecord]:
        """The chunks around ``chunk_id`` in its document, in order, itself included."""
        raise NotImplementedError

    def chunks_of(self, path: str) -> list[ChunkRecord]:
        """The chunks of the document at ``path`` (relative), in order."""
        raise NotImplementedError

    def status(self) -> dict[str, Any]:
        """``root``, ``index_dir``, ``documents``, ``chunks``, ``terms``, ``bytes``,
        ``generation``, ``read_only``, ``embedder`` {identity, dim}, ``schema_version``,
        ``skipped`` [{path, reason}], ``last_index`` (the last IndexReport as JSON or None)."""
        raise NotImplementedError

    def close(self) -> None:
        """Commit pending writes, release the writer lock, close files."""
        raise NotImplementedError
