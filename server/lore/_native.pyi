"""Type stubs of ``lore._native``, the Rust core (pyo3).

Every long call releases the GIL; the batch calls run in parallel on a rayon pool.
Line numbers are 1-based and inclusive throughout.
"""

from collections.abc import Sequence
from typing import Literal

__version__: str

PriorityClass = Literal["interactive", "user", "background"]
DocFormat = Literal["markdown", "rst", "text"]

# --- walk -----------------------------------------------------------------------------------

class WalkEntry:
    """A file that belongs to the knowledge base."""

    path: str
    """Absolute path."""
    rel_path: str
    """Path relative to the walked root, with ``/`` separators."""
    size: int
    mtime_ns: int

class SkippedFile:
    """A file that was left out, and why."""

    path: str
    rel_path: str
    reason: str
    """``too-large``, ``binary`` or ``unreadable: <os error>``."""

class WalkResult:
    files: list[WalkEntry]
    """Sorted by ``rel_path``."""
    skipped: list[SkippedFile]

def walk(
    root: str,
    *,
    extensions: Sequence[str],
    max_file_bytes: int,
    exclude: Sequence[str] = (),
    ignore_files: Sequence[str] = (".loreignore",),
    threads: int = 0,
) -> WalkResult:
    """Walk ``root`` with ripgrep's walker.

    Honours ``.gitignore`` (even outside a git repository), ``.ignore`` and the
    ``ignore_files`` (each read only when it is a regular file: a FIFO or a symlink named
    ``.gitignore`` is passed over); skips hidden files and folders and VCS folders; keeps
    files whose extension is in ``extensions`` (case-insensitive, no dot). Files larger than
    ``max_file_bytes`` and binary files (a NUL byte in the first 8 KiB) are reported in
    ``skipped``. ``exclude`` holds extra gitignore-style patterns. ``threads=0`` picks a count.
    Raises ``FileNotFoundError`` if ``root`` is not a directory.
    """

# --- hash -----------------------------------------------------------------------------------

def hash_bytes(data: bytes) -> str:
    """BLAKE3 of ``data``, as 32 lowercase hex characters (the first 128 bits)."""

def hash_files(paths: Sequence[str]) -> list[str | None]:
    """``hash_bytes`` of each file's content, in parallel; ``None`` where it cannot be read."""

# --- chunk and terms ------------------------------------------------------------------------

class Chunk:
    ordinal: int
    """Position of the chunk in its document, from 0."""
    heading_path: list[str]
    """Headings above the chunk, outermost first; empty before the first heading."""
    start_line: int
    end_line: int
    text: str
    """The chunk's source text (Markdown kept as written), code blocks whole."""
    kind: Literal["section", "code", "paragraph"]

class Term:
    text: str
    """The term as written, such as ``Request queue`` or ``RequestQueue``."""
    kind: Literal["heading", "bold", "definition", "identifier"]
    line: int
    heading_path: list[str]
    """The section that defines the term (for a heading: the path down to and including it)."""
    anchor: str
    """GitHub-style slug of the defining heading, such as ``request-queue``."""

class Link:
    """A link in a document. Lines are 1-based; columns 0-based UTF-16 offsets (as LSP counts)."""

    line: int
    col: int
    end_line: int
    end_col: int
    kind: Literal["inline", "reference", "wiki", "autolink", "ref", "doc"]
    """``ref`` names a reStructuredText label anywhere; ``doc`` a page; ``wiki`` a page name."""
    target: str
    """The destination without its fragment, as written."""
    anchor: str
    """The fragment after ``#`` (for ``ref``, the label)."""
    text: str

class Anchor:
    """A place a link's fragment can name: a heading's slug, explicit ``{#id}`` or rst label."""

    name: str
    line: int
    heading: str
    kind: Literal["slug", "id", "label"]

class Document:
    """One file, read, decoded, chunked, with terms and embeddings: the indexer's unit of work."""

    path: str
    rel_path: str
    format: DocFormat
    content_hash: str
    """``hash_bytes`` of the raw bytes."""
    size: int
    mtime_ns: int
    title: str
    """First level-1 heading (or first heading, or the file stem)."""
    encoding: Literal["utf-8", "latin-1"]
    """``latin-1`` when the file was not valid UTF-8 and was decoded with the fallback."""
    chunks: list[Chunk]
    terms: list[Term]
    links: list[Link]
    anchors: list[Anchor]
    """Slugs are numbered when a heading repeats (``setup``, ``setup-1``), as GitHub does."""
    embeddings: list[bytes]
    """One per chunk: ``dim`` little-endian float32 values, L2-normalised (sqlite-vec's format)."""
    error: str | None
    """Set when the file could not be read; then there are no chunks."""

def extract_links(text: str, format: DocFormat) -> tuple[list[Link], list[Anchor]]:
    """The links and heading anchors of ``text``."""

def detect_format(path: str) -> DocFormat:
    """``markdown`` for .md/.markdown/.mdx, ``rst`` for .rst, else ``text``."""

def chunk_text(
    text: str, format: DocFormat, *, max_chars: int = 1200, overlap_chars: int = 150
) -> list[Chunk]:
    """Split ``text`` into chunks of at most about ``max_chars`` (a code block is never split).

    Markdown goes through pulldown-cmark and keeps heading paths and whole code blocks;
    reStructuredText sections are found by their underlines; plain text splits on blank lines.
    A section longer than ``max_chars`` is split on paragraph boundaries, repeating about
    ``overlap_chars`` between the pieces.
    """

def extract_terms(text: str, format: DocFormat) -> list[Term]:
    """Headings, bold text, definition-list terms, and identifiers (``RequestQueue``,
    ``request_queue``, ``lore.reindex``) that appear in headings."""

def title_of(text: str, format: DocFormat, fallback: str) -> str:
    """The document's title; ``fallback`` (usually the file stem) when it has no heading."""

def split_identifier(text: str) -> list[str]:
    """Lower-cased word parts: ``RequestQueue``, ``request_queue`` and ``request-queue`` all
    give ``["request", "queue"]``; ``HTTPServer2`` gives ``["http", "server", "2"]``."""

def normalize_term(text: str) -> str:
    """``" ".join(split_identifier(text))``: the key under which terms are matched."""

def slugify(heading: str) -> str:
    """The GitHub-style anchor of a heading."""

def prepare_documents(
    files: Sequence[tuple[str, str]],
    *,
    max_chars: int = 1200,
    overlap_chars: int = 150,
    dim: int = 256,
    root: str | None = None,
    max_file_bytes: int = ...,
) -> list[Document]:
    """Read, hash, decode, chunk, extract terms and embed each ``(path, rel_path)`` pair, in
    parallel, with the GIL released. The order of the result follows ``files``.

    Only regular files are read, never through a symlink (with ``root``: on no component of
    ``rel_path`` below it), and only up to ``max_file_bytes``, checked on the open file. A file
    that fails these gets ``error`` (``too-large``, ``unreadable: ...``) and no chunks."""

# --- embeddings -----------------------------------------------------------------------------

class HashedEmbedder:
    """Feature hashing of words, word pairs and character 3- to 5-grams, L2-normalised.

    The default embedder: offline, deterministic, no model. ``identity`` changes whenever the
    features or the hashing change, so an index built by another version is re-embedded.
    """

    def __init__(self, dim: int = 256) -> None: ...
    @property
    def dim(self) -> int: ...
    @property
    def identity(self) -> str:
        """Such as ``hashed-v1``; stored in the index with the dimension."""
    def embed(self, text: str) -> bytes:
        """One vector as ``dim`` little-endian float32 values."""
    def embed_batch(self, texts: Sequence[str]) -> list[bytes]:
        """Many vectors, in parallel, with the GIL released."""

# --- ResponseCache ----------------------------------------------------------------------------

class ResponseCache:
    """A thread-safe byte-budgeted LRU cache with a TTL, for rendered responses.

    Values are ``bytes`` (callers serialise), so the byte budget is exact:
    an entry costs ``len(key) + len(value)``.
    """

    def __init__(self, max_bytes: int, ttl_s: float) -> None: ...
    def get(self, key: str) -> bytes | None:
        """The value, refreshed as most recently used; ``None`` if absent or expired."""
    def put(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        """Store, evicting least recently used entries to stay within the budget.
        A value larger than the whole budget is not stored."""
    def invalidate(self, key: str) -> bool: ...
    def invalidate_prefix(self, prefix: str) -> int:
        """Drop every key that starts with ``prefix``; the count dropped."""
    def clear(self) -> None: ...
    def __len__(self) -> int: ...
    def stats(self) -> dict[str, int]:
        """``hits``, ``misses``, ``evictions``, ``expirations``, ``entries``, ``bytes``,
        ``max_bytes``."""

# --- RequestQueue ---------------------------------------------------------------------------

class Job:
    """A unit of work handed out by :meth:`RequestQueue.pop`."""

    id: int
    priority: PriorityClass
    key: str | None
    payload: object
    waited_s: float
    """Seconds between submit and pop."""
    state: Literal["run", "expired"]
    """``expired``: the deadline passed while it waited; settle it without running it."""
    @property
    def cancelled(self) -> bool:
        """True once :meth:`RequestQueue.cancel` was called for it; long work checks this."""

class RequestQueue:
    """Priority request queue: ``interactive`` > ``user`` > ``background``.

    Within a class, first in first out. A class may cap how many of its jobs run at once
    and how many start per second. Workers block in :meth:`pop` with the GIL released.
    """

    def __init__(
        self,
        *,
        concurrency: dict[str, int] | None = None,
        rate_per_s: dict[str, float] | None = None,
    ) -> None:
        """``concurrency`` caps running jobs per class (default: no cap); ``rate_per_s`` caps
        job starts per second per class (default: no cap)."""
    def submit(
        self,
        priority: PriorityClass,
        payload: object,
        *,
        deadline_s: float | None = None,
        key: str | None = None,
    ) -> tuple[int, list[object]]:
        """Queue ``payload``; returns its job id and the payloads of the waiting jobs it
        superseded (same ``key``), which are dropped. Raises ``ValueError`` for an unknown class
        and ``RuntimeError`` once closed."""
    def pop(self, timeout_s: float | None = None) -> Job | None:
        """The next job that may start, blocking with the GIL released; ``None`` on timeout or
        once the queue is closed and empty of runnable work."""
    def complete(self, job_id: int) -> None:
        """Mark a popped job finished, freeing its class's concurrency slot."""
    def cancel(self, job_id: int) -> Literal["dropped", "flagged", "unknown"]:
        """Drop a waiting job (``dropped``), or set ``cancelled`` on a running one
        (``flagged``)."""
    def close(self) -> None:
        """Refuse new work and wake every blocked ``pop``; waiting jobs are discarded."""
    def __len__(self) -> int:
        """Jobs waiting."""
    def stats(self) -> dict[str, dict[str, float]]:
        """Per class: ``queued``, ``running``, ``submitted``, ``started``, ``completed``,
        ``cancelled``, ``superseded``, ``expired``, ``wait_p50_ms``, ``wait_p95_ms``."""
