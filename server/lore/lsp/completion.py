"""``textDocument/completion``: the knowledge base's terms, headings, pages and links."""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from lore.kb import lookup
from lore.lsp.documents import fs_path, is_markdown, line_at
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
        types.CompletionOptions(resolve_provider=True, trigger_characters=["[", "("]),
    )
    async def completion(
        ls: LoreServer, params: types.CompletionParams
    ) -> types.CompletionList | None:
        async with ls.measured("completion"):
            uri = params.text_document.uri
            line = await line_at(ls, uri, params.position)
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
