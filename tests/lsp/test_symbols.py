"""``workspace/symbol`` on a word that hundreds of headings share, over stdio: the best
matches, each once, and no more than an editor's list can use."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from lore.kb.lookup import SYMBOL_LIMIT

from .conftest import SERVER, start

pytestmark = pytest.mark.asyncio

LEDGER_PAGES = 150
"""Pages whose title starts with the word, each also its first heading: more than one
answer lists."""


@pytest.fixture
def crowded_root(tmp_path: Path) -> Path:
    root = tmp_path / "crowded"
    (root / "subledgers").mkdir(parents=True)
    # Indexed first (walked in name order), so a plain scan of the trigram index meets these
    # before any heading that starts with the word.
    for n in range(LEDGER_PAGES):
        (root / "subledgers" / f"a{n:03}.md").write_text(
            f"# Subledgers of region {n}\n\nHow region {n} keeps its subledgers.\n"
        )
    (root / "pages").mkdir()
    for n in range(LEDGER_PAGES):
        (root / "pages" / f"ledger-{n:03}.md").write_text(
            f"# Ledger {n}\n\nWhat ledger {n} holds.\n\n## Closing ledger {n}\n\nAt month end.\n"
        )
    return root


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def client(lsp_client: LanguageClient, crowded_root: Path):
    await start(lsp_client, crowded_root, "visual_studio_code")
    yield
    await lsp_client.shutdown_session()


async def test_a_common_word_lists_the_best_matches_once_each(client: LanguageClient) -> None:
    symbols = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="ledger"))
    assert symbols is not None
    assert len(symbols) == SYMBOL_LIMIT
    places = [(s.name, s.location.uri) for s in symbols]
    assert len(set(places)) == len(places), "a page's title and first heading listed twice"
    # Every heading that starts with the word comes before those that only contain it.
    assert all(s.name.startswith("Ledger ") for s in symbols)
    # The shortest first: "Ledger 7" before "Ledger 107".
    assert [len(s.name) for s in symbols] == sorted(len(s.name) for s in symbols)
    assert symbols[0].kind in (types.SymbolKind.File, types.SymbolKind.String)


async def test_a_narrower_query_still_finds_the_rest(client: LanguageClient) -> None:
    for query, wanted in (
        ("closing ledger 149", "Closing ledger 149"),
        ("subledgers of region 42", "Subledgers of region 42"),
    ):
        symbols = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query=query))
        assert [s.name for s in symbols or []][:1] == [wanted]
