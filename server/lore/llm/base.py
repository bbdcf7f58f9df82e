"""What every answer provider shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

TokenCallback = Callable[[str], None]
CancelCheck = Callable[[], bool]


class ProviderError(Exception):
    """Every endpoint failed; the answer falls back to extractive and is marked degraded."""


class Cancelled(Exception):
    """The request was cancelled while the answer was being written."""


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    model: str
    endpoint: str
    prompt_tokens: int | None
    completion_tokens: int | None
    usage_reported: bool = True
    """False when the server sent no usage and the token counts are Lore's estimates."""


def approximate_tokens(text: str) -> int:
    """Tokens in ``text``, estimated on the safe side (about three bytes a token): a prompt
    budgeted with it fits the context of the common tokenizers."""
    return len(text.encode("utf-8")) // 3 + 1
