"""Fixtures shared by every test layer."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lore.config import load_settings
from lore.kb.knowledge_base import KnowledgeBase
from lore.kb.lookup import Library

FIXTURE_KB = Path(__file__).parent / "fixtures" / "kb"


@pytest.fixture(autouse=True)
def user_config_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """An empty user configuration folder, so that the developer's own settings stay out."""
    home = tmp_path_factory.mktemp("config-home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def user_cache_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """An empty user cache folder (where `lore serve` records its initialize answer)."""
    home = tmp_path_factory.mktemp("cache-home")
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


@pytest.fixture
def kb_root(tmp_path: Path) -> Path:
    """A fresh copy of the fixture knowledge base (its index lands in the copy)."""
    return _copy(FIXTURE_KB, tmp_path / "kb")


@pytest.fixture
def library(kb_root: Path):
    """The fixture knowledge base, indexed, as the one base of a library."""
    yield from _indexed_library(kb_root)


FIXTURE_LINKED = Path(__file__).parent / "fixtures" / "linked"


@pytest.fixture
def linked_root(tmp_path: Path) -> Path:
    """A fresh copy of the fixture whose pages link to each other (some links broken)."""
    return _copy(FIXTURE_LINKED, tmp_path / "linked")


@pytest.fixture
def linked(linked_root: Path):
    """The linked fixture, indexed, as the one base of a library."""
    yield from _indexed_library(linked_root)


def _copy(fixture: Path, root: Path) -> Path:
    shutil.copytree(fixture, root)
    return root


def _indexed_library(root: Path):
    kb = KnowledgeBase.open(root, load_settings(root))
    kb.index()
    yield Library([kb])
    kb.close()
