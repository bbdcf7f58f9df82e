"""The ``lore`` command: ``serve``, ``index``, ``search``, ``ask`` and ``status``.

Exit status: 0 success, 1 no result or failed check, 2 bad usage or bad input. Errors are one
line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

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

    p = sub.add_parser("serve", help="run the language server (stdio by default)")
    p.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead of stdio")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
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


def _root(value: str) -> Path:
    root = Path(value).expanduser()
    if not root.is_dir():
        raise UsageError(f"no such folder: {value}")
    return root.resolve()


def _cmd_index(args: argparse.Namespace) -> int:
    raise NotImplementedError


def _cmd_search(args: argparse.Namespace) -> int:
    raise NotImplementedError


def _cmd_status(args: argparse.Namespace) -> int:
    raise NotImplementedError


def _cmd_ask(args: argparse.Namespace) -> int:
    raise NotImplementedError


def _cmd_serve(args: argparse.Namespace) -> int:
    raise NotImplementedError


_COMMANDS = {
    "index": _cmd_index,
    "search": _cmd_search,
    "status": _cmd_status,
    "ask": _cmd_ask,
    "serve": _cmd_serve,
}

if __name__ == "__main__":
    sys.exit(main())
