"""The answer provider in force, rebuilt only when its settings change (no restart needed)."""

from __future__ import annotations

import threading
from pathlib import Path

from lore.config import LlmSettings
from lore.llm.openai import OpenAIProvider
from lore.ops.audit import AuditLog

AUDIT_FILE = Path("audit") / "llm.jsonl"


class Providers:
    def __init__(self, audit_dir: Path | None = None) -> None:
        self._audit_dir = audit_dir
        self._settings: LlmSettings | None = None
        self._openai: OpenAIProvider | None = None
        self._audit: AuditLog | None = None
        self._lock = threading.Lock()

    def configure(self, settings: LlmSettings, audit_dir: Path | None = None) -> None:
        """Switch to ``settings``: a new model or endpoint takes effect on the next answer."""
        with self._lock:
            if audit_dir is not None:
                self._audit_dir = audit_dir
            if settings == self._settings:
                return
            if self._openai is not None:
                self._openai.close()
                self._openai = None
            if self._audit is not None:
                self._audit.close()
                self._audit = None
            self._settings = settings
            if settings.provider == "openai" and settings.endpoints:
                if self._audit_dir is not None:
                    self._audit = AuditLog(
                        self._audit_dir / AUDIT_FILE, include_prompts=settings.audit_prompts
                    )
                self._openai = OpenAIProvider(settings, self._audit)

    @property
    def llm(self) -> OpenAIProvider | None:
        """The LLM provider, or None when answers are extractive."""
        return self._openai

    def status(self) -> dict:
        if self._openai is None:
            return {"provider": "extractive"}
        return self._openai.status()

    def close(self) -> None:
        with self._lock:
            if self._openai is not None:
                self._openai.close()
            if self._audit is not None:
                self._audit.close()
