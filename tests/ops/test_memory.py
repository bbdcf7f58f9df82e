"""The arena cap that keeps the server's memory compact under threaded indexing."""

from __future__ import annotations

import platform
import sys

import pytest

from lore.ops.memory import limit_malloc_arenas

glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not glibc, reason="the cap is a glibc malloc option")
def test_the_cap_takes_effect_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert limit_malloc_arenas(2)


def test_a_users_own_choice_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert not limit_malloc_arenas(2)
