"""What the editor features ask of the knowledge base, as plain functions.

The language server's handlers translate LSP to and from these; they know nothing of the
protocol and are tested without a server. A ``Library`` is the knowledge bases of every
workspace folder, searched together.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote_from_bytes

from lore import _native
from lore.config import Settings
from lore.kb.types import ChunkRecord, SearchResult, TermRecord

if TYPE_CHECKING:
    from lore.kb.base import BaseKnowledgeBase

# An identifier as editors see one: letters, digits, `_`, `-` and inner dots (`lore.reindex`).
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:[-.][A-Za-z0-9_]+)*")
_PREFIX_REVERSED = re.compile(r"[A-Za-z0-9_\-]+")
# Characters looked at on each side of the cursor. A word or link longer than this is data,
# not prose or code; the cap keeps every scan linear, however long the line (a minified file).
SCAN_RADIUS = 1000

# Words too common in code or prose to deserve a hover of their own.
_NOISE = frozenset(
    """self this that the a an and or not none null nil true false return if else elif for while
    in is of to from import def class function fn let var const new int str string list dict
    bool void public private static async await try except catch finally with as pass break
    continue yield lambda end do then use mod pub impl struct enum type interface package""".split()
)


@dataclass(frozen=True, slots=True)
class HoverInfo:
    """A hover: the Markdown to show, and where it came from."""

    markdown: str
    path: str
    abs_path: str
    line: int
    title: str
    score: float


@dataclass(frozen=True, slots=True)
class Completion:
    label: str
    kind: str
    """``term``, ``heading``, ``title`` or ``link``."""
    detail: str
    insert_text: str
    root: str
    path: str
    line: int
    chunk_id: int | None


@dataclass(frozen=True, slots=True)
class Place:
    """A location in the knowledge base (for definitions and symbols)."""

    name: str
    kind: str
    abs_path: str
    path: str
    line: int
    container: str


class Library:
    """The knowledge bases of a workspace, one per folder, searched together."""

    def __init__(self, bases: Sequence[BaseKnowledgeBase] = ()) -> None:
        self.bases = list(bases)

    @property
    def generation(self) -> str:
        """Changes whenever any base commits; cache keys include it."""
        return ".".join(str(kb.generation) for kb in self.bases) or "0"

    def owner(self, path: Path) -> BaseKnowledgeBase | None:
        """The base whose root holds ``path``, the deepest if several do."""
        best: BaseKnowledgeBase | None = None
        for kb in self.bases:
            try:
                path.resolve().relative_to(kb.root)
            except ValueError:
                continue
            if best is None or len(kb.root.parts) > len(best.root.parts):
                best = kb
        return best

    def owner_of(self, abs_path: str) -> BaseKnowledgeBase | None:
        """The base that holds the file at ``abs_path``."""
        for kb in self.bases:
            if abs_path.startswith(str(kb.root) + os.sep):
                return kb
        return self.owner(Path(abs_path))

    def search(self, query: str, k: int, *, per_page: int = 1) -> list[SearchResult]:
        results = [r for kb in self.bases for r in kb.search(query, k, per_page=per_page)]
        results.sort(key=lambda r: r.score, reverse=True)
        return results[:k]

    def similarity(
        self, query: str, chunks: Sequence[ChunkRecord], *, embed_missing: int = 0
    ) -> dict[tuple[str, int], float]:
        """The cosine similarity between ``query`` and the section of each chunk that is
        embedded (``lore.kb.semantic``), by ``(abs_path, chunk_id)``; empty when none is (then
        the query is not embedded either). ``embed_missing``: see ``section_vectors``."""
        from lore.kb import semantic

        if not chunks or not semantic.available():
            return {}
        found: dict[tuple[str, int], bytes] = {}
        for kb in self.bases:
            mine = [c for c in chunks if c.abs_path.startswith(str(kb.root) + os.sep)]
            if mine:
                by_id = {c.chunk_id: c for c in mine}
                vectors = kb.section_vectors(mine, embed_missing=embed_missing)
                found.update(((by_id[cid].abs_path, cid), v) for cid, v in vectors.items())
        if not found:
            return {}
        import numpy as np

        query_vector = semantic.encoder().embed([query], max_tokens=semantic.QUERY_TOKENS)[0]
        return {
            key: float(np.frombuffer(blob, dtype=np.float32) @ query_vector)
            for key, blob in found.items()
        }

    def search_fulltext(self, query: str, k: int) -> list[SearchResult]:
        """Full-text (BM25) results only: a fraction of a hybrid search's cost, and enough for a
        hover's heading check or an answer's follow-up queries."""
        results = [r for kb in self.bases for r in kb.search_bm25(query, k)]
        results.sort(key=lambda r: r.score, reverse=True)
        return results[:k]

    def rarity(self, words: Sequence[str]) -> dict[str, float]:
        """Each word's inverse document frequency, from the largest knowledge base."""
        largest = max(self.bases, key=lambda kb: kb.chunk_total(), default=None)
        return largest.rarity(words) if largest is not None else {w: 1.0 for w in words}

    def lookup_terms(self, text: str, limit: int = 10) -> list[TermRecord]:
        return [t for kb in self.bases for t in kb.lookup_terms(text, limit)][:limit]

    def terms_with_prefix(
        self, prefix: str, limit: int
    ) -> list[tuple[BaseKnowledgeBase, TermRecord]]:
        return [(kb, t) for kb in self.bases for t in kb.terms_with_prefix(prefix, limit)][:limit]

    def headings(self, query: str, limit: int) -> list[TermRecord]:
        return [t for kb in self.bases for t in kb.headings(query, limit)][:limit]

    def chunk(self, root: str, chunk_id: int) -> ChunkRecord | None:
        for kb in self.bases:
            if str(kb.root) == root:
                return kb.chunk(chunk_id)
        return None


# --- words under the cursor --------------------------------------------------------------


def word_at(line_text: str, character: int) -> str | None:
    """The identifier or word at ``character`` (a UTF-16 offset, as LSP counts) of a line."""
    if character < 0:
        return None
    window, index = _around(line_text, character)
    for match in _IDENT.finditer(window.text):
        if match.start() <= index <= match.end():
            if window.cuts(match.start(), match.end()):
                return None
            # `RequestQueue.pop` under `RequestQueue`: hover the part under the cursor.
            parts = list(re.finditer(r"[^.]+", match.group()))
            for part in parts:
                if match.start() + part.start() <= index <= match.start() + part.end():
                    whole = match.group()
                    return whole if len(parts) == 1 or whole.count(".") > 2 else part.group()
            return match.group()
    return None


def prefix_at(line_text: str, character: int) -> str:
    """The identifier-ish text typed just before ``character`` (letters, digits, _ - and space
    after a word, so ``settlement w`` completes "Settlement window")."""
    window, index = _around(line_text, character)
    # Matched backwards from the cursor: a regex anchored at the end would retry every start.
    match = _PREFIX_REVERSED.match(window.text[:index][::-1])
    if match is None or window.cuts(index - match.end(), index):
        return ""
    return match.group()[::-1]


@dataclass(frozen=True)
class _Window:
    """The part of a line around the cursor that is scanned."""

    text: str
    clipped_left: bool
    clipped_right: bool

    def cuts(self, start: int, end: int) -> bool:
        """Whether the span ``start:end`` of the window may continue outside it."""
        return (start == 0 and self.clipped_left) or (end == len(self.text) and self.clipped_right)


def _around(line_text: str, character: int) -> tuple[_Window, int]:
    """The window of ``line_text`` around the UTF-16 offset ``character``, and the cursor's
    index in it."""
    index = utf16_to_index(line_text, character)
    start = max(0, index - SCAN_RADIUS)
    end = min(len(line_text), index + SCAN_RADIUS)
    window = _Window(line_text[start:end], start > 0, end < len(line_text))
    return window, index - start


def utf16_to_index(text: str, character: int) -> int:
    """The index in ``text`` of the LSP position ``character`` (counted in UTF-16 units)."""
    if text.isascii():
        return min(character, len(text))
    units = 0
    for index, ch in enumerate(text):
        if units >= character:
            return index
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(text)


# --- hover -------------------------------------------------------------------------------


def hover_for(library: Library, word: str, settings: Settings) -> HoverInfo | None:
    """The knowledge base's best entry for ``word``, or None when nothing is good enough.

    An exact term or heading match qualifies (for a plain word, only when a single file
    names it). Otherwise one of the top full-text results must hold ``hover.min_score`` of the
    word's parts, and at least two, in its heading path: no hover is better than a noisy one.
    """
    if not settings.hover.enabled:
        return None
    parts = _native.split_identifier(word)
    if not parts or len(word) < 3 or word.lower() in _NOISE:
        return None
    terms = library.lookup_terms(word, limit=3)
    if len(parts) < 2 and len({t.abs_path for t in terms}) > 1:
        # A plain word named in several files ("Example", "Overview" in a large handbook) is
        # a common heading, not a defined term: which one would be meant is a guess.
        terms = []
    if terms and terms[0].kind not in _DEFINING:
        # Only mentions (an identifier in a heading, a bold word): a page whose own title or
        # heading names the term, in any spelling, defines it and wins.
        defining = _defining_section(library, parts)
        if defining is not None:
            return _render(defining, defining.start_line, 1.0, settings)
    if terms:
        term = terms[0]
        kb = library.owner_of(term.abs_path)
        chunk = kb.chunk(term.chunk_id) if kb and term.chunk_id is not None else None
        if chunk is not None:
            # A heading with no body of its own shares its chunk with the next section: name
            # the heading that matched, not the chunk's.
            named = term.kind in ("heading", "title", "definition")
            return _render(
                chunk,
                term.line,
                1.0,
                settings,
                title=term.text if named else None,
                heading_path=term.heading_path if named and term.heading_path else None,
            )
    if len(parts) < 2:
        # A single plain word only hovers when it is a defined term (above).
        return None
    best: tuple[float, SearchResult] | None = None
    for result in library.search_fulltext(" ".join(parts), 3):
        heading_words = set(_native.split_identifier(" ".join(result.chunk.heading_path)))
        matched = sum(p in heading_words for p in parts)
        coverage = matched / len(parts)
        # One shared word ("ledger" of LedgerFreeze in "Ledger outage") is no evidence.
        if matched < 2 or coverage < settings.hover.min_score:
            continue
        if best is None or coverage > best[0]:
            best = (coverage, result)
    if best is None:
        return None
    coverage, top = best
    # Name the deepest heading that holds the word (a page title, not its first section).
    title = next(
        (
            h
            for h in reversed(top.chunk.heading_path)
            if all(p in set(_native.split_identifier(h)) for p in parts)
        ),
        None,
    )
    return _render(top.chunk, top.chunk.start_line, coverage, settings, title=title)


_DEFINING = ("heading", "title", "definition")


def _stems(words: Sequence[str]) -> set[str]:
    # Singular and plural name the same thing: "dead-letter queues" defines DeadLetterQueue.
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words}


def _defining_section(library: Library, parts: Sequence[str]) -> ChunkRecord | None:
    """The best full-text section whose own heading, or whose page title, holds every part."""
    wanted = _stems(parts)
    for result in library.search_fulltext(" ".join(parts), 5):
        chunk = result.chunk
        own = chunk.heading_path[-1:] if chunk.heading_path else ()
        for name in (*own, chunk.title):
            if wanted <= _stems(_native.split_identifier(name)):
                return chunk
    return None


def _render(
    chunk: ChunkRecord,
    line: int,
    score: float,
    settings: Settings,
    *,
    title: str | None = None,
    heading_path: tuple[str, ...] | None = None,
) -> HoverInfo:
    title = title or chunk.heading
    path = heading_path or chunk.heading_path
    heading = " › ".join(path) if path else chunk.title
    body = _excerpt(chunk.text, settings.hover.max_lines)
    link = f"[{chunk.path}:{line}]({file_uri(chunk.abs_path)}#L{line})"
    markdown = f"**{_escape_md(title)}** — {_escape_md(heading)}\n\n{body}\n\n{link}"
    return HoverInfo(markdown, chunk.path, chunk.abs_path, line, title, score)


def _excerpt(text: str, max_lines: int) -> str:
    """The section's first lines without its heading lines, code fences kept balanced."""
    lines = [ln for ln in text.splitlines() if not re.match(r"^#{1,6}\s", ln)]
    # rst headings: drop text lines followed by an adornment and the adornments themselves.
    cleaned: list[str] = []
    for i, ln in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if re.fullmatch(r"([=\-~^\"'`#*+])\1{2,}", ln.strip()):
            continue
        if ln.strip() and re.fullmatch(r"([=\-~^\"'`#*+])\1{2,}", nxt.strip()):
            continue
        cleaned.append(ln)
    while cleaned and not cleaned[0].strip():
        cleaned.pop(0)
    excerpt = cleaned[:max_lines]
    if sum(1 for ln in excerpt if ln.lstrip().startswith("```")) % 2:
        excerpt.append("```")
    if len(cleaned) > max_lines:
        excerpt.append("…")
    return "\n".join(excerpt).strip()


def _escape_md(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>])", r"\\\1", text)


def file_uri(path: str) -> str:
    """The ``file://`` URI of an absolute path."""
    if os.name == "posix" and path.startswith("/") and path == os.path.normpath(path):
        # What ``Path.as_uri`` gives, without parsing a Path: a workspace symbol answer
        # makes hundreds of these.
        return "file://" + quote_from_bytes(os.fsencode(path))
    return Path(path).as_uri()


# --- completion --------------------------------------------------------------------------


def complete(
    library: Library,
    prefix: str,
    settings: Settings,
    *,
    markdown_doc: Path | None = None,
) -> list[Completion]:
    """Terms, headings and page titles that start with ``prefix``; in a Markdown document,
    also links to the matching sections, relative to that document."""
    if not settings.completion.enabled or len(prefix) < settings.completion.min_prefix:
        return []
    items: list[Completion] = []
    for kb, term in library.terms_with_prefix(prefix, settings.completion.max_items):
        where = f"{term.path}:{term.line}"
        items.append(
            Completion(
                label=term.text,
                kind=term.kind,
                detail=f"{term.kind} · {where}",
                insert_text=term.text,
                root=str(kb.root),
                path=term.path,
                line=term.line,
                chunk_id=term.chunk_id,
            )
        )
        if markdown_doc is not None and term.kind in ("heading", "title"):
            target = _relative_link(markdown_doc, Path(term.abs_path))
            anchor = f"#{term.anchor}" if term.anchor and term.kind == "heading" else ""
            items.append(
                Completion(
                    label=f"{term.text} (link)",
                    kind="link",
                    detail=f"link to {where}",
                    insert_text=f"[{term.text}]({target}{anchor})",
                    root=str(kb.root),
                    path=term.path,
                    line=term.line,
                    chunk_id=term.chunk_id,
                )
            )
    return items


def _relative_link(from_doc: Path, to_file: Path) -> str:
    return Path(os.path.relpath(to_file, from_doc.parent)).as_posix()


def completion_documentation(library: Library, root: str, chunk_id: int | None) -> str:
    """The Markdown shown beside a completion item (filled in by completionItem/resolve)."""
    if chunk_id is None:
        return ""
    chunk = library.chunk(root, chunk_id)
    if chunk is None:
        return ""
    heading = " › ".join(chunk.heading_path) or chunk.title
    source = f"*{chunk.path}:{chunk.start_line}*"
    return f"**{_escape_md(heading)}**\n\n{_excerpt(chunk.text, 12)}\n\n{source}"


# --- definitions and symbols -------------------------------------------------------------


def definition(library: Library, *, word: str) -> list[Place]:
    """Where a term is defined: its section's heading line. (Links are resolved by
    ``lore.kb.links``.)"""
    return [_place(t) for t in library.lookup_terms(word, limit=5)[:3]]


SYMBOL_LIMIT = 100
"""The most workspace symbols one answer lists, best first (gopls and clangd also stop at
100): the editor asks again as the user types, and every item costs time to read, convert
and send."""


def symbols(library: Library, query: str, limit: int = SYMBOL_LIMIT) -> list[Place]:
    """Headings and pages whose text contains ``query``."""
    return [_place(t) for t in library.headings(query, limit)]


def _place(term: TermRecord) -> Place:
    container = " › ".join(term.heading_path[:-1]) if term.heading_path else term.title
    return Place(term.text, term.kind, term.abs_path, term.path, term.line, container or term.path)
