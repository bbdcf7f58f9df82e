"""The local knowledge base over the fixture folder, for the tests of ``lore.kb``."""

from __future__ import annotations

from pathlib import Path

import pytest

from lore.config import load_settings
from lore.kb.knowledge_base import KnowledgeBase


def open_kb(root: Path, **overlay) -> KnowledgeBase:
    return KnowledgeBase.open(root, load_settings(root, overlay))


@pytest.fixture
def kb(kb_root: Path):
    with open_kb(kb_root) as kb:
        kb.index()
        yield kb
