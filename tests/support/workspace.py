"""The code file that the language-server and editor tests open beside the fixture docs."""

from __future__ import annotations

from pathlib import Path

MAIN_PY = (
    "from payments import RequestQueue\n"
    "\n"
    "def settle(self, settlement_window):\n"
    "    queue = RequestQueue()\n"
    "    return queue.pop(self)\n"
)
"""Names that the fixture's glossary defines: ``RequestQueue`` (line 4, 0-based 3) and
``settlement_window`` (line 3), whose entry is not at the top of its page."""


def add_code_file(root: Path) -> Path:
    """Write ``src/main.py`` under ``root`` and return its path."""
    main = root / "src" / "main.py"
    main.parent.mkdir(exist_ok=True)
    main.write_text(MAIN_PY)
    return main
