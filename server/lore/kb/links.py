"""Links inside the docs: one resolver that hover, definition, references, completion and the
broken-link diagnostics all ask.

A link names a ``Dest``: a page, or a heading of a page. ``resolve`` finds the destination of a
link (or says why there is none); ``references`` finds the links that name a destination. The
links and anchors of every page are in the catalog (filled by the indexer, see ``catalog.py``);
the links of the page being edited come from its live text, so they are right before a save.
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lore import _native
from lore.config import LinkSettings
from lore.kb.paths import PATH_KINDS, is_external, link_destination, page_candidates

if TYPE_CHECKING:
    from lore.kb.knowledge_base import KnowledgeBase
    from lore.kb.lookup import Library


@dataclass(frozen=True, slots=True)
class Dest:
    """What a link names: a page (``anchor`` empty) or one of its headings."""

    root: str
    path: str
    """Relative to ``root``, with ``/`` separators."""
    title: str
    anchor: str = ""
    heading: str = ""
    line: int = 1
    """The heading's line (1-based), or 1 for the page."""

    @property
    def abs_path(self) -> str:
        return str(Path(self.root) / self.path)


@dataclass(frozen=True, slots=True)
class Resolution:
    """Where a link leads. ``dest`` is None for an external URL (``problem`` None too: never
    checked) or for a broken link, whose ``problem`` says what is missing."""

    dest: Dest | None
    problem: str | None = None
    code: str | None = None
    """``missing-page`` or ``missing-anchor`` when the link is broken."""


@dataclass(frozen=True, slots=True)
class LinkSite:
    """A link found in the knowledge base: where it is, and what it says."""

    path: str
    abs_path: str
    line: int
    col: int
    end_line: int
    end_col: int
    text: str


@dataclass(frozen=True, slots=True)
class Broken:
    """A link that leads nowhere, for diagnostics and ``lore check``."""

    path: str
    line: int
    col: int
    end_line: int
    end_col: int
    target: str
    problem: str
    code: str


# --- the links of a page being edited ------------------------------------------------------


def links_in(text: str, format: str) -> tuple[list[_native.Link], list[_native.Anchor]]:
    """The links and anchors of a page's current text."""
    if format not in ("markdown", "rst"):
        return [], []
    return _native.extract_links(text, format)


def link_under(links: Sequence[_native.Link], line: int, character: int) -> _native.Link | None:
    """The link that covers (0-based) ``line``, ``character``: LSP's position."""
    line += 1
    for link in links:
        after_start = (line, character) >= (link.line, link.col)
        before_end = (line, character) <= (link.end_line, link.end_col)
        if after_start and before_end:
            return link
    return None


def anchors_at(anchors: Sequence[_native.Anchor], line: int) -> list[_native.Anchor]:
    """The anchors of the heading on (0-based) ``line``."""
    return [a for a in anchors if a.line == line + 1]


def target_text(link: _native.Link) -> str:
    """The link's destination as written: ``page.md#anchor``."""
    if link.kind == "ref":
        return link.anchor
    return f"{link.target}#{link.anchor}" if link.anchor else link.target


# --- resolving -----------------------------------------------------------------------------


def resolve(library: Library, doc: Path, link: _native.Link) -> Resolution:
    """Where ``link``, written in the page at ``doc``, leads."""
    if link.kind == "autolink" or is_external(link.target):
        return Resolution(None)
    kb = library.owner(doc)
    if link.kind == "ref":
        return _resolve_label(library, kb, link.anchor)
    if kb is None:
        return Resolution(None)
    from_path = doc.resolve().relative_to(kb.root).as_posix()
    if link.kind == "wiki":
        page = _page_named(kb, link.target) if link.target else _page(kb, from_path)
        if page is None:
            return Resolution(None, f"no page named '{link.target}'", "missing-page")
    elif link.kind in PATH_KINDS:
        path = link_destination(from_path, link.kind, link.target)
        if path is None:
            return Resolution(None)  # outside the knowledge base: not ours to check
        page = next((p for p in map(lambda c: _page(kb, c), page_candidates(path)) if p), None)
        if page is None:
            if (kb.root / path).exists():
                # A file Lore does not index (an image, a script): the link works.
                return Resolution(Dest(str(kb.root), path, posixpath.basename(path)))
            return Resolution(None, f"no page '{link.target}'", "missing-page")
    else:
        return Resolution(None)
    doc_id, path, title = page
    if not link.anchor:
        return Resolution(Dest(str(kb.root), path, title))
    found = _anchor(kb, doc_id, link.anchor)
    if found is None:
        return Resolution(None, f"no heading '#{link.anchor}' in {path}", "missing-anchor")
    name, heading, line = found
    return Resolution(Dest(str(kb.root), path, title, name, heading, line))


def _resolve_label(library: Library, kb: KnowledgeBase | None, label: str) -> Resolution:
    bases = [kb] if kb is not None else []
    bases += [b for b in library.bases if b is not kb]
    for base in bases:
        row = base.catalog.reader.execute(
            "SELECT d.path, d.title, a.name, a.heading, a.line FROM anchors a "
            "JOIN documents d ON d.id = a.doc_id WHERE a.name = ? AND a.kind = 'label' "
            "ORDER BY d.path LIMIT 1",
            (label.lower(),),
        ).fetchone()
        if row:
            path, title, name, heading, line = row
            return Resolution(Dest(str(base.root), path, title, name, heading, line))
    return Resolution(None, f"no label '{label}'", "missing-anchor")


def _page(kb: KnowledgeBase, path: str) -> tuple[int, str, str] | None:
    row = kb.catalog.reader.execute(
        "SELECT id, path, title FROM documents WHERE path = ?", (path,)
    ).fetchone()
    return tuple(row) if row else None


def _page_named(kb: KnowledgeBase, name: str) -> tuple[int, str, str] | None:
    """The page a wiki-link names: by path, by file name without its extension, or by title."""
    name = name.strip()
    for candidate in page_candidates(name):
        page = _page(kb, candidate)
        if page:
            return page
    stem = name.rsplit("/", 1)[-1]
    row = kb.catalog.reader.execute(
        "SELECT id, path, title FROM documents WHERE path LIKE ? ESCAPE '\\' "
        "OR title = ? COLLATE NOCASE ORDER BY length(path) LIMIT 1",
        (f"%{_escape_like(stem)}.%", name),
    ).fetchone()
    if row and (_stem(row[1]).lower() == stem.lower() or row[2].lower() == name.lower()):
        return tuple(row)
    return None


def _anchor(kb: KnowledgeBase, doc_id: int, anchor: str) -> tuple[str, str, int] | None:
    """The anchor ``anchor`` of a page, by its exact name, then as a slug of heading text
    (wiki-links name headings by their text)."""
    names = dict.fromkeys([anchor, anchor.lower(), _native.slugify(anchor)])
    for name in names:
        row = kb.catalog.reader.execute(
            "SELECT name, heading, line FROM anchors WHERE doc_id = ? AND name = ? "
            "ORDER BY line LIMIT 1",
            (doc_id, name),
        ).fetchone()
        if row:
            return row[0], row[1], row[2]
    return None


def _stem(path: str) -> str:
    return posixpath.splitext(posixpath.basename(path))[0]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --- what links to a destination -----------------------------------------------------------


def dest_of_heading(library: Library, doc: Path, anchors: Sequence[_native.Anchor]) -> Dest | None:
    """The destination a heading (given by its anchors) or a page's title is."""
    kb = library.owner(doc)
    if kb is None:
        return None
    path = doc.resolve().relative_to(kb.root).as_posix()
    page = _page(kb, path)
    title = page[2] if page else _stem(path)
    if not anchors:
        return Dest(str(kb.root), path, title)
    first = anchors[0]
    if first.heading == title and first.line == _title_line(kb, page):
        return Dest(str(kb.root), path, title)  # the page's title stands for the page
    return Dest(str(kb.root), path, title, first.name, first.heading, first.line)


def _title_line(kb: KnowledgeBase, page: tuple[int, str, str] | None) -> int | None:
    if page is None:
        return None
    row = kb.catalog.reader.execute(
        "SELECT min(line) FROM anchors WHERE doc_id = ? AND heading = ?", (page[0], page[2])
    ).fetchone()
    return row[0] if row else None


def references(library: Library, dest: Dest, limit: int = 1000) -> list[LinkSite]:
    """The links across the knowledge base that lead to ``dest``: to its heading (by any of
    the heading's anchors), or, for a page, to the page or any of its headings."""
    kb = next((b for b in library.bases if str(b.root) == dest.root), None)
    page = _page(kb, dest.path) if kb is not None else None
    if kb is None or page is None:
        return []
    db = kb.catalog.reader
    names: list[str] = []
    if dest.anchor:
        names = [
            r[0]
            for r in db.execute(
                "SELECT name FROM anchors WHERE doc_id = ? AND line = ?", (page[0], dest.line)
            )
        ] or [dest.anchor]
    # Path links may omit the extension, or name the folder of a README or index page.
    spellings = {dest.path, posixpath.splitext(dest.path)[0]}
    if _stem(dest.path).lower() in ("readme", "index"):
        spellings.add(posixpath.dirname(dest.path))
    wiki_names = {_stem(dest.path), posixpath.splitext(dest.path)[0], dest.title}
    columns = "d.path, l.line, l.col, l.end_line, l.end_col, l.text, l.kind, l.target, l.anchor"
    rows = db.execute(
        f"SELECT {columns} FROM links l JOIN documents d ON d.id = l.doc_id "
        f"WHERE l.dest IN ({_marks(spellings)}) AND l.kind IN ('inline', 'reference', 'doc')",
        list(spellings),
    ).fetchall()
    rows += db.execute(
        f"SELECT {columns} FROM links l JOIN documents d ON d.id = l.doc_id "
        f"WHERE l.kind = 'wiki' AND l.target COLLATE NOCASE IN ({_marks(wiki_names)})",
        list(wiki_names),
    ).fetchall()
    # rst `:ref:` links name a label: of this heading, or for a page any of its labels.
    labels = names or [
        r[0]
        for r in db.execute(
            "SELECT name FROM anchors WHERE doc_id = ? AND kind = 'label'", (page[0],)
        )
    ]
    if labels:
        rows += db.execute(
            f"SELECT {columns} FROM links l JOIN documents d ON d.id = l.doc_id "
            f"WHERE l.kind = 'ref' AND l.anchor IN ({_marks(labels)})",
            labels,
        ).fetchall()
    if names:
        # Wiki-links name a heading by its text; path links by one of its anchors.
        wanted = {*names, dest.heading.lower(), _native.slugify(dest.heading)}
        rows = [r for r in rows if r[8] in wanted or r[8].lower() in wanted]
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    return [
        LinkSite(path, str(kb.root / path), line, col, end_line, end_col, text)
        for path, line, col, end_line, end_col, text, *_ in rows[:limit]
    ]


def _marks(values: Sequence[str] | set[str]) -> str:
    return ",".join("?" * len(values))


def linking_pages(library: Library, dest: Dest) -> list[str]:
    """The pages (root-relative paths) with at least one link to ``dest``, in order."""
    return sorted({site.path for site in references(library, dest)})


# --- broken links --------------------------------------------------------------------------


def broken_in(
    library: Library, doc: Path, links: Iterable[_native.Link], settings: LinkSettings
) -> list[Broken]:
    """The broken links among ``links`` of the page at ``doc``, as the settings ask."""
    if not settings.diagnostics:
        return []
    kb = library.owner(doc)
    path = doc.resolve().relative_to(kb.root).as_posix() if kb else doc.name
    broken: list[Broken] = []
    for link in links:
        if _ignored(link, settings):
            continue
        found = resolve(library, doc, link)
        if found.problem is None or (found.code == "missing-anchor" and not settings.anchors):
            continue
        broken.append(
            Broken(
                path,
                link.line,
                link.col,
                link.end_line,
                link.end_col,
                target_text(link),
                found.problem,
                found.code or "missing-page",
            )
        )
    return broken


def _ignored(link: _native.Link, settings: LinkSettings) -> bool:
    if link.kind == "autolink" or is_external(link.target):
        return True
    target = target_text(link)
    return any(fnmatch.fnmatchcase(target, pattern) for pattern in settings.ignore)


class _StoredLink:
    """A row of the links table, shaped like ``lore._native.Link`` for ``resolve``."""

    __slots__ = ("line", "col", "end_line", "end_col", "kind", "target", "anchor", "text")

    def __init__(self, row: tuple) -> None:
        (
            self.line,
            self.col,
            self.end_line,
            self.end_col,
            self.kind,
            self.target,
            self.anchor,
            self.text,
        ) = row


def check(library: Library, settings: LinkSettings) -> list[Broken]:
    """Every broken link in the knowledge bases, by page and position (for ``lore check``)."""
    broken: list[Broken] = []
    for kb in library.bases:
        rows = kb.catalog.reader.execute(
            "SELECT d.path, l.line, l.col, l.end_line, l.end_col, l.kind, l.target, l.anchor, "
            "l.text FROM links l JOIN documents d ON d.id = l.doc_id "
            "ORDER BY d.path, l.line, l.col"
        ).fetchall()
        by_page: dict[str, list[_StoredLink]] = {}
        for path, *rest in rows:
            by_page.setdefault(path, []).append(_StoredLink(tuple(rest)))
        for path, page_links in by_page.items():
            broken += broken_in(library, kb.root / path, page_links, settings)
    return broken
