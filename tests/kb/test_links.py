"""The link resolver against a real index of the linked fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from lore import _native
from lore.config import LinkSettings
from lore.kb import links
from lore.kb.lookup import Library
from lore.kb.paths import link_destination, page_candidates


def page_links(library: Library, path: str) -> tuple[Path, list[_native.Link]]:
    doc = library.bases[0].root / path
    found, _ = links.links_in(doc.read_text(encoding="utf-8"), _native.detect_format(path))
    return doc, found


def where(library: Library, path: str, text: str) -> tuple[str, str, int] | None:
    doc, found = page_links(library, path)
    link = next(link for link in found if link.text == text)
    dest = links.resolve(library, doc, link).dest
    return (dest.path, dest.anchor, dest.line) if dest else None


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        ("index.md", "the queue", ("guide/queue.md", "", 1)),
        ("index.md", "priorities", ("guide/queue.md", "priority-classes", 5)),
        ("index.md", "cache", ("cache.md", "", 1)),  # [[cache]]: a wiki-link by file name
        ("index.md", "eviction rules", ("cache.md", "eviction", 5)),  # by heading text
        ("index.md", "deadlines", ("guide/queue.md", "deadlines", 9)),  # reference, {#id}
        ("guide/queue.md", "the handbook", ("index.md", "", 1)),
        ("guide/queue.md", "deadlines", ("guide/queue.md", "deadlines", 9)),  # same page
        ("ledger.rst", "guide/queue", ("guide/queue.md", "", 1)),  # :doc: without extension
        ("decisions.rst", "the ledger choice", ("ledger.rst", "ledger-choice", 3)),  # label
    ],
)
def test_links_resolve_to_the_page_and_heading_line(
    linked: Library, path: str, text: str, expected: tuple[str, str, int]
) -> None:
    assert where(linked, path, text) == expected


def test_external_links_are_not_resolved_nor_reported(linked: Library) -> None:
    doc, found = page_links(linked, "index.md")
    external = next(link for link in found if link.text == "example")
    assert links.resolve(linked, doc, external) == links.Resolution(None)


def test_check_lists_missing_pages_and_anchors(linked: Library) -> None:
    broken = links.check(linked, LinkSettings())
    assert [(b.path, b.line, b.target, b.code) for b in broken] == [
        ("decisions.rst", 4, "unknown-label", "missing-anchor"),
        ("index.md", 6, "missing.md", "missing-page"),
        ("index.md", 6, "guide/queue.md#nowhere", "missing-anchor"),
        ("index.md", 6, "Nowhere", "missing-page"),
    ]
    assert "no heading '#nowhere' in guide/queue.md" in broken[2].problem


def test_check_obeys_its_settings(linked: Library) -> None:
    assert links.check(linked, LinkSettings(diagnostics=False)) == []
    no_anchors = links.check(linked, LinkSettings(anchors=False))
    assert {b.code for b in no_anchors} == {"missing-page"}
    ignored = links.check(linked, LinkSettings(ignore=["missing*", "Nowhere"]))
    assert "missing.md" not in {b.target for b in ignored}
    assert "Nowhere" not in {b.target for b in ignored}


def test_references_to_a_heading_and_to_a_page(linked: Library) -> None:
    root = str(linked.bases[0].root)
    heading = links.Dest(
        root, "guide/queue.md", "Request queue", "priority-classes", "Priority classes", 5
    )
    assert [(s.path, s.line) for s in links.references(linked, heading)] == [
        ("cache.md", 7),
        ("index.md", 3),
    ]
    page = links.Dest(root, "guide/queue.md", "Request queue")
    assert {s.path for s in links.references(linked, page)} == {
        "cache.md",
        "guide/queue.md",
        "index.md",
        "ledger.rst",
    }
    label = links.Dest(root, "ledger.rst", "Ledger database", "ledger-choice", "Ledger database", 3)
    assert [s.path for s in links.references(linked, label)] == ["decisions.rst"]


def test_a_reindex_after_an_edit_updates_links_and_anchors(
    linked: Library, linked_root: Path
) -> None:
    (linked_root / "missing.md").write_text("# Found at last\n", encoding="utf-8")
    queue = linked_root / "guide" / "queue.md"
    queue.write_text(queue.read_text().replace("## Setup\n\nInstall", "## Nowhere\n\nInstall"))
    linked.bases[0].index()
    assert [b.target for b in links.check(linked, LinkSettings())] == [
        "unknown-label",
        "Nowhere",
    ]


def test_destinations_are_normalised_inside_the_root() -> None:
    assert link_destination("a/b.md", "inline", "../c.md") == "c.md"
    assert link_destination("a/b.md", "inline", "/d/e.md") == "d/e.md"
    assert link_destination("a/b.md", "inline", "") == "a/b.md"
    assert link_destination("a/b.md", "inline", "my%20page.md") == "a/my page.md"
    assert link_destination("a/b.md", "inline", "../../out.md") is None
    assert link_destination("a/b.md", "inline", "https://x.io/a.md") is None
    assert link_destination("a/b.md", "wiki", "Page") is None
    assert page_candidates("guide/queue")[:2] == ["guide/queue", "guide/queue.md"]
    assert page_candidates("a.md") == ["a.md"]


def test_symbols_come_from_the_trigram_index_and_follow_reindexing(
    linked: Library, linked_root: Path
) -> None:
    kb = linked.bases[0]
    assert [t.text for t in kb.headings("sql")] == ["Relational (SQL) or NoSQL?"]
    # Starting the text, then starting a word, then inside a word.
    assert [t.text for t in kb.headings("cach")][:1] == ["Response cache"]
    assert sorted(t.text for t in kb.headings("de")[:2]) == ["Deadlines", "Decisions"]
    (linked_root / "cache.md").unlink()
    kb.index()
    assert kb.headings("cache") == [] and kb.headings("dax") == []
