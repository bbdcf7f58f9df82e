"""The ``lore`` command: ``serve``, ``index``, ``search``, ``ask`` and ``status``.

Exit status: 0 success, 1 no result or failed check, 2 bad usage or bad input. Errors are one
line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from lore.ops.memory import limit_malloc_arenas

if TYPE_CHECKING:
    from rich.console import Console

    from lore.config import Settings
    from lore.kb.base import BaseKnowledgeBase
    from lore.kb.knowledge_base import KnowledgeBase
    from lore.kb.postgres import SharedIndex
    from lore.kb.semantic import EmbedProgress
    from lore.kb.types import IndexProgress, IndexReport

# The commands import what they use (settings, rich, the index, the answer pipeline) when
# they run: `lore serve` answers `initialize` before it imports any of it (lsp/handshake.py).

EXIT_OK = 0
EXIT_NO_RESULT = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """Bad usage or bad input: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints the whole usage block; one line is what a shell user wants.
        self.exit(EXIT_USAGE, f"lore: {message} (see 'lore {self._sub_name()}--help')\n")

    def _sub_name(self) -> str:
        parts = self.prog.split()
        return f"{parts[-1]} " if len(parts) > 1 else ""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lore", description="Lore: your team's written knowledge, in the editor.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    p = sub.add_parser("index", help="build or update the index of a folder")
    p.add_argument("root", nargs="?", default=".", help="the knowledge base's folder (default: .)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--rebuild", action="store_true", help="drop the index and build it anew")
    p.add_argument(
        "--embed",
        action="store_true",
        help="then embed the sections for reranking answers (what `lore serve` does in the "
        "background); Ctrl-C stops, keeping what was embedded",
    )
    p.add_argument(
        "--to",
        metavar="URL",
        help="index into a shared knowledge base in PostgreSQL (postgresql://…) instead of the "
        "folder's own index; the password is best left to PGPASSWORD or ~/.pgpass",
    )

    p = sub.add_parser("search", help="hybrid search of the knowledge base")
    p.add_argument("query")
    p.add_argument("--root", default=".", help="the knowledge base's folder (default: .)")
    p.add_argument("-k", type=int, default=None, help="number of results (default: 10)")
    p.add_argument("--json", action="store_true", help="print results as JSON")

    p = sub.add_parser("ask", help="answer a question from the knowledge base, with citations")
    p.add_argument("question")
    p.add_argument("--root", default=".", help="the knowledge base's folder (default: .)")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument("--trace", action="store_true", help="show what each RAISE stage did")

    p = sub.add_parser("status", help="index statistics and health")
    p.add_argument("--root", default=".", help="the knowledge base's folder (default: .)")
    p.add_argument("--json", action="store_true", help="print the status as JSON")

    p = sub.add_parser("check", help="list links to missing pages and headings (exit 1 if any)")
    p.add_argument("root", nargs="?", default=".", help="the knowledge base's folder (default: .)")
    p.add_argument("--json", action="store_true", help="print the broken links as JSON")

    p = sub.add_parser("serve", help="run the language server (stdio by default)")
    transport = p.add_mutually_exclusive_group()
    transport.add_argument(
        "--stdio", action="store_true", help="speak LSP on stdin/stdout (the default)"
    )
    transport.add_argument(
        "--tcp",
        metavar="HOST:PORT",
        help="listen on a loopback TCP port instead; clients send the token from LORE_TCP_TOKEN "
        "(or the one printed) as initializationOptions.token",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    limit_malloc_arenas()  # before any thread starts: see lore.ops.memory
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from lore import __version__

        print(f"lore {__version__}")
        return EXIT_OK
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    handler = _COMMANDS[args.command]
    try:
        return handler(args)
    except UsageError as exc:
        print(f"lore: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("lore: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (say, `head`) went away: stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - the promise is one line, never a traceback
        if os.environ.get("LORE_DEBUG"):
            raise
        print(
            f"lore: {type(exc).__name__}: {exc} (LORE_DEBUG=1 shows the traceback)", file=sys.stderr
        )
        return EXIT_NO_RESULT


def _root(value: str) -> Path:
    root = Path(value).expanduser()
    if not root.is_dir():
        raise UsageError(f"no such folder: {value}")
    return root.resolve()


def _settings(root: Path) -> Settings:
    from lore.config import SettingsError, load_settings

    try:
        settings = load_settings(root)
    except SettingsError as exc:
        raise UsageError(str(exc)) from None
    if settings.trust_notice:
        print(f"lore: {settings.trust_notice}", file=sys.stderr)
    return settings


def _open(
    root: Path, settings: Settings, *, read_only: bool = False, rebuild: bool = False
) -> KnowledgeBase:
    from lore.kb.knowledge_base import IndexError_, KnowledgeBase

    try:
        return KnowledgeBase.open(root, settings, read_only=read_only, rebuild=rebuild)
    except IndexError_ as exc:  # IndexBusyError included
        raise UsageError(str(exc)) from None


def _open_shared(root: Path, settings: Settings) -> BaseKnowledgeBase | None:
    """The shared knowledge base that ``kb.url`` names for ``root``, or None when unset."""
    if settings.kb.url is None:
        return None
    from lore.kb.knowledge_base import IndexError_
    from lore.kb.postgres import SharedKnowledgeBase

    try:
        return SharedKnowledgeBase.open(settings.kb.url.get_secret_value(), root, settings)
    except IndexError_ as exc:
        raise UsageError(str(exc)) from None


def _open_indexed(args: argparse.Namespace) -> BaseKnowledgeBase:
    """The knowledge base of ``--root`` (the shared one when ``kb.url`` is set), indexed first
    (quietly) if it is local and has never been."""
    root = _root(args.root)
    settings = _settings(root)
    shared = _open_shared(root, settings)
    if shared is not None:
        return shared
    kb = _open(root, settings)
    if kb.generation == 0 and not kb.read_only:
        kb.index()
    return kb


def _console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def _stderr() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def _cmd_index(args: argparse.Namespace) -> int:

    from lore.kb.knowledge_base import IndexBusyError

    root = _root(args.root)
    settings = _settings(root)
    err = _stderr()
    if args.to:
        return _index_shared(args, root, settings)
    with _open(root, settings, rebuild=args.rebuild) as kb:
        if kb.repaired:
            err.print(f"[yellow]lore: {kb.repaired}[/]")
        try:
            report = _index_with_progress(kb, show=err.is_terminal and not args.json)
        except IndexBusyError as exc:  # another process writes this index
            raise UsageError(str(exc)) from None
        status = _print_report(args, report)
        if args.embed and status == EXIT_OK:
            status = _embed_sections(kb, quiet=args.json)
    return status


def _embed_sections(kb: KnowledgeBase, *, quiet: bool) -> int:
    import time

    err = _stderr()
    started = time.perf_counter()

    def report(p: EmbedProgress) -> None:
        if err.is_terminal and not quiet:
            err.print(f"embedded {p.embedded} of {p.total} sections", end="\r")

    try:
        progress = kb.embed_sections(progress=report)
    except KeyboardInterrupt:
        err.print("\nstopped; the sections embedded so far are kept")
        return 130
    line = (
        f"{progress.embedded} of {progress.total} sections embedded for reranking "
        f"({progress.added} new) in {time.perf_counter() - started:.1f} s"
    )
    (err if quiet else _console()).print(line)
    return EXIT_OK


def _index_shared(args: argparse.Namespace, root: Path, settings: Settings) -> int:
    from lore.kb.knowledge_base import IndexError_
    from lore.kb.postgres import SharedIndex

    err = _stderr()
    try:
        target = SharedIndex.open(args.to, root, settings, rebuild=args.rebuild)
    except IndexError_ as exc:  # unreachable, busy (another indexer), or newer schema
        raise UsageError(str(exc)) from None
    with target:
        if target.rebuilt:
            err.print(f"[yellow]lore: {target.rebuilt}[/]")
        report = _index_with_progress(target, show=err.is_terminal and not args.json)
    return _print_report(args, report)


def _print_report(args: argparse.Namespace, report: IndexReport) -> int:
    from rich import filesize

    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        _console().print(
            f"{report.files} files ({report.indexed} indexed, {report.unchanged} unchanged, "
            f"{report.removed} removed, {report.skipped} skipped), {report.chunks} chunks, "
            f"{filesize.decimal(report.bytes)} in {report.seconds:.2f} s "
            f"({report.mb_per_s:.1f} MB/s)"
        )
        if report.skipped:
            _console().print("[dim]`lore status` lists the skipped files and why.[/]")
    return EXIT_OK if not report.cancelled else 130


def _index_with_progress(kb: KnowledgeBase | SharedIndex, *, show: bool) -> IndexReport:
    if not show:
        return kb.index()
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=_stderr(), transient=True) as bar:
        task = bar.add_task("indexing", total=None)

        def update(p: IndexProgress) -> None:
            bar.update(task, completed=p.done_files, total=p.total_files or None)

        return kb.index(progress=update)


def _cmd_search(args: argparse.Namespace) -> int:
    from rich.markup import escape

    query = args.query.strip()
    if not query:
        raise UsageError("the query is empty")
    if args.k is not None and args.k <= 0:
        raise UsageError("-k must be a positive number")
    with _open_indexed(args) as kb:
        results = kb.search(query, args.k or kb.settings.search.default_k)
    if args.json:
        print(
            json.dumps({"query": query[:1000], "results": [r.to_json() for r in results]}, indent=2)
        )
    else:
        out = _console()
        for n, r in enumerate(results, start=1):
            heading = " › ".join(r.chunk.heading_path) or r.chunk.title
            out.print(
                f"[bold]{n}.[/] [cyan]{r.chunk.path}:{r.chunk.start_line}-{r.chunk.end_line}[/]"
                f"  {escape(heading)}  [dim]{r.score:.3f}[/]"
            )
            out.print(f"   {escape(r.snippet)}")
        if not results:
            print("no results", file=sys.stderr)
    return EXIT_OK if results else EXIT_NO_RESULT


def _cmd_check(args: argparse.Namespace) -> int:
    from lore.kb import links
    from lore.kb.lookup import Library

    root = _root(args.root)
    settings = _settings(root)
    with _open(root, settings) as kb:
        if not kb.read_only:  # else a running server keeps the index current
            kb.index()
        broken = links.check(Library([kb]), settings.links)
    if args.json:
        print(json.dumps({"broken": [asdict(b) for b in broken]}, indent=2))
    else:
        for b in broken:
            # 1-based line and column, as compilers print them and editors jump to them.
            print(f"{b.path}:{b.line}:{b.col + 1}: {b.problem} [{b.code}]")
        pages = len({b.path for b in broken})
        summary = f"{len(broken)} broken links in {pages} pages" if broken else "no broken links"
        print(summary, file=sys.stderr)
    return EXIT_NO_RESULT if broken else EXIT_OK


def _cmd_status(args: argparse.Namespace) -> int:
    from rich.markup import escape

    root = _root(args.root)
    settings = _settings(root)
    shared = _open_shared(root, settings)
    if shared is not None:
        with shared:
            status = shared.status()
    elif not (settings.index_dir(root) / "lore.db").exists():
        if args.json:
            print(json.dumps({"root": str(root), "indexed": False}))
        else:
            print(f"{root} has no index yet: run `lore index {args.root}`", file=sys.stderr)
        return EXIT_NO_RESULT
    else:
        with _open(root, settings, read_only=True) as kb:
            status = kb.status()
    if args.json:
        print(json.dumps(status, indent=2))
        return EXIT_OK
    out = _console()
    if status.get("backend") == "postgresql":
        replica = status["replica"]
        lag = f", replica {replica['lag_s']:.1f} s behind" if replica["standby"] else ""
        out.print(f"[bold]{status['root']}[/]  (shared: {escape(status['url'])}{lag})")
    else:
        out.print(f"[bold]{status['root']}[/]  (index in {status['index_dir']})")
    out.print(
        f"{status['documents']} documents, {status['chunks']} chunks, {status['terms']} terms, "
        f"{status['bytes'] / 1e6:.1f} MB; generation {status['generation']}; "
        f"embedder {status['embedder']['identity']}/{status['embedder']['dim']}"
    )
    semantic = status.get("semantic")
    if semantic:
        out.print(
            f"{semantic['stored']} sections embedded for reranking answers ({semantic['model']})"
        )
    last = status["last_index"]
    if last:
        out.print(f"last index: {last['indexed']} files in {last['seconds']:.2f} s")
    if status["skipped"]:
        out.print(f"[yellow]{len(status['skipped'])} files skipped or decoded with a fallback:[/]")
        for item in status["skipped"]:
            out.print(f"  {escape(item['path'])}: {item['reason']}")
    return EXIT_OK


def _cmd_ask(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from lore.kb.lookup import Library
    from lore.llm.registry import Providers
    from lore.raise_ import Pipeline

    question = " ".join(args.question.split())
    if not question:
        raise UsageError("the question is empty")
    # On a terminal the model's tokens show as they come; the checked answer follows.
    live = not args.json and sys.stdout.isatty()
    streamed: list[str] = []

    def show_token(token: str) -> None:
        streamed.append(token)
        sys.stdout.write(token)
        sys.stdout.flush()

    with _open_indexed(args) as kb:
        providers = Providers(kb.index_dir)
        providers.configure(kb.settings.llm)
        try:
            answer = Pipeline(providers).answer(
                Library([kb]), question, kb.settings, on_token=show_token if live else None
            )
        finally:
            providers.close()
    if streamed:
        sys.stdout.write("\n\n")
        sys.stdout.flush()
    if args.json:
        print(json.dumps(answer.to_json(trace=args.trace), indent=2, ensure_ascii=False))
        return EXIT_NO_RESULT if answer.declined else EXIT_OK
    out = _console()
    if args.trace:
        for step in answer.trace or []:
            details = ", ".join(f"{k}={v}" for k, v in step.items() if k not in ("stage", "ms"))
            out.print(f"[dim]{step['stage']:>10} {step['ms']:7.1f} ms  {escape(details)}[/]")
        out.print()
    if not streamed or answer.answer.strip() != "".join(streamed).strip():
        if streamed:  # the check dropped sentences, or the answer fell back or declined
            out.print("[dim]checked answer:[/]")
        out.print(escape(answer.answer))
        out.print()
    for c in answer.citations():
        out.print(
            f"[bold][{c['n']}][/] [cyan]{c['path']}:{c['start_line']}-{c['end_line']}[/]  "
            f"{escape(c['heading'])}"
        )
    if answer.related:
        out.print("[dim]Related pages (they do not answer the question):[/]")
        for c in answer.related_pages():
            out.print(
                f"  [cyan]{c['path']}:{c['start_line']}-{c['end_line']}[/]  {escape(c['heading'])}"
            )
    label = "declined" if answer.declined else "confidence"
    note = (
        f"  [yellow]degraded: {escape(answer.degraded_reason or '')}[/]" if answer.degraded else ""
    )
    out.print(f"[dim]{label} {answer.confidence:.2f} · {answer.provider}[/]{note}")
    return EXIT_NO_RESULT if answer.declined else EXIT_OK


def _cmd_serve(args: argparse.Namespace) -> int:
    if args.tcp:
        from lore.lsp.tcp import NotLoopback, loopback_host

        host, _, port = args.tcp.rpartition(":")
        if not port.isdigit():
            raise UsageError(f"--tcp wants HOST:PORT, not {args.tcp!r}")
        try:
            loopback_host(host)
        except NotLoopback as exc:
            raise UsageError(str(exc)) from None
    elif sys.stdin.isatty():
        # Someone typed `lore serve` to see what it does: the protocol would look like a hang.
        print(
            "lore serve speaks the Language Server Protocol on stdin/stdout: your editor starts "
            "it (see docs/editors.md). Ctrl-D ends it.",
            file=sys.stderr,
            flush=True,
        )
    early = None
    if not args.tcp:
        # Before pygls loads: answer `initialize` from its record when there is one, then
        # hovers from the index while pygls loads.
        from lore.lsp import handshake

        early = handshake.answer_early(sys.stdin.fileno(), sys.stdout.buffer)
        if early.answered is not None:
            from lore.lsp.early import serve_while_loading

            serve_while_loading(early, sys.stdin.fileno(), sys.stdout.buffer, _load_server)
    from lore.lsp.server import serve

    # 1 when the client sent `exit` without `shutdown`, as the LSP specification asks.
    return serve(args.tcp, early=early)


def _load_server() -> None:
    """Import the language server and its features (`serve` runs this on a thread)."""
    from lore.lsp.server import feature_modules

    feature_modules()


_COMMANDS = {
    "index": _cmd_index,
    "search": _cmd_search,
    "status": _cmd_status,
    "check": _cmd_check,
    "ask": _cmd_ask,
    "serve": _cmd_serve,
}

if __name__ == "__main__":
    sys.exit(main())
