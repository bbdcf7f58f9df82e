"""Links inside the docs: ``textDocument/references`` and the broken-link diagnostics, plus
the page parsing that hover, definition and completion share.

Every question goes to the one resolver in ``lore.kb.links``.
"""

from __future__ import annotations

import asyncio
import logging

from lsprotocol import types

from lore.kb import links
from lore.kb.lookup import file_uri
from lore.lsp import sync
from lore.lsp.documents import Document, DocumentRefused, fs_path, read_document
from lore.lsp.pages import Page, parse_text
from lore.lsp.server import LoreServer

log = logging.getLogger("lore.lsp")

_SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "information": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}


def parse_page(document: Document) -> Page | None:
    """The links and anchors of a document (as ``read_document`` gave it). Blocking: call it
    on a worker thread."""
    path = fs_path(document.uri)
    return None if path is None else parse_text(path, document.text)


async def page_of(ls: LoreServer, document: Document) -> Page | None:
    """``parse_page`` off the event loop."""
    return await asyncio.to_thread(parse_page, document)


def to_location(abs_path: str, line: int, col: int = 0, end_line: int = 0, end_col: int = 0):
    start = types.Position(line=max(0, line - 1), character=col)
    end = types.Position(line=max(0, (end_line or line) - 1), character=end_col or col)
    return types.Location(uri=file_uri(abs_path), range=types.Range(start=start, end=end))


# --- references ----------------------------------------------------------------------------


async def destination_at(ls: LoreServer, uri: str, position: types.Position) -> links.Dest | None:
    """What the cursor stands on: a link's destination, or a heading (or title) of this page."""
    page = await page_of(ls, await read_document(ls, uri))
    if page is None or not ls.library.bases:
        return None
    link = links.link_under(page.links, position.line, position.character)
    if link is not None:
        return await ls.run_job(
            "user", lambda _job: links.resolve(ls.library, page.path, link).dest
        )
    heading = links.anchors_at(page.anchors, position.line)
    if not heading:
        return None
    return await ls.run_job(
        "user", lambda _job: links.dest_of_heading(ls.library, page.path, heading)
    )


# --- diagnostics ---------------------------------------------------------------------------


async def publish_diagnostics(ls: LoreServer, uri: str) -> None:
    """Report the broken links of the open document at ``uri`` (an empty list clears them)."""
    settings = ls.settings.links
    page = await page_of(ls, await read_document(ls, uri))
    if page is None or not ls.library.bases:
        return
    broken = await ls.run_job(
        "background",
        lambda _job: links.broken_in(ls.library, page.path, page.links, settings),
        key=f"diagnostics:{uri}",  # a newer edit supersedes the check of an older one
    )
    diagnostics = [
        types.Diagnostic(
            range=types.Range(
                start=types.Position(line=b.line - 1, character=b.col),
                end=types.Position(line=b.end_line - 1, character=b.end_col),
            ),
            message=b.problem,
            severity=_SEVERITY[settings.severity],
            code=b.code,
            source="lore",
        )
        for b in broken
    ]
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics)
    )


def refresh_diagnostics(ls: LoreServer) -> None:
    """After a re-index, report again for every open document: pages may have come or gone."""
    try:
        uris = list(ls.workspace.text_documents)
    except RuntimeError:
        return
    for uri in uris:
        ls.spawn(_publish_quietly(ls, uri), f"diagnostics {uri}")


async def _publish_quietly(ls: LoreServer, uri: str) -> None:
    try:
        await publish_diagnostics(ls, uri)
    except asyncio.CancelledError:
        pass  # superseded or shut down: the next change reports again
    except DocumentRefused as exc:
        log.debug("no diagnostics for %s: %s", uri, exc)


def register(server: LoreServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_REFERENCES)
    async def references(
        ls: LoreServer, params: types.ReferenceParams
    ) -> list[types.Location] | None:
        async with ls.measured("references"):
            uri = params.text_document.uri
            dest = await destination_at(ls, uri, params.position)
            if dest is None:
                return None
            sites = await ls.run_job("user", lambda _job: links.references(ls.library, dest))
            found = [to_location(s.abs_path, s.line, s.col, s.end_line, s.end_col) for s in sites]
            if params.context.include_declaration:
                found.insert(0, to_location(dest.abs_path, dest.line))
            return found

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    async def did_open(ls: LoreServer, params: types.DidOpenTextDocumentParams) -> None:
        await sync.root_from_first_document(ls, params)
        if ls.library.bases:
            ls.spawn(_publish_quietly(ls, params.text_document.uri), "diagnostics")

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    async def did_change(ls: LoreServer, params: types.DidChangeTextDocumentParams) -> None:
        if ls.library.bases:
            ls.spawn(_publish_quietly(ls, params.text_document.uri), "diagnostics")

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    async def did_close(ls: LoreServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[])
        )
