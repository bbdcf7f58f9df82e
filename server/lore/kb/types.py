"""Plain records that the knowledge base hands to the CLI, the RAISE pipeline and the server.

They know nothing of LSP. Paths are relative to the knowledge base's root, with ``/``
separators; ``abs_path`` is there for opening files. Line numbers are 1-based and inclusive.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    """A stored chunk of a document."""

    chunk_id: int
    doc_id: int
    path: str
    abs_path: str
    title: str
    """The document's title."""
    heading_path: tuple[str, ...]
    start_line: int
    end_line: int
    text: str
    kind: str
    ordinal: int
    content_hash: str
    """Hash of the chunk's text: answer-cache keys use it to notice re-indexed sources."""

    @property
    def heading(self) -> str:
        """The innermost heading, or the title before the first heading."""
        return self.heading_path[-1] if self.heading_path else self.title


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One hit of hybrid search, best first in a result list."""

    chunk: ChunkRecord
    score: float
    """The fused score (reciprocal rank fusion, plus the exact-term boost)."""
    snippet: str
    """A short excerpt around the query's words, plain text on one or a few lines."""
    scores: dict[str, float] = field(default_factory=dict)
    """The parts: ``bm25``, ``vector`` (cosine similarity), ``exact``, with ranks
    ``bm25_rank`` and ``vector_rank`` where the hit was in that list."""

    def to_json(self) -> dict[str, Any]:
        """The contract of ``lore search --json`` and ``lore/search``."""
        return {
            "path": self.chunk.path,
            "title": self.chunk.title,
            "heading_path": list(self.chunk.heading_path),
            "start_line": self.chunk.start_line,
            "end_line": self.chunk.end_line,
            "snippet": self.snippet,
            "score": round(self.score, 6),
            "scores": {k: round(v, 6) for k, v in self.scores.items()},
            "chunk_id": self.chunk.chunk_id,
        }


@dataclass(frozen=True, slots=True)
class TermRecord:
    """A vocabulary entry: a heading, bold or defined term, or an identifier in a heading."""

    text: str
    normalized: str
    """``lore._native.normalize_term(text)``: identifier parts, lower case, space separated."""
    kind: Literal["heading", "bold", "definition", "identifier", "title"]
    path: str
    abs_path: str
    title: str
    heading_path: tuple[str, ...]
    line: int
    anchor: str
    chunk_id: int | None
    """The chunk that holds the defining line, when there is one."""


@dataclass(frozen=True, slots=True)
class SkippedRecord:
    path: str
    reason: str


@dataclass(slots=True)
class IndexProgress:
    """Reported while indexing; ``total`` is known once the walk is done."""

    phase: Literal["walk", "index", "commit", "done"]
    done_files: int = 0
    total_files: int = 0
    done_bytes: int = 0
    message: str = ""


@dataclass(slots=True)
class IndexReport:
    """What one indexing run did."""

    files: int = 0
    """Files in the knowledge base after the run."""
    indexed: int = 0
    """Files (re)read and written in this run."""
    unchanged: int = 0
    removed: int = 0
    skipped: int = 0
    chunks: int = 0
    """Chunks written in this run."""
    bytes: int = 0
    """Bytes of the files written in this run."""
    seconds: float = 0.0
    repaired: str | None = None
    """Set when the run found a damaged index and repaired or rebuilt it, saying what it did."""
    reembedded: bool = False
    cancelled: bool = False
    generation: int = 0

    @property
    def mb_per_s(self) -> float:
        return (self.bytes / 1e6) / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["mb_per_s"] = round(self.mb_per_s, 3)
        data["seconds"] = round(self.seconds, 3)
        return data
