"""The audit log of LLM calls: one JSON line per call, rotated by size.

It records when, which endpoint and model, tokens, latency and outcome: enough to answer "what
did Lore send where, and what did it cost". The outcome names what happened (``ok``,
``cancelled``, ``timeout``, ``empty``, ``truncated``, ``redirect``, ``too_large``, ...). When
the server sends no usage, the token counts are Lore's estimates and ``usage`` says so. It never
records an API key, and records the prompt and the model's raw reply only when
``llm.audit_prompts`` asks for it (the reply too when the answer was later declined).
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 3


def redact_url(url: str) -> str:
    """The URL without user info or query string (where credentials sometimes hide)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class AuditLog:
    def __init__(self, path: Path, *, include_prompts: bool = False) -> None:
        self.path = path
        self.include_prompts = include_prompts
        self._lock = threading.Lock()
        self._handler: logging.handlers.RotatingFileHandler | None = None

    def _open(self) -> logging.handlers.RotatingFileHandler:
        if self._handler is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handler = logging.handlers.RotatingFileHandler(
                self.path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
            )
        return self._handler

    def record(
        self,
        *,
        endpoint: str,
        model: str,
        outcome: str,
        latency_ms: float,
        attempt: int,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        usage_reported: bool = True,
        messages: list[dict[str, str]] | None = None,
        reply: str | None = None,
        error: str | None = None,
    ) -> None:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "endpoint": redact_url(endpoint),
            "model": model,
            "outcome": outcome,
            "latency_ms": round(latency_ms, 1),
            "attempt": attempt,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "usage": "reported" if usage_reported else "estimated",
        }
        if error:
            entry["error"] = error
        if self.include_prompts and messages is not None:
            entry["messages"] = messages
        if self.include_prompts and reply:
            entry["reply"] = reply
        line = json.dumps(entry, ensure_ascii=False)
        with self._lock:
            handler = self._open()
            handler.emit(logging.makeLogRecord({"msg": line, "levelno": logging.INFO}))

    def close(self) -> None:
        with self._lock:
            if self._handler is not None:
                self._handler.close()
                self._handler = None
