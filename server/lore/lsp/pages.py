"""A document's links and headings, and what a hover on them shows.

Standard library and ``lore.kb`` only: ``lore serve`` answers hovers with it before pygls has
loaded (``lore.lsp.early``) as well as after (``lore.lsp.hover``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from lore import _native
from lore.config import Settings
from lore.kb import link_lookup, links
from lore.kb.lookup import HoverInfo, Library

# Characters without which a line holds no link: most hovers skip parsing the page.
_LINK_MARKS = ("[", "<", "`")


@dataclass(frozen=True, slots=True)
class Page:
    """A document's links and anchors, parsed from its current text."""

    path: Path
    links: list[_native.Link]
    anchors: list[_native.Anchor]


def may_hold_link(line: str) -> bool:
    return any(mark in line for mark in _LINK_MARKS)


def is_heading_line(line: str, next_line: str | None = None) -> bool:
    """A Markdown ATX heading, or a line an rst adornment underlines."""
    stripped = line.lstrip()
    if stripped.startswith("#") and stripped.lstrip("#").startswith((" ", "\t")):
        return True
    nxt = (next_line or "").strip()
    return bool(stripped) and len(nxt) >= 3 and len(set(nxt)) == 1 and nxt[0] in "=-~^\"'`#*+"


@functools.lru_cache(maxsize=16)
def _parse(text: str, fmt: str) -> tuple[list[_native.Link], list[_native.Anchor]]:
    return links.links_in(text, fmt)


def parse_text(path: Path, text: str) -> Page | None:
    """The links and anchors of the document at ``path`` whose text is ``text``; None for
    plain text. Blocking: call it on a worker thread."""
    fmt = _native.detect_format(path.name)
    if fmt == "text":
        return None
    found, anchors = _parse(text, fmt)
    return Page(path, found, anchors)


def hover_in_page(
    library: Library,
    settings: Settings,
    page: Page,
    line: int,
    character: int,
    on_heading: bool,
) -> HoverInfo | None:
    """The hover of the link at (``line``, ``character``), or of the heading on ``line``
    (``on_heading``: the line is one); None when it stands on neither."""
    link = links.link_under(page.links, line, character)
    if link is not None:
        return link_lookup.link_hover(library, page.path, link, settings)
    heading = links.anchors_at(page.anchors, line) if on_heading else []
    if heading:
        return link_lookup.heading_hover(library, page.path, heading)
    return None
