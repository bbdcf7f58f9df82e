"""What hover and completion show about links, built on the resolver in ``links.py``.

Plain functions, like ``lookup.py``: the language server's handlers translate LSP to and from
these.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lore import _native
from lore.config import Settings
from lore.kb import links
from lore.kb.lookup import (
    SCAN_RADIUS,
    HoverInfo,
    _escape_md,
    _excerpt,
    file_uri,
    utf16_to_index,
)

if TYPE_CHECKING:
    from lore.kb.knowledge_base import KnowledgeBase
    from lore.kb.lookup import Library


# --- hover -------------------------------------------------------------------------------


def link_hover(library: Library, doc: Path, link: _native.Link, settings: Settings) -> HoverInfo:
    """A preview of where ``link`` leads: the page's title, the heading, the first lines; or
    what is missing when it leads nowhere."""
    found = links.resolve(library, doc, link)
    target = links.target_text(link)
    if found.dest is None:
        if found.problem:
            markdown = f"**Broken link** `{_escape_code(target)}`: {_escape_md(found.problem)}."
        else:
            markdown = f"External link: <{target}>" if target else "Link"
        return HoverInfo(markdown, "", "", 0, target, 0.0)
    return _preview(library, found.dest, settings)


def _preview(library: Library, dest: links.Dest, settings: Settings) -> HoverInfo:
    kb = _base(library, dest.root)
    chunk = _section_chunk(kb, dest) if kb is not None else None
    where = f" › {_escape_md(dest.heading)}" if dest.heading and dest.heading != dest.title else ""
    body = _excerpt(chunk.text, settings.hover.max_lines) if chunk is not None else ""
    source = f"[{dest.path}:{dest.line}]({file_uri(dest.abs_path)}#L{dest.line})"
    markdown = f"**{_escape_md(dest.title)}**{where}\n\n{body}\n\n{source}".replace(
        "\n\n\n\n", "\n\n"
    )
    return HoverInfo(markdown, dest.path, dest.abs_path, dest.line, dest.title, 1.0)


def heading_hover(
    library: Library, doc: Path, anchors: Sequence[_native.Anchor]
) -> HoverInfo | None:
    """On a heading (or a page's title): how many other pages link to it, and which; None
    when none does."""
    dest = links.dest_of_heading(library, doc, anchors)
    if dest is None:
        return None
    pages = [p for p in links.linking_pages(library, dest) if p != dest.path]
    if not pages:
        return None  # no noise hovers: a heading nobody links to says nothing
    what = "this page" if not dest.anchor else f"**{_escape_md(dest.heading)}**"
    noun = "page links" if len(pages) == 1 else "pages link"
    shown = ", ".join(
        f"[{_escape_md(p)}]({file_uri(str(Path(dest.root) / p))})" for p in pages[:10]
    )
    more = f" and {len(pages) - 10} more" if len(pages) > 10 else ""
    markdown = f"{len(pages)} {noun} to {what}: {shown}{more}."
    return HoverInfo(markdown, dest.path, dest.abs_path, dest.line, dest.heading, 1.0)


def _section_chunk(kb: KnowledgeBase, dest: links.Dest):
    """The chunk that holds the destination's line (or the first one after it)."""
    row = kb.catalog.reader.execute(
        "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc_id "
        "WHERE d.path = ? AND c.end_line >= ? ORDER BY c.ordinal LIMIT 1",
        (dest.path, dest.line),
    ).fetchone()
    return kb.chunk(row[0]) if row else None


def _base(library: Library, root: str) -> KnowledgeBase | None:
    return next((kb for kb in library.bases if str(kb.root) == root), None)


def _escape_code(text: str) -> str:
    return text.replace("`", "'")


# --- completion ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LinkContext:
    """What is being typed inside a link, just before the cursor."""

    form: str
    """``wiki`` after ``[[``, ``path`` after ``](``, ``anchor`` after ``](page#`` or ``[[page#``."""
    typed: str
    """The text typed so far (what completion replaces)."""
    start: int
    """Where ``typed`` starts in the line, in UTF-16 units."""
    page: str = ""
    """For ``anchor``: the page part before ``#`` (empty: this page)."""
    wiki: bool = False
    """For ``anchor``: inside a wiki-link."""
    closed: bool = False
    """The link's closing ``]]`` or ``)`` already follows the cursor."""


_WIKI = re.compile(r"\[\[(?P<page>[^\[\]|#]*)(?:#(?P<anchor>[^\[\]|]*))?$")
_PATH = re.compile(r"\]\((?P<page><?[^()\s#]*)(?:#(?P<anchor>[^()\s]*))?$")


def link_context(line: str, character: int) -> LinkContext | None:
    """The link being typed at ``character`` (a UTF-16 offset) of ``line``, if any."""
    index = utf16_to_index(line, character)
    # Only the text near the cursor: a link is never longer than this, however long the line.
    before, after = line[max(0, index - SCAN_RADIUS) : index], line[index : index + SCAN_RADIUS]
    for pattern, wiki, closer in ((_WIKI, True, "]]"), (_PATH, False, ")")):
        match = pattern.search(before)
        if match is None:
            continue
        closed = after.lstrip().startswith(closer)
        anchor = match.group("anchor")
        if anchor is not None:
            typed = anchor
            start = index - len(anchor)
            return LinkContext(
                "anchor", typed, _utf16_len(line[:start]), match.group("page"), wiki, closed
            )
        typed = match.group("page")
        start = index - len(typed)
        return LinkContext(
            "wiki" if wiki else "path", typed, _utf16_len(line[:start]), "", wiki, closed
        )
    return None


@dataclass(frozen=True, slots=True)
class LinkCompletion:
    label: str
    kind: str
    """``title`` (a page) or ``heading``."""
    detail: str
    insert_text: str
    start: int
    """Replace from this UTF-16 column to the cursor."""
    root: str
    path: str
    line: int
    rank: int


# Links looked at to learn a page's style: enough to tell, and a bounded cost per completion.
_STYLE_SAMPLE = 50


@dataclass(frozen=True, slots=True)
class LinkStyle:
    """How a page already writes its links, so that completion writes them the same way."""

    extension: bool = True
    """Path links keep the file's extension (``queue.md``, not ``queue``)."""
    wiki_by_title: bool = False
    """Wiki-links name pages by title rather than by file name."""

    @classmethod
    def of(cls, library: Library, doc: Path, page_links: Sequence[_native.Link]) -> LinkStyle:
        with_ext = without_ext = by_title = by_name = 0
        for link in page_links[:_STYLE_SAMPLE]:
            if link.kind in ("inline", "reference") and link.target:
                if links.is_external(link.target):
                    continue
                if posixpath.splitext(link.target)[1]:
                    with_ext += 1
                else:
                    without_ext += 1
            elif link.kind == "wiki" and link.target:
                found = links.resolve(library, doc, link).dest
                if found is not None:
                    by_title += found.title.lower() == link.target.lower()
                    by_name += posixpath.splitext(posixpath.basename(found.path))[0].lower() == (
                        link.target.lower()
                    )
        return cls(extension=with_ext >= without_ext, wiki_by_title=by_title > by_name)


def complete_link(
    library: Library,
    context: LinkContext,
    doc: Path,
    settings: Settings,
    *,
    style: LinkStyle = LinkStyle(),
    page_anchors: Sequence[_native.Anchor] = (),
) -> list[LinkCompletion]:
    """Pages and headings for the link being typed, best first. Nothing typed yet offers the
    pages nearest the document; what is typed matches titles, headings and file names
    anywhere in them (``nosql`` finds "Relational (SQL) or NoSQL?")."""
    limit = settings.completion.max_items
    kb = library.owner(doc)
    if kb is None:
        return []
    here = doc.resolve().relative_to(kb.root).as_posix()
    if context.form == "anchor":
        return _anchor_items(library, kb, context, doc, here, page_anchors, limit)
    names = _matching_names(kb, context.typed, here, limit * 4)
    items: list[LinkCompletion] = []
    anchors_by_line = _anchor_names(kb, {(n.path, n.line) for n in names if n.kind == "heading"})
    for n in names:
        anchor = anchors_by_line.get((n.path, n.line), "") if n.kind == "heading" else ""
        if n.kind == "heading" and not anchor:
            continue
        if context.form == "wiki":
            page = n.title if style.wiki_by_title else _wiki_name(n.path)
            target = f"{page}#{n.text}" if n.kind == "heading" else page
            insert = target + ("" if context.closed else "]]")
        else:
            target = _relative(here, n.path, style.extension) if n.path != here else ""
            insert = target + (f"#{anchor}" if anchor else "")
            insert += "" if context.closed else ")"
        label = n.text if n.kind == "title" else f"{n.text} ({n.title})"
        detail = n.path if n.kind == "title" else f"{n.path}:{n.line}"
        items.append(
            LinkCompletion(
                label, n.kind, detail, insert, context.start, str(kb.root), n.path, n.line, n.rank
            )
        )
        if len(items) >= limit:
            break
    return items


# Matches read before ranking: bounded, so that a common word ("using") stays quick.
_CANDIDATES = 500


@dataclass(frozen=True, slots=True)
class _Name:
    text: str
    kind: str
    path: str
    title: str
    line: int
    rank: int


def _matching_names(kb: KnowledgeBase, typed: str, here: str, limit: int) -> list[_Name]:
    db = kb.catalog.reader
    words = [w for w in re.split(r"[\s/]+", typed.lower().strip()) if w]
    if not words:
        # Nothing typed: the pages beside this one, then the rest, by path.
        folder = posixpath.dirname(here)
        prefix = f"{folder}/" if folder else ""
        rows = db.execute(
            "SELECT t.text, t.kind, d.path, d.title, t.line FROM documents d "
            "JOIN terms t ON t.doc_id = d.id AND t.kind = 'title' "
            "WHERE d.path >= ? AND d.path < ? AND d.path != ? ORDER BY d.path LIMIT ?",
            (prefix, prefix + "\U0010ffff", here, limit),
        ).fetchall()
        if len(rows) < limit:
            rows += db.execute(
                "SELECT t.text, t.kind, d.path, d.title, t.line FROM documents d "
                "JOIN terms t ON t.doc_id = d.id AND t.kind = 'title' "
                "WHERE NOT (d.path >= ? AND d.path < ?) ORDER BY d.path LIMIT ?",
                (prefix, prefix + "\U0010ffff", limit - len(rows)),
            ).fetchall()
        return [_Name(t, k, p, title, line, 0) for t, k, p, title, line in rows]
    long_words = [w for w in words if len(w) >= 3]
    rows: list[tuple] = []
    if long_words:
        query = " AND ".join('"' + w.replace('"', '""') + '"' for w in long_words)
        rows = db.execute(
            "SELECT t.text, t.kind, d.path, d.title, t.line FROM names "
            "JOIN terms t ON t.id = names.rowid JOIN documents d ON d.id = t.doc_id "
            "WHERE names MATCH ? LIMIT ?",
            (query, _CANDIDATES),
        ).fetchall()
    else:
        # Too short for trigrams: a prefix of the normalised text, through its index.
        key = _native.normalize_term(typed) or typed.lower()
        rows = db.execute(
            "SELECT t.text, t.kind, d.path, d.title, t.line FROM terms t "
            "JOIN documents d ON d.id = t.doc_id WHERE t.normalized >= ? AND t.normalized < ? "
            "AND t.kind IN ('heading', 'title') LIMIT ?",
            (key, key + "\U0010ffff", _CANDIDATES),
        ).fetchall()
    ranked: list[_Name] = []
    seen: set[tuple[str, int, str]] = set()
    for text, kind, path, title, line in rows:
        rank = _match_rank(words, text, path)
        if rank is None or (path, line, kind) in seen:
            continue
        seen.add((path, line, kind))
        ranked.append(_Name(text, kind, path, title, line, rank))
    # A page's title is usually also its first heading: offer the page once.
    titles = {(n.path, n.text) for n in ranked if n.kind == "title"}
    ranked = [n for n in ranked if n.kind == "title" or (n.path, n.text) not in titles]
    ranked.sort(key=lambda n: (n.rank, n.kind != "title", len(n.text), n.path, n.line))
    return ranked[:limit]


def _match_rank(words: Sequence[str], text: str, path: str) -> int | None:
    """How well ``words`` match a heading or title (lower is better), or None for no match:
    0 the whole text, 1 its start, 2 the start of its words, 3 inside words, 4 the file name."""
    lowered = text.lower()
    if all(w in lowered for w in words):
        joined = " ".join(words)
        if lowered == joined:
            return 0
        if lowered.startswith(words[0]):
            return 1
        starts = re.findall(r"\w+", lowered)
        if all(any(s.startswith(w) for s in starts) for w in words):
            return 2
        return 3
    name = path.lower()
    if all(w in name for w in words):
        return 4
    return None


def _anchor_names(kb: KnowledgeBase, places: set[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """The anchor a link should use for each heading (path, line): its explicit id or label
    first, then its slug."""
    if not places:
        return {}
    paths = sorted({p for p, _ in places})
    rows = kb.catalog.reader.execute(
        "SELECT d.path, a.line, a.name, a.kind FROM anchors a JOIN documents d ON d.id = a.doc_id "
        f"WHERE d.path IN ({','.join('?' * len(paths))})",
        paths,
    ).fetchall()
    preference = {"id": 0, "label": 1, "slug": 2}
    best: dict[tuple[str, int], tuple[int, str]] = {}
    for path, line, name, kind in rows:
        if (path, line) in places:
            rank = preference.get(kind, 3)
            if (path, line) not in best or rank < best[(path, line)][0]:
                best[(path, line)] = (rank, name)
    return {place: name for place, (_, name) in best.items()}


def _anchor_items(
    library: Library,
    kb: KnowledgeBase,
    context: LinkContext,
    doc: Path,
    here: str,
    page_anchors: Sequence[_native.Anchor],
    limit: int,
) -> list[LinkCompletion]:
    if context.page:
        kind = "wiki" if context.wiki else "inline"
        probe = _ProbeLink(kind, context.page.strip("<>"))
        dest = links.resolve(library, doc, probe).dest
        if dest is None:
            return []
        path = dest.path
        rows = kb.catalog.reader.execute(
            "SELECT a.name, a.heading, a.line, a.kind FROM anchors a "
            "JOIN documents d ON d.id = a.doc_id WHERE d.path = ? ORDER BY a.line",
            (path,),
        ).fetchall()
    else:
        path = here
        rows = [(a.name, a.heading, a.line, a.kind) for a in page_anchors]
    words = [w for w in re.split(r"\s+", context.typed.lower().replace("-", " ")) if w]
    items: list[LinkCompletion] = []
    preference = {"id": 0, "label": 1, "slug": 2}
    rows = sorted(rows, key=lambda r: (r[2], preference.get(r[3], 3)))
    seen_lines: set[int] = set()
    for name, heading, line, _kind in rows:
        if line in seen_lines:
            continue
        rank = _match_rank(words, heading, name) if words else 0
        if rank is None:
            continue
        seen_lines.add(line)
        insert = heading if context.wiki else name
        insert += "" if context.closed else ("]]" if context.wiki else ")")
        items.append(
            LinkCompletion(
                heading,
                "heading",
                f"{path}:{line}",
                insert,
                context.start,
                str(kb.root),
                path,
                line,
                rank,
            )
        )
    items.sort(key=lambda i: (i.rank, i.line))
    return items[:limit]


class _ProbeLink:
    """A link being typed, shaped like ``lore._native.Link`` for the resolver."""

    def __init__(self, kind: str, target: str) -> None:
        self.kind = kind
        self.target = target
        self.anchor = ""
        self.text = target
        self.line = self.col = self.end_line = self.end_col = 0


def _wiki_name(path: str) -> str:
    return posixpath.splitext(posixpath.basename(path))[0]


def _relative(here: str, path: str, extension: bool) -> str:
    rel = posixpath.relpath(path, posixpath.dirname(here) or ".")
    if not extension:
        rel = posixpath.splitext(rel)[0]
    return rel.replace(" ", "%20")


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


__all__ = [
    "LinkCompletion",
    "LinkContext",
    "LinkStyle",
    "complete_link",
    "heading_hover",
    "link_context",
    "link_hover",
]
