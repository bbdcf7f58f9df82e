"""SIGKILL `lore index` at random points on a generated corpus: every file ends up there once."""

from __future__ import annotations

from pathlib import Path

from bench import crash


def test_random_sigkills_leave_every_file_indexed_exactly_once(tmp_path: Path) -> None:
    report = crash.run(tmp_path / "corpus", pages=2000, kills=4, seed=1207)
    assert report.problems == []
    assert report.killed_mid_run >= 2, "most kills should land while indexing runs"
    assert report.markers_checked == 200
