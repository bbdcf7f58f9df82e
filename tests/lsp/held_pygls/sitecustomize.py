"""Holds ``import pygls`` and ``import lsprotocol`` back in a ``lore serve`` started with this
folder on ``PYTHONPATH``, until the test opens the FIFO named by ``LORE_TEST_PYGLS_GATE`` for
writing.

What a test can then see is what the server answers without them: no clock involved.
``importlib.util.find_spec`` is not held (``lore serve`` stamps their files for its
``initialize`` record); only running their code is.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import threading

GATE = os.environ.get("LORE_TEST_PYGLS_GATE")
HELD = ("pygls", "lsprotocol")
_released = threading.Event()


class _HeldLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader) -> None:
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        if not _released.is_set():
            os.close(os.open(GATE, os.O_RDONLY))  # returns once the test opens the gate
            _released.set()
        self.loader.exec_module(module)


class _Gate(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name not in HELD:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _HeldLoader(spec.loader)
        return spec


if GATE:
    sys.meta_path.insert(0, _Gate())
