"""Answers in the editor: ``lore/ask``, the ``lore.server.ask`` command, and the code actions
"Ask Lore about…" and "Explain with Lore", which insert a cited answer as a comment."""

from __future__ import annotations

import asyncio
import textwrap
import uuid
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

from lore.llm.base import Cancelled
from lore.lsp import code_actions
from lore.lsp.code_actions import Action
from lore.lsp.documents import read_document
from lore.lsp.server import LoreServer, request_param

if TYPE_CHECKING:
    from lore.raise_ import Answer

# Line comments by languageId; block comments for languages without them.
LINE_COMMENTS = {
    **dict.fromkeys(
        [
            "python",
            "shellscript",
            "sh",
            "bash",
            "ruby",
            "perl",
            "r",
            "yaml",
            "toml",
            "dockerfile",
            "makefile",
            "cmake",
            "elixir",
            "julia",
            "powershell",
            "nix",
            "coffeescript",
        ],
        "#",
    ),
    **dict.fromkeys(
        [
            "c",
            "cpp",
            "csharp",
            "java",
            "javascript",
            "javascriptreact",
            "typescript",
            "typescriptreact",
            "go",
            "rust",
            "swift",
            "kotlin",
            "scala",
            "dart",
            "php",
            "groovy",
            "objective-c",
            "zig",
            "jsonc",
            "proto",
            "less",
            "scss",
        ],
        "//",
    ),
    **dict.fromkeys(["lua", "sql", "haskell", "ada", "elm"], "--"),
    **dict.fromkeys(["clojure", "lisp", "scheme", "racket", "elisp", "ini"], ";"),
    "vim": '"',
    "erlang": "%",
    "latex": "%",
    "tex": "%",
    "matlab": "%",
    "bat": "REM",
    "restructuredtext": "..",
    "rst": "..",
}
BLOCK_COMMENTS = {
    "markdown": ("<!--", "-->"),
    "html": ("<!--", "-->"),
    "xml": ("<!--", "-->"),
    "css": ("/*", "*/"),
    "ocaml": ("(*", "*)"),
}


def comment_block(answer: Answer, language_id: str, indent: str, heading: str) -> str:
    """The answer and its citations as a comment in the file's syntax."""
    lines = [heading, ""]
    lines += _wrap(answer.answer, 88)
    lines.append("")
    lines += [
        f"[{c['n']}] {c['path']}:{c['start_line']} ({c['heading']})" for c in answer.citations()
    ]
    if answer.related:
        lines.append("Related pages (they do not answer the question):")
        lines += [
            f"- {c['path']}:{c['start_line']} ({c['heading']})" for c in answer.related_pages()
        ]
    note = f"Lore · {answer.provider} · confidence {answer.confidence:.2f}"
    lines.append(note + (" · degraded" if answer.degraded else ""))
    if language_id in BLOCK_COMMENTS:
        start, end = BLOCK_COMMENTS[language_id]
        body = "\n".join(f"{indent}{line}".rstrip() for line in lines)
        return f"{indent}{start}\n{body}\n{indent}{end}\n"
    marker = LINE_COMMENTS.get(language_id, "#")
    if marker == "..":  # an rst comment: the marker, then an indented block
        body = "\n".join(f"{indent}   {line}".rstrip() for line in lines)
        return f"{indent}..\n{body}\n\n"
    return "".join(f"{indent}{marker} {line}".rstrip() + "\n" for line in lines)


def _wrap(text: str, width: int) -> list[str]:
    # Words stay whole (a long path or URL is not split): a comment line may run over.
    flat = " ".join(text.split())
    return textwrap.wrap(flat, width, break_long_words=False, break_on_hyphens=False)


async def ask(ls: LoreServer, question: str, *, token: types.ProgressToken | None = None) -> Answer:
    """Answer ``question`` through the queue, reporting each stage and each streamed token."""
    loop = asyncio.get_running_loop()
    if (
        token is None
        and ls.client_capabilities.window
        and ls.client_capabilities.window.work_done_progress
    ):
        token = str(uuid.uuid4())
        try:
            await ls.work_done_progress.create_async(token)
        except Exception:  # noqa: BLE001 - progress is a courtesy
            token = None
    if token is not None:
        ls.work_done_progress.begin(
            token, types.WorkDoneProgressBegin(title="Lore: answering", cancellable=True)
        )
    streamed: list[str] = []

    def report(message: str) -> None:
        if token is not None:
            loop.call_soon_threadsafe(
                ls.work_done_progress.report, token, types.WorkDoneProgressReport(message=message)
            )

    def on_token(piece: str) -> None:
        streamed.append(piece)
        report("".join(streamed)[-200:])

    pipeline = ls.pipeline
    configure_providers(ls)
    try:
        return await ls.run_job(
            "user",
            lambda job: pipeline.answer(
                ls.library,
                question,
                ls.settings,
                cancelled=lambda: job.cancelled,
                on_progress=report,
                on_token=on_token,
            ),
        )
    finally:
        if token is not None:
            ls.work_done_progress.end(token, types.WorkDoneProgressEnd(message="done"))


def configure_providers(ls: LoreServer) -> None:
    """Switch to the model and endpoints of the settings now in force (they may have changed
    since the last answer); cheap when nothing changed, and it sends no request."""
    bases = ls.bases()
    ls.pipeline.providers.configure(ls.settings.llm, bases[0].index_dir if bases else None)


async def answer_actions(ls: LoreServer, params: types.CodeActionParams, text: str) -> list[Action]:
    """Ask and Explain. A client that resolves gets the edit only for the action it picks; one
    that cannot (eglot 1.9) gets both edits now, or the actions would do nothing."""
    short = text if len(text) <= 40 else text[:39] + "…"
    data = {"uri": params.text_document.uri, "line": params.range.start.line, "text": text}
    actions = [
        types.CodeAction(
            title=f"Ask Lore about “{short}”",
            kind=types.CodeActionKind.RefactorRewrite,
            data={**data, "mode": "ask"},
        ),
        types.CodeAction(
            title="Explain with Lore",
            kind=types.CodeActionKind.RefactorRewrite,
            data={**data, "mode": "explain"},
        ),
    ]
    if not ls.client_support.resolves_code_actions:
        actions = list(await asyncio.gather(*(with_answer_edit(ls, a) for a in actions)))
    return actions


async def with_answer_edit(ls: LoreServer, action: types.CodeAction) -> types.CodeAction:
    """``action`` with its edit: the answer as a comment block above the line it was asked on."""
    data = action.data if isinstance(action.data, dict) else {}
    if data.get("mode") not in ("ask", "explain"):
        return action
    text, uri, line = data["text"], data["uri"], int(data["line"])
    if data["mode"] == "explain":
        question = f"What is {text} and how is it used?"
        heading = f"Lore explains: {text}"
    else:
        question = text
        heading = f"Lore on: {text}"
    document = await read_document(ls, uri)
    answer = await ask(ls, question)
    language = document.language_id or ""
    current = document.line(line) or ""
    indent = current[: len(current) - len(current.lstrip())]
    block = comment_block(answer, language, indent, heading)
    where = types.Position(line=line, character=0)
    action.edit = types.WorkspaceEdit(
        changes={uri: [types.TextEdit(range=types.Range(where, where), new_text=block)]}
    )
    return action


def register(server: LoreServer) -> None:
    if answer_actions not in code_actions.PROVIDERS:
        code_actions.PROVIDERS.append(answer_actions)

    @server.feature("lore/ask")
    async def lore_ask(ls: LoreServer, params: Any) -> dict[str, Any]:
        async with ls.measured("lore/ask"):
            question = str(request_param(params, "question") or "").strip()
            if not question:
                raise JsonRpcInvalidParams("lore/ask needs a question")
            try:
                answer = await ask(ls, question, token=request_param(params, "workDoneToken"))
            except Cancelled:
                raise asyncio.CancelledError from None
            return answer.to_json(trace=bool(request_param(params, "trace")))

    @server.command("lore.server.ask")
    async def ask_command(ls: LoreServer, question: str = "") -> dict[str, Any]:
        if not str(question).strip():
            raise JsonRpcInvalidParams("lore.server.ask needs a question")
        return (await ask(ls, str(question))).to_json()

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def resolve(ls: LoreServer, action: types.CodeAction) -> types.CodeAction:
        async with ls.measured("codeAction/resolve"):
            return await with_answer_edit(ls, action)
