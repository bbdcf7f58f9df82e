"""The editor features' lookups against a real knowledge base, without a server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from lore.config import Settings, load_settings
from lore.kb import link_lookup, links, lookup
from lore.kb.knowledge_base import KnowledgeBase

FIXTURE_KB = Path(__file__).parents[1] / "fixtures" / "kb"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lookup") / "kb"
    shutil.copytree(FIXTURE_KB, root)
    return root


@pytest.fixture(scope="module")
def settings(root: Path) -> Settings:
    return load_settings(root)


@pytest.fixture(scope="module")
def library(root: Path, settings: Settings) -> Iterator[lookup.Library]:
    kb = KnowledgeBase.open(root, settings)
    kb.index()
    yield lookup.Library([kb])
    kb.close()


@pytest.mark.parametrize(
    ("word", "title", "path"),
    [
        # Every spelling of an identifier finds the glossary entry.
        ("RequestQueue", "Request queue", "glossary/terms.md"),
        ("request_queue", "Request queue", "glossary/terms.md"),
        ("request-queue", "Request queue", "glossary/terms.md"),
        ("REQUEST_QUEUE", "Request queue", "glossary/terms.md"),
        ("SettlementWindow", "Settlement window", "glossary/terms.md"),
        ("idempotency_key", "Idempotency key", "glossary/terms.md"),
        ("retry_budget", "RetryBudget", "glossary/terms.md"),
        # Headings and page titles, in Markdown and reStructuredText.
        ("Mitigation", "Mitigation", "runbooks/ledger-outage.md"),
        ("Glossary", "Glossary", "glossary/terms.md"),
        ("ledger_database", "ADR 0003: Ledger database", "adr/0003-ledger-database.rst"),
        ("LedgerOutage", "Ledger outage runbook", "runbooks/ledger-outage.md"),
        # Keywords, single letters, common words and unknown identifiers: no hover at all.
        ("self", None, None),
        ("return", None, None),
        ("x", None, None),
        ("the", None, None),
        ("queue", None, None),
        ("window", None, None),
        ("data", None, None),
        ("run_job", None, None),
        ("foo_bar", None, None),
        ("LedgerFreeze", None, None),  # "ledger" alone is in many headings
    ],
)
def test_hover_for(
    library: lookup.Library, settings: Settings, word: str, title: str | None, path: str | None
) -> None:
    hover = lookup.hover_for(library, word, settings)
    if title is None:
        assert hover is None, f"{word!r} should not hover, got {hover and hover.title!r}"
        return
    assert hover is not None, f"{word!r} should hover"
    assert (hover.title, hover.path) == (title, path)


def test_hover_markdown_names_the_section_quotes_it_and_links_the_source(
    library: lookup.Library, settings: Settings, root: Path
) -> None:
    hover = lookup.hover_for(library, "settlement_window", settings)
    assert hover is not None
    lines = hover.markdown.splitlines()
    assert lines[0] == "**Settlement window** — Glossary › Settlement window"
    assert "02:00 to 04:00 UTC" in hover.markdown
    abs_path = (root / "glossary" / "terms.md").resolve()
    assert lines[-1] == f"[glossary/terms.md:9](file://{abs_path}#L9)"


def test_hover_excerpt_respects_max_lines_and_keeps_code_fences_closed() -> None:
    text = "## Deploy\n\nRun this:\n\n```sh\nmake deploy\nmake verify\nmake announce\n```\n"
    excerpt = lookup._excerpt(text, max_lines=4)
    assert excerpt.splitlines() == ["Run this:", "", "```sh", "make deploy", "```", "…"]


def test_hover_can_be_turned_off(library: lookup.Library, settings: Settings) -> None:
    off = settings.model_copy(
        update={"hover": settings.hover.model_copy(update={"enabled": False})}
    )
    assert lookup.hover_for(library, "RequestQueue", off) is None


@pytest.mark.parametrize(
    ("line", "character", "word"),
    [
        ("queue = RequestQueue()", 10, "RequestQueue"),
        ("queue = RequestQueue()", 8, "RequestQueue"),  # at the start
        ("queue = RequestQueue()", 20, "RequestQueue"),  # just after the end
        ("RequestQueue.pop(self)", 3, "RequestQueue"),  # the part under the cursor
        ("RequestQueue.pop(self)", 14, "pop"),
        ("see request-queue here", 6, "request-queue"),
        ("    ", 2, None),
        ("a = 1", 99, None),
        ("a = 1", -1, None),
        ("é 😀 settlement_window", 6, "settlement_window"),  # UTF-16 offsets
        ("x" * (3 * lookup.SCAN_RADIUS), 5, None),  # longer than a word: data
        (" " * 100_000 + "settle", 100_003, "settle"),  # far along a long line
    ],
)
def test_word_at(line: str, character: int, word: str | None) -> None:
    assert lookup.word_at(line, character) == word


def test_completion_offers_terms_by_prefix(library: lookup.Library, settings: Settings) -> None:
    items = lookup.complete(library, "sett", settings)
    assert [(i.label, i.kind) for i in items] == [("Settlement window", "heading")]
    assert items[0].chunk_id is not None
    doc = lookup.completion_documentation(library, items[0].root, items[0].chunk_id)
    assert doc.startswith("**Glossary › Settlement window**")
    assert "acquiring bank" in doc


def test_completion_in_markdown_adds_links_relative_to_the_document(
    library: lookup.Library, settings: Settings, root: Path
) -> None:
    items = lookup.complete(library, "Settle", settings, markdown_doc=root / "runbooks" / "new.md")
    links = [i.insert_text for i in items if i.kind == "link"]
    assert links == ["[Settlement window](../glossary/terms.md#settlement-window)"]


def test_completion_needs_a_prefix(library: lookup.Library, settings: Settings) -> None:
    assert lookup.complete(library, "", settings) == []
    assert lookup.complete(library, "zzzz", settings) == []


def test_definition_of_a_term(library: lookup.Library) -> None:
    places = lookup.definition(library, word="SettlementWindow")
    assert (places[0].path, places[0].line, places[0].kind) == ("glossary/terms.md", 9, "heading")


def test_links_in_the_fixture_resolve_to_their_pages(library: lookup.Library, root: Path) -> None:
    doc = root / "README.md"
    found, _ = links.links_in(doc.read_text(encoding="utf-8"), "markdown")
    dests = [links.resolve(library, doc, link).dest for link in found]
    assert [(d.path, d.line) for d in dests if d] == [
        ("glossary/terms.md", 1),
        ("runbooks/ledger-outage.md", 1),
    ]


def test_symbols_over_headings_and_pages(library: lookup.Library) -> None:
    names = {(p.name, p.path) for p in lookup.symbols(library, "ledger")}
    assert ("Ledger outage runbook", "runbooks/ledger-outage.md") in names
    assert ("ADR 0003: Ledger database", "adr/0003-ledger-database.rst") in names


def test_several_folders_are_searched_together(
    library: lookup.Library, settings: Settings, tmp_path: Path
) -> None:
    other_root = tmp_path / "other"
    other_root.mkdir()
    (other_root / "ops.md").write_text("# Pager rota\n\nWho is on call this week.\n")
    other = KnowledgeBase.open(other_root, settings)
    try:
        other.index()
        both = lookup.Library([*library.bases, other])
        assert lookup.hover_for(both, "PagerRota", settings).path == "ops.md"
        assert lookup.hover_for(both, "RequestQueue", settings).path == "glossary/terms.md"
        assert both.owner(other_root / "ops.md") is other
        assert both.generation.count(".") == 1
    finally:
        other.close()


def test_a_plain_word_named_in_several_files_does_not_hover(
    settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "a.md").write_text("# Overview\n\nHow the ledger fits together.\n")
    (tmp_path / "b.md").write_text("# Overview\n\nHow the payouts fit together.\n")
    (tmp_path / "c.md").write_text("# Reconciliation\n\nMatching the bank's statement.\n")
    kb = KnowledgeBase.open(tmp_path, settings)
    try:
        kb.index()
        library = lookup.Library([kb])
        assert lookup.hover_for(library, "Overview", settings) is None
        assert lookup.hover_for(library, "reconciliation", settings).path == "c.md"
    finally:
        kb.close()


def test_scans_stay_near_the_cursor_on_long_lines() -> None:
    # Completion at the end of 100,000 `a`s and a definition among 40,000 `[` used to scan the
    # whole line once per start position (quadratic); only a window around the cursor is read.
    assert lookup.prefix_at("a" * 100_000, 100_000) == ""
    assert lookup.prefix_at("a" * 100_000 + " settle", 100_007) == "settle"
    found, _ = links.links_in("[" * 40_000, "markdown")
    assert links.link_under(found, 0, 20_000) is None
    line = "[" * 40_000 + " [the window](terms.md#settlement-window)"
    found, _ = links.links_in(line, "markdown")
    link = links.link_under(found, 0, 40_005)
    assert link is not None and (link.target, link.anchor) == ("terms.md", "settlement-window")
    assert link_lookup.link_context("[[" * 50_000, 100_000) is not None
    assert link_lookup.link_context("](" + "a" * 100_000, 100_002) is None  # beyond the window


def test_hover_prefers_the_page_that_defines_a_term_over_one_that_mentions_it(
    tmp_path: Path,
) -> None:
    root = tmp_path / "kb"
    (root / "lambda").mkdir(parents=True)
    (root / "sqs").mkdir()
    (root / "lambda" / "resilience.md").write_text(
        "# Resilience in AWS Lambda\n\n## Retries and the `DeadLetterQueue` setting\n\n"
        "Lambda retries failed asynchronous invocations twice, then sends the event to the "
        "function's DeadLetterQueue if one is set.\n"
    )
    (root / "sqs" / "dead-letter-queues.md").write_text(
        "# Amazon SQS dead-letter queues\n\n"
        "A dead-letter queue receives the messages that other queues could not process, so "
        "that you can isolate them and find out why their processing failed.\n"
    )
    settings = load_settings(root)
    with KnowledgeBase.open(root, settings) as kb:
        kb.index()
        info = lookup.hover_for(lookup.Library([kb]), "DeadLetterQueue", settings)
    assert info is not None
    assert info.path == "sqs/dead-letter-queues.md"
    assert "Amazon SQS dead-letter queues" in info.markdown
