"""Fixtures shared by every test layer."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import psycopg
import pytest

from lore.config import load_settings
from lore.kb.knowledge_base import KnowledgeBase
from lore.kb.lookup import Library
from lore.kb.postgres import SharedIndex, SharedKnowledgeBase
from support.postgres import Cluster, temp_base

BACKENDS = ["local", "postgresql"]

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


@pytest.fixture(params=BACKENDS)
def library(request: pytest.FixtureRequest, kb_root: Path):
    """The fixture knowledge base, indexed, as the one base of a library: in its local index,
    and in a shared knowledge base in PostgreSQL."""
    if request.param == "postgresql":
        yield from _shared_library(kb_root, request.getfixturevalue("shared_url"))
    else:
        yield from _indexed_library(kb_root)


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL server for the session (started when a test first asks)."""
    with temp_base() as base:
        cluster = Cluster(base, "primary").start()
        try:
            yield cluster
        finally:
            cluster.stop()


@pytest.fixture
def shared_url(postgres: Cluster) -> str:
    """The URL of a new, empty database on the session's PostgreSQL."""
    name = f"kb_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres.url(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return postgres.url(name)


def index_shared(root: Path, url: str) -> None:
    """Index ``root`` into the shared knowledge base at ``url``, as `lore index --to` does."""
    with SharedIndex.open(url, root, load_settings(root)) as target:
        target.index()


class _FollowingTheIndexer(SharedKnowledgeBase):
    """A shared base whose ``index()`` runs the team's indexer and then follows it, as an
    editor sees a CI job's run: tests that change pages and index again work on both
    backends."""

    def index(self, **_options):
        index_shared(self.root, self._url)
        self.refresh()


def _shared_library(root: Path, url: str):
    index_shared(root, url)
    kb = _FollowingTheIndexer.open(url, root, load_settings(root))
    yield Library([kb])
    kb.close()


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
