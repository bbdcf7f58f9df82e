"""A record of what each stage did: shown by ``lore ask --trace`` and in ``trace``."""

from __future__ import annotations

import time
from typing import Any


class Trace:
    def __init__(self) -> None:
        self._started = time.perf_counter()
        self.steps: list[dict[str, Any]] = []

    def record(self, stage: str, **data: Any) -> None:
        elapsed = (time.perf_counter() - self._started) * 1000
        self.steps.append({"stage": stage, "ms": round(elapsed, 2), **data})

    def to_json(self) -> list[dict[str, Any]]:
        return list(self.steps)
