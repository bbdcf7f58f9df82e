"""The full-text side of an index: tantivy (BM25) over chunk text, title and heading path."""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import tantivy

from lore._native import split_identifier

# Words only: whatever the user typed, the query we build never holds tantivy syntax.
_WORD = re.compile(r"\w+", re.UNICODE)
MAX_QUERY_WORDS = 64
COMMON_SHARE = 0.3
"""A query word found in more than this share of the chunks is left out of BM25 matching:
its inverse document frequency is near zero, so it barely moves a score, yet its postings
are most of what a whole-question query reads ("the", "aws", "how", "use"). Only in an index
of ``COMMON_MIN_CHUNKS`` or more: a small one is fast anyway, and there a word in a third of
the chunks may be the very subject ("ledger" in a handbook about the ledger)."""
COMMON_MIN_CHUNKS = 2000
_WRITER_HEAP = 256 * 1024 * 1024


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_unsigned_field("chunk_id", stored=True, indexed=True, fast=True)
    # The raw tokenizer keeps the path whole, so a document's chunks can be deleted by path.
    builder.add_text_field("path", stored=True, tokenizer_name="raw")
    builder.add_text_field("title", tokenizer_name="en_stem")
    builder.add_text_field("heading", tokenizer_name="en_stem")
    builder.add_text_field("body", tokenizer_name="en_stem")
    return builder.build()


# The analyzer behind tantivy's `en_stem`, to look a query word up as the index holds it.
_EN_STEM = (
    tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
    .filter(tantivy.Filter.remove_long(40))
    .filter(tantivy.Filter.lowercase())
    .filter(tantivy.Filter.stemmer("english"))
    .build()
)


def indexed_form(word: str) -> str:
    tokens = _EN_STEM.analyze(word)
    return tokens[0] if tokens else word


def query_words(text: str) -> list[str]:
    """The words of a query, lower-cased (so AND/OR are words, not operators), with the parts
    of identifiers added (``RequestQueue`` also gives ``request`` and ``queue``); at most 64."""
    words: list[str] = []
    for word in _WORD.findall(text[:20_000]):
        lowered = word.lower()
        words.append(lowered)
        parts = split_identifier(word)
        if len(parts) > 1:
            words.extend(parts)
        if len(words) >= MAX_QUERY_WORDS:
            break
    return list(dict.fromkeys(words))[:MAX_QUERY_WORDS]


class FullText:
    """One tantivy index; writable by the process that holds the index's writer lock."""

    def __init__(self, path: Path, *, writable: bool) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self._schema = _schema()
        self._index = tantivy.Index(self._schema, path=str(path), reuse=True)
        self._writer: tantivy.IndexWriter | None = None
        self._writable = writable
        self._lock = threading.Lock()
        self._searcher = self._index.searcher()

    @staticmethod
    def remove(path: Path) -> None:
        shutil.rmtree(path, ignore_errors=True)

    # --- writes --------------------------------------------------------------------------

    def _writer_or_open(self) -> tantivy.IndexWriter:
        if not self._writable:
            raise PermissionError("this index is open read-only")
        if self._writer is None:
            self._writer = self._index.writer(heap_size=_WRITER_HEAP, num_threads=1)
        return self._writer

    def delete_paths(self, paths: Iterable[str]) -> None:
        writer = self._writer_or_open()
        for path in paths:
            writer.delete_documents_by_term("path", path)

    def add_chunks(
        self,
        rows: Iterable[tuple[int, str, str, Sequence[str], str]],
    ) -> None:
        """Add ``(chunk_id, path, title, heading_path, text)`` rows (committed by ``commit``)."""
        writer = self._writer_or_open()
        for chunk_id, path, title, heading_path, text in rows:
            doc = tantivy.Document()
            doc.add_unsigned("chunk_id", chunk_id)
            doc.add_text("path", path)
            doc.add_text("title", title)
            doc.add_text("heading", " / ".join(heading_path))
            doc.add_text("body", text)
            writer.add_document(doc)

    def commit(self) -> None:
        writer = self._writer_or_open()
        writer.commit()
        self.reload()

    def close(self) -> None:
        if self._writer is not None:
            try:
                self._writer.wait_merging_threads()
            except (ValueError, RuntimeError):
                pass
            self._writer = None

    # --- reads ---------------------------------------------------------------------------

    def reload(self) -> None:
        """See the latest commit (of this process or of the writer we follow)."""
        self._index.reload()
        with self._lock:
            self._searcher = self._index.searcher()

    def num_docs(self) -> int:
        return self._searcher.num_docs

    def chunk_ids(self) -> list[int]:
        """Every chunk id in the index (for checks and tests)."""
        searcher = self._searcher
        hits = searcher.search(tantivy.Query.all_query(), limit=max(1, searcher.num_docs)).hits
        return [
            v for v in searcher.fast_field_values("chunk_id", [a for _, a in hits]) if v is not None
        ]

    def document_frequency(self, word: str) -> int:
        """How many chunks hold ``word`` (stemmed as indexed) in their title, heading or body."""
        words = query_words(word)[:1]
        if not words:
            return 0
        parsed = self._index.parse_query(words[0], ["title", "heading", "body"])
        return self._searcher.search(parsed, limit=1, count=True).count

    def _rare_enough(self, words: list[str]) -> list[str]:
        """``words`` less those in more than ``COMMON_SHARE`` of the chunks' bodies (all of
        them when every word is that common)."""
        searcher = self._searcher
        if searcher.num_docs < COMMON_MIN_CHUNKS:
            return words
        most = COMMON_SHARE * searcher.num_docs
        rare = [w for w in words if searcher.doc_freq("body", indexed_form(w)) <= most]
        return rare or words

    def search(
        self, query: str, limit: int, *, title_boost: float = 2.0, heading_boost: float = 1.5
    ) -> list[tuple[int, float]]:
        """BM25 over title, heading path and body: ``(chunk_id, score)``, best first."""
        words = self._rare_enough(query_words(query))
        if not words:
            return []
        parsed = self._index.parse_query(
            " ".join(words),
            ["title", "heading", "body"],
            field_boosts={"title": title_boost, "heading": heading_boost, "body": 1.0},
        )
        searcher = self._searcher
        hits = searcher.search(parsed, limit=limit, count=False).hits
        ids = searcher.fast_field_values("chunk_id", [address for _, address in hits])
        return [(cid, score) for (score, _), cid in zip(hits, ids, strict=True) if cid is not None]
