"""Latency metrics per method: what `lore/status` reports as p50 and p95."""

from __future__ import annotations

import threading
from collections import defaultdict, deque

SAMPLES = 2048


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The value at ``fraction`` (0..1) of already sorted values, nearest rank."""
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


class Latencies:
    """The last ``SAMPLES`` durations of each method, thread-safe."""

    def __init__(self) -> None:
        self._samples: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=SAMPLES))
        self._counts: dict[str, int] = defaultdict(int)
        self._errors: dict[str, int] = defaultdict(int)
        self._cancelled: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def record(self, method: str, seconds: float, *, outcome: str = "ok") -> None:
        """Count one call of ``method``; ``outcome`` is ``ok``, ``error`` or ``cancelled``.

        Cancelled calls (superseded, dropped, cancelled by the client) are counted but keep
        out of the percentiles: they measure the queue, not the work.
        """
        with self._lock:
            self._counts[method] += 1
            if outcome == "cancelled":
                self._cancelled[method] += 1
                return
            self._samples[method].append(seconds * 1000.0)
            if outcome == "error":
                self._errors[method] += 1

    def summary(self) -> dict[str, dict[str, float]]:
        """Per method: ``count``, ``errors``, ``cancelled``, ``p50_ms``, ``p95_ms``, ``max_ms``."""
        with self._lock:
            snapshot = {m: sorted(self._samples[m]) for m in self._counts}
            counts, errors = dict(self._counts), dict(self._errors)
            cancelled = dict(self._cancelled)
        return {
            method: {
                "count": counts[method],
                "errors": errors.get(method, 0),
                "cancelled": cancelled.get(method, 0),
                "p50_ms": round(percentile(values, 0.50), 3),
                "p95_ms": round(percentile(values, 0.95), 3),
                "max_ms": round(values[-1], 3) if values else 0.0,
            }
            for method, values in sorted(snapshot.items())
        }
