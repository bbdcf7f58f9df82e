"""Links inside the docs, end to end over stdio: hover, completion, definition, references and
diagnostics on the linked fixture. The link features do not depend on what the client
declares, so one client profile is enough."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from .conftest import SERVER, start, wait_for

pytestmark = pytest.mark.asyncio


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient, linked_root: Path):
    await start(lsp_client, linked_root, "visual_studio_code")
    yield
    await lsp_client.shutdown_session()


def open_page(client: LanguageClient, path: Path, text: str | None = None) -> str:
    uri = path.as_uri()
    language = "restructuredtext" if path.suffix == ".rst" else "markdown"
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri,
                language_id=language,
                version=1,
                text=path.read_text(encoding="utf-8") if text is None else text,
            )
        )
    )
    return uri


def at(uri: str, line: int, character: int) -> dict:
    return {
        "text_document": types.TextDocumentIdentifier(uri=uri),
        "position": types.Position(line=line, character=character),
    }


async def hover(client: LanguageClient, uri: str, line: int, character: int) -> str | None:
    result = await client.text_document_hover_async(types.HoverParams(**at(uri, line, character)))
    return result.contents.value if result else None


async def test_hover_on_a_link_previews_the_page_or_heading(
    client: LanguageClient, linked_root: Path
) -> None:
    uri = open_page(client, linked_root / "index.md")
    page = await hover(client, uri, 2, 14)  # [the queue](guide/queue.md)
    assert page is not None and page.startswith("**Request queue**")
    assert "orders work by priority" in page
    heading = await hover(client, uri, 2, 50)  # [priorities](guide/queue.md#priority-classes)
    assert heading is not None and heading.startswith("**Request queue** › Priority classes")
    assert "Interactive requests run first" in heading
    assert "guide/queue.md:5" in heading
    wiki = await hover(client, uri, 3, 6)  # [[cache]]
    assert wiki is not None and wiki.startswith("**Response cache**")
    reference = await hover(client, uri, 3, 64)  # [deadlines][q]
    assert reference is not None and "Deadlines" in reference and "is dropped" in reference
    broken = await hover(client, uri, 5, 12)  # [gone](missing.md)
    assert broken is not None and "Broken link" in broken and "missing.md" in broken


async def test_hover_on_a_heading_counts_the_pages_that_link_to_it(
    client: LanguageClient, linked_root: Path
) -> None:
    uri = open_page(client, linked_root / "guide" / "queue.md")
    text = await hover(client, uri, 4, 5)  # ## Priority classes
    assert text is not None and text.startswith("2 pages link to **Priority classes**")
    assert "cache.md" in text and "index.md" in text
    unlinked = await hover(client, uri, 12, 4)  # ## Setup: nobody links to it
    assert "link to" not in (unlinked or "")  # no count, the word's own hover if any
    title = await hover(client, uri, 0, 4)  # # Request queue: the page itself
    assert title is not None and title.startswith("3 pages link to this page")
    rst = open_page(client, linked_root / "ledger.rst")
    label = await hover(client, rst, 2, 3)  # Ledger database, labelled ledger-choice
    assert label is not None and "decisions.rst" in label


async def complete(client: LanguageClient, uri: str, line: int, character: int) -> list:
    result = await client.text_document_completion_async(
        types.CompletionParams(**at(uri, line, character))
    )
    assert result is not None
    items = result.items if isinstance(result, types.CompletionList) else result
    return [(i.label, i.text_edit.new_text) for i in items]


async def test_link_completion_offers_pages_at_once_and_matches_fuzzily(
    client: LanguageClient, linked_root: Path
) -> None:
    draft = linked_root / "draft.md"
    draft.write_text("", encoding="utf-8")
    lines = ["See [[", "See [x](", "See [x](guide/queue.md#", "See [[nosql", "See [y](cases"]
    uri = open_page(client, draft, "\n".join(lines) + "\n")
    wiki = await complete(client, uri, 0, 6)
    assert ("Handbook", "index]]") in wiki and ("Response cache", "cache]]") in wiki
    path = await complete(client, uri, 1, 8)
    assert ("Request queue", "guide/queue.md)") in path
    anchors = await complete(client, uri, 2, 23)
    assert [label for label, _ in anchors][:3] == ["Request queue", "Priority classes", "Deadlines"]
    assert ("Deadlines", "deadlines)") in anchors  # the explicit {#deadlines} id
    assert ("Setup", "setup-1)") in anchors  # the second "Setup", as GitHub numbers it
    nosql = await complete(client, uri, 3, 11)
    assert nosql[0] == (
        "Relational (SQL) or NoSQL? (Request queue)",
        "queue#Relational (SQL) or NoSQL?]]",
    )
    cases = await complete(client, uri, 4, 13)
    assert cases[0] == ("Use Cases for DAX (Response cache)", "cache.md#use-cases-for-dax)")


async def test_link_completion_writes_links_as_the_page_does(
    client: LanguageClient, linked_root: Path
) -> None:
    draft = linked_root / "guide" / "draft.md"
    draft.write_text("", encoding="utf-8")
    uri = open_page(client, draft, "Back to [the handbook](../index) and [c](\n")
    items = await complete(client, uri, 0, 41)
    assert ("Response cache", "../cache)") in items  # no extension, like ../index


async def definition(client: LanguageClient, uri: str, line: int, character: int):
    result = await client.text_document_definition_async(
        types.DefinitionParams(**at(uri, line, character))
    )
    assert isinstance(result, list) and result
    return Path(result[0].uri.removeprefix("file://")).name, result[0].range.start.line


async def test_definition_goes_to_the_heading_line(
    client: LanguageClient, linked_root: Path
) -> None:
    uri = open_page(client, linked_root / "index.md")
    assert await definition(client, uri, 2, 50) == ("queue.md", 4)  # slug
    assert await definition(client, uri, 3, 64) == ("queue.md", 8)  # {#deadlines}
    assert await definition(client, uri, 3, 40) == ("cache.md", 4)  # [[cache#Eviction|…]]
    rst = open_page(client, linked_root / "decisions.rst")
    assert await definition(client, rst, 3, 10) == ("ledger.rst", 2)  # :ref: label


async def test_references_list_the_links_to_a_heading_and_to_a_page(
    client: LanguageClient, linked_root: Path
) -> None:
    uri = open_page(client, linked_root / "guide" / "queue.md")

    async def references(line: int, character: int) -> list[tuple[str, int]]:
        result = await client.text_document_references_async(
            types.ReferenceParams(
                **at(uri, line, character),
                context=types.ReferenceContext(include_declaration=False),
            )
        )
        return [(Path(r.uri.removeprefix("file://")).name, r.range.start.line) for r in result]

    assert await references(4, 5) == [("cache.md", 6), ("index.md", 2)]
    page = await references(0, 3)
    assert {name for name, _ in page} == {"cache.md", "index.md", "queue.md", "ledger.rst"}


async def test_broken_links_are_reported_and_refreshed_after_a_reindex(
    client: LanguageClient, linked_root: Path
) -> None:
    uri = open_page(client, linked_root / "index.md")

    def codes() -> list[str]:
        return sorted(str(d.code) for d in client.diagnostics.get(uri, []))

    await wait_for(client, "textDocument/publishDiagnostics", lambda: len(codes()) == 3)
    assert codes() == ["missing-anchor", "missing-page", "missing-page"]
    first = next(d for d in client.diagnostics[uri] if "missing.md" in d.message)
    assert (first.range.start.line, first.range.start.character) == (5, 8)
    assert first.severity == types.DiagnosticSeverity.Warning

    missing = linked_root / "missing.md"
    missing.write_text("# Found at last\n", encoding="utf-8")
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=missing.as_uri(), type=types.FileChangeType.Created)]
        )
    )
    await wait_for(client, "textDocument/publishDiagnostics", lambda: len(codes()) == 2)
    assert codes() == ["missing-anchor", "missing-page"]
