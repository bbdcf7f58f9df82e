"""Answering ``initialize`` before the protocol library is loaded.

Importing pygls and lsprotocol costs most of a second of CPU, and the client waits for the
``initialize`` answer before it sends anything else. That answer depends only on Lore's code
and on the client's capabilities, so the server records it after each start, keyed by both,
in the user's cache folder. The next start with the same key reads the ``initialize`` request
itself, answers from the record at once, and then hands the same bytes to the server, which sets
up the workspace and settings as usual; its own answer to that request is dropped (and, should
it differ from the record, replaces the record for next time).

This module imports nothing beyond the standard library: it runs before everything else.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any, BinaryIO

from lore.lsp.framing import FdSource, Frame

log = logging.getLogger("lore.lsp")

# Packages whose code shapes the answer: a new version of any of them means a new key.
# Nothing in the workspace does: the capabilities are those of the features registered in
# `create_server`, before any workspace is known, adapted by pygls to the client's
# capabilities only. Settings (`lore.toml`, environment, the editor's) change how requests are
# answered, never what is advertised (tests/lsp/test_handshake.py checks it).
_SHAPERS = ("lore", "pygls", "lsprotocol")


@dataclass
class EarlyStart:
    """The ``initialize`` request read before pygls started, and how it was answered."""

    raw: bytes
    """Every byte read from stdin so far (the request, and what followed), read again by the
    server's own reader."""
    request_id: Any
    key: str | None
    """The record's key, or None when the request was not an ``initialize`` to record."""
    params: dict[str, Any] | None = None
    """The ``initialize`` request's params."""
    answered: dict[str, Any] | None = None
    """The result sent from the record, or None when pygls must answer."""
    source: FdSource | None = None
    """The reader of stdin, once messages after ``initialize`` were read before pygls loaded
    (``lore.lsp.early``), with what it holds; None when the server reads ``raw`` itself."""
    unanswered: list[Frame] = field(default_factory=list)
    """The messages read before pygls loaded that it must handle, in order (``initialize``
    first)."""


# The initialize request is small; anything odd is left for the server's own reader.
_MAX_HEADER_BYTES = 4096
_MAX_BODY_BYTES = 4 * 1024 * 1024


def read_first_message(fd: int) -> tuple[bytes, dict[str, Any] | None]:
    """Read from ``fd`` until the first JSON-RPC message is complete: every byte read (the
    message and whatever followed it), and the message (None when it is not one)."""
    data = b""
    while True:
        message, complete = _parse(data)
        if complete:
            return data, message
        chunk = os.read(fd, 65536)
        if not chunk:
            return data, None
        data += chunk


def _parse(data: bytes) -> tuple[dict[str, Any] | None, bool]:
    """The first message in ``data`` and whether reading can stop (it is there, or it never
    will be a message this module handles)."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None, len(data) > _MAX_HEADER_BYTES
    length = None
    for line in data[:end].split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            length = int(value.strip())
    if length is None or length > _MAX_BODY_BYTES:
        return None, True
    body = data[end + 4 : end + 4 + length]
    if len(body) < length:
        return None, False
    try:
        message = json.loads(body)
    except ValueError:
        return None, True
    return (message if isinstance(message, dict) else None), True


def answer_early(fd: int, stdout: BinaryIO) -> EarlyStart:
    """Read the first message; when it is ``initialize`` and an answer is on record for this
    client and this code, send that answer now."""
    raw, message = read_first_message(fd)
    if message is None or message.get("method") != "initialize" or "id" not in message:
        return EarlyStart(raw, None, None)
    params = message.get("params") if isinstance(message.get("params"), dict) else {}
    key = record_key(params.get("capabilities"), params.get("initializationOptions"))
    early = EarlyStart(raw, message["id"], key, params)
    recorded = _load(key)
    if recorded is not None:
        body = json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": recorded}).encode()
        stdout.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        stdout.flush()
        early.answered = recorded
    return early


def init_options_from(options: Any) -> dict[str, Any]:
    """The settings overlay in ``initializationOptions``: the object itself, or its ``lore``."""
    if not isinstance(options, dict):
        return {}
    nested = options.get("lore")
    return nested if isinstance(nested, dict) else options


def record_key(capabilities: Any, options: Any = None) -> str | None:
    """A digest of the client's capabilities and options, and of the code that builds the
    answer."""
    try:
        parts = [json.dumps([capabilities, options], sort_keys=True)]
    except (TypeError, ValueError):
        return None
    for package in _SHAPERS:
        spec = find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            return None
        parts.append(_tree_stamp(Path(spec.submodule_search_locations[0])))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def _tree_stamp(folder: Path) -> str:
    """Names, sizes and modification times of a package's modules: cheap, and it changes
    with any edit or upgrade."""
    entries = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith((".py", ".so")):
                info = os.stat(os.path.join(dirpath, name))
                entries.append(f"{dirpath}/{name}:{info.st_size}:{info.st_mtime_ns}")
    return "|".join(entries)


def _folder() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lore" / "initialize"


def _load(key: str | None) -> dict[str, Any] | None:
    if key is None:
        return None
    try:
        value = json.loads((_folder() / f"{key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def remember(key: str | None, result: dict[str, Any]) -> None:
    """Record the answer pygls gave, for the next start with the same key."""
    if key is None:
        return
    folder = _folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f".{key}.{os.getpid()}.tmp"
        temporary.write_text(json.dumps(result, sort_keys=True), encoding="utf-8")
        temporary.replace(folder / f"{key}.json")
    except OSError as exc:
        log.debug("cannot record the initialize answer: %s", exc)
