"""Fixtures shared by every test layer."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURE_KB = Path(__file__).parent / "fixtures" / "kb"


@pytest.fixture
def kb_root(tmp_path: Path) -> Path:
    """A fresh copy of the fixture knowledge base (its index lands in the copy)."""
    root = tmp_path / "kb"
    shutil.copytree(FIXTURE_KB, root)
    return root
