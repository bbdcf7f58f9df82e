"""``textDocument/completion``: the knowledge base's terms, headings, pages and links."""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from lore.kb import link_lookup, lookup
from lore.lsp import links as page_links
from lore.lsp.documents import fs_path, is_markdown, line_at, read_document
from lore.lsp.server import LoreServer

_KINDS = {
    "heading": types.CompletionItemKind.Reference,
    "title": types.CompletionItemKind.File,
    "link": types.CompletionItemKind.Reference,
    "definition": types.CompletionItemKind.Text,
    "identifier": types.CompletionItemKind.Variable,
    "bold": types.CompletionItemKind.Text,
}


def register(server: LoreServer) -> None:
    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION,
        types.CompletionOptions(resolve_provider=True, trigger_characters=["[", "(", "#"]),
    )
    async def completion(
        ls: LoreServer, params: types.CompletionParams
    ) -> types.CompletionList | None:
        async with ls.measured("completion"):
            uri = params.text_document.uri
            line = await line_at(ls, uri, params.position)
            context = (
                link_lookup.link_context(line, params.position.character)
                if line and is_markdown(ls, uri)
                else None
            )
            if context is not None and ls.library.bases:
                return await _complete_link(ls, params, context)
            prefix = lookup.prefix_at(line, params.position.character) if line else ""
            if not prefix or not ls.library.bases:
                return None
            markdown_doc = fs_path(uri) if is_markdown(ls, uri) else None
            items = await ls.run_job(
                "interactive",
                lambda _job: lookup.complete(
                    ls.library, prefix, ls.settings, markdown_doc=markdown_doc
                ),
                key=f"completion:{uri}",
            )
            return types.CompletionList(is_incomplete=True, items=[_item(c, prefix) for c in items])

    @server.feature(types.COMPLETION_ITEM_RESOLVE)
    async def resolve(ls: LoreServer, item: types.CompletionItem) -> types.CompletionItem:
        async with ls.measured("completionItem/resolve"):
            data: dict[str, Any] = item.data if isinstance(item.data, dict) else {}
            if "root" not in data:
                return item
            text = await ls.run_job(
                "interactive",
                lambda _job: lookup.completion_documentation(
                    ls.library, data["root"], data.get("chunk_id")
                ),
            )
            if text:
                item.documentation = types.MarkupContent(kind=types.MarkupKind.Markdown, value=text)
            return item


async def _complete_link(
    ls: LoreServer, params: types.CompletionParams, context: link_lookup.LinkContext
) -> types.CompletionList | None:
    """Pages and headings for the link being typed, written as this page writes its links."""
    uri = params.text_document.uri
    page = await page_links.page_of(ls, await read_document(ls, uri))
    if page is None:
        return None

    def work(_job: Any) -> list[link_lookup.LinkCompletion]:
        style = link_lookup.LinkStyle.of(ls.library, page.path, page.links)
        return link_lookup.complete_link(
            ls.library, context, page.path, ls.settings, style=style, page_anchors=page.anchors
        )

    found = await ls.run_job("interactive", work, key=f"completion:{uri}")
    cursor = params.position
    replaced = types.Range(
        start=types.Position(line=cursor.line, character=context.start), end=cursor
    )
    items = [
        types.CompletionItem(
            label=c.label,
            kind=_KINDS["title" if c.kind == "title" else "link"],
            detail=c.detail,
            text_edit=types.TextEdit(range=replaced, new_text=c.insert_text),
            # Our ranking decides; the client's filter must not drop fuzzy matches.
            filter_text=f"{context.typed}{c.label}",
            sort_text=f"{rank:04d}",
            data={"root": c.root, "path": c.path, "line": c.line},
        )
        for rank, c in enumerate(found)
    ]
    return types.CompletionList(is_incomplete=True, items=items)


def _item(c: lookup.Completion, prefix: str) -> types.CompletionItem:
    return types.CompletionItem(
        label=c.label,
        kind=_KINDS.get(c.kind, types.CompletionItemKind.Text),
        detail=c.detail,
        insert_text=c.insert_text,
        # Clients filter on this; it lets "req" match "Request queue" and "request_queue".
        filter_text=c.label if c.kind != "link" else f"{prefix} {c.label}",
        sort_text=f"{'0' if c.kind in ('heading', 'definition') else '1'}{c.label.lower()}",
        data={"root": c.root, "chunk_id": c.chunk_id, "path": c.path, "line": c.line},
    )
