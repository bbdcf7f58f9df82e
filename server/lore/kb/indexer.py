"""Incremental, crash-safe indexing of one root.

A run walks the root, keeps what is unchanged (same size and mtime, or else the same hash),
prepares changed files in Rust, and writes them in batches. Each batch is one SQLite
transaction marked *pending*, then one tantivy commit, then the mark is cleared and the index
generation bumped. A kill at any point leaves at most one pending batch, which the next open
undoes (see ``KnowledgeBase._repair_pending``), so those files are simply indexed again.

The next batch is prepared on a helper thread while the current one is written: preparation
runs in Rust without the GIL, so the two overlap on a multi-core machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

from lore import _native
from lore.kb.types import IndexProgress, IndexReport

if TYPE_CHECKING:
    from pathlib import Path

    from lore.config import Settings


class IndexTarget(Protocol):
    """Where a run writes: the local index, or a shared one in PostgreSQL."""

    root: Path
    settings: Settings
    embedder: _native.HashedEmbedder

    @property
    def generation(self) -> int: ...

    def excluded_from_walk(self) -> list[str]: ...

    def known_files(self) -> dict[str, tuple[int, int, str]]:
        """``path -> (size, mtime_ns, content_hash)`` of every indexed document."""
        ...

    def touch_documents(self, updates: Sequence[tuple[int, int, str]]) -> None:
        """Record ``(size, mtime_ns, path)`` of files whose content did not change."""
        ...

    def write_batch(self, documents: Sequence[Any], gone: Sequence[str]) -> tuple[Any, list]:
        """Write one batch, all or nothing: ``(written counts, [(path, error)])``."""
        ...

    def record_skipped(self, skipped: Sequence[tuple[str, str]]) -> None: ...

    def document_count(self) -> int: ...


def run_index(
    kb: IndexTarget,
    *,
    progress: Callable[[IndexProgress], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> IndexReport:
    started = time.perf_counter()
    settings = kb.settings
    report = IndexReport()
    notify = progress or (lambda _p: None)
    stop = cancelled or (lambda: False)

    notify(IndexProgress("walk", message="looking for files"))
    walked = _native.walk(
        str(kb.root),
        extensions=settings.index.extensions,
        max_file_bytes=settings.index.max_file_bytes,
        exclude=[*settings.index.exclude, *kb.excluded_from_walk()],
    )
    known = kb.known_files()
    present = {f.rel_path for f in walked.files}
    removed = sorted(set(known) - present)

    # Unchanged by size and mtime: not even read. A known file whose size or mtime moved is
    # hashed before re-chunking (a touch or a checkout keeps its content); a new file is
    # simply prepared, which hashes it anyway.
    changed = [f for f in walked.files if f.rel_path not in known]
    suspects = [
        f
        for f in walked.files
        if f.rel_path in known and known[f.rel_path][:2] != (f.size, f.mtime_ns)
    ]
    hashes = _native.hash_files([f.path for f in suspects]) if suspects else []
    touched: list[tuple[int, int, str]] = []
    for entry, digest in zip(suspects, hashes, strict=True):
        if digest is not None and known[entry.rel_path][2] == digest:
            touched.append((entry.size, entry.mtime_ns, entry.rel_path))
        else:
            changed.append(entry)
    report.unchanged = len(walked.files) - len(changed)
    skipped = [(s.rel_path, s.reason) for s in walked.skipped]
    total_bytes = sum(f.size for f in changed)
    notify(IndexProgress("index", 0, len(changed), 0, f"{len(changed)} files to index"))

    batch_size = settings.index.batch_files
    batches = [changed[i : i + batch_size] for i in range(0, len(changed), batch_size)]
    if touched:
        kb.touch_documents(touched)
    if removed and not batches:
        batches = [[]]

    def prepare(batch: Sequence) -> list:
        return _native.prepare_documents(
            [(f.path, f.rel_path) for f in batch],
            max_chars=settings.chunk.max_chars,
            overlap_chars=settings.chunk.overlap_chars,
            dim=kb.embedder.dim,
            # Read as the walk saw them: no symlink below the root, no growth past the limit.
            root=str(kb.root),
            max_file_bytes=settings.index.max_file_bytes,
        )

    done_files = done_bytes = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="lore-prepare") as pool:
        upcoming: Future | None = pool.submit(prepare, batches[0]) if batches else None
        for number, batch in enumerate(batches):
            if stop():
                report.cancelled = True
                if upcoming is not None:
                    upcoming.cancel()
                break
            assert upcoming is not None
            documents = upcoming.result()
            upcoming = (
                pool.submit(prepare, batches[number + 1]) if number + 1 < len(batches) else None
            )
            # The first batch also carries the deletions of files that are gone.
            gone = removed if number == 0 else []
            written, errors = kb.write_batch(documents, gone)
            skipped.extend(errors)
            report.indexed += written.files
            report.chunks += written.chunks
            report.bytes += written.bytes
            report.removed += len(gone)
            done_files += len(batch)
            done_bytes += sum(f.size for f in batch)
            notify(
                IndexProgress(
                    "index",
                    done_files,
                    len(changed),
                    done_bytes,
                    f"{done_files}/{len(changed)} files, {done_bytes / 1e6:.1f} of "
                    f"{total_bytes / 1e6:.1f} MB",
                )
            )

    if not report.cancelled:
        kb.record_skipped(skipped)
    report.skipped = len(skipped)
    report.files = kb.document_count()
    report.generation = kb.generation
    report.seconds = time.perf_counter() - started
    notify(IndexProgress("done", done_files, len(changed), done_bytes, "index up to date"))
    return report
