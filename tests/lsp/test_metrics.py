"""Per-method latency figures, as ``lore/status`` reports them."""

from __future__ import annotations

from lore.ops.metrics import Latencies, percentile


def test_percentiles_are_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 0.5) == 51.0
    assert percentile(values, 0.95) == 95.0
    assert percentile([], 0.5) == 0.0


def test_summary_counts_errors_and_keeps_cancelled_calls_out_of_the_percentiles() -> None:
    latencies = Latencies()
    for ms in (1, 2, 3, 4, 100):
        latencies.record("hover", ms / 1000)
    latencies.record("hover", 0.5, outcome="error")
    latencies.record("hover", 9.0, outcome="cancelled")
    latencies.record("completion", 9.0, outcome="cancelled")
    summary = latencies.summary()
    hover = summary["hover"]
    assert (hover["count"], hover["errors"], hover["cancelled"]) == (7, 1, 1)
    assert hover["p50_ms"] == 3.0  # of 1, 2, 3, 4, 100 and 500 ms
    assert hover["max_ms"] == 500.0
    assert summary["completion"] == {
        "count": 1,
        "errors": 0,
        "cancelled": 1,
        "p50_ms": 0.0,
        "p95_ms": 0.0,
        "max_ms": 0.0,
    }
