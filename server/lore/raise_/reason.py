"""Reason: what kind of question this is, its key terms, and the searches to run."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lore.raise_.text import STOPWORDS, content_words

INTENTS: dict[str, tuple[str, ...]] = {
    "troubleshooting": (
        "error",
        "errors",
        "failed",
        "failure",
        "failing",
        "fails",
        "broken",
        "crash",
        "outage",
        "down",
        "fix",
        "debug",
        "not working",
        "timeout",
        "exception",
        "alert",
        "incident",
        "503",
        "500",
    ),
    "how-to": (
        "how do",
        "how to",
        "how can",
        "steps",
        "configure",
        "set up",
        "setup",
        "install",
        "enable",
        "create",
        "run",
        "use ",
    ),
    "why": ("why", "reason", "rationale", "motivation", "decided", "decision"),
    "definition": (
        "what is",
        "what are",
        "what's",
        "define",
        "definition",
        "meaning of",
        "means",
        "stand for",
    ),
}

_QUOTED = re.compile(r"[\"“”'`]([^\"“”'`]{2,80})[\"“”'`]")
# dotted.names, snake_case, kebab-case, camelCase and PascalCase with an inner capital.
_CODEISH = re.compile(
    r"\b[A-Za-z_][A-Za-z0-9_]*(?:[._-][A-Za-z0-9_]+)+\b|\b[A-Za-z][a-z0-9]+[A-Z]\w*\b"
)


@dataclass(slots=True)
class Analysis:
    question: str
    intent: str
    key_terms: list[str]
    """Content words, identifiers split, stopwords out, in question order."""
    phrases: list[str]
    """Quoted phrases and identifiers as written: candidates for an exact term lookup."""
    complexity: str
    queries: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "intent": self.intent,
            "key_terms": self.key_terms,
            "phrases": self.phrases,
            "complexity": self.complexity,
            "queries": self.queries,
        }


def _has_cue(text: str, cue: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(cue.strip())}(?!\w)", text) is not None


def intent_of(question: str) -> str:
    lowered = question.lower()
    for intent in ("troubleshooting", "why", "how-to", "definition"):
        if any(_has_cue(lowered, cue) for cue in INTENTS[intent]):
            return intent
    words = content_words(question)
    return "definition" if 0 < len(words) <= 3 else "other"


def analyse(question: str) -> Analysis:
    """Read the question and plan its searches."""
    question = " ".join(question.split())
    key_terms = list(dict.fromkeys(content_words(question)))
    phrases = [m.group(1).strip() for m in _QUOTED.finditer(question)]
    phrases += [m.group(0) for m in _CODEISH.finditer(question) if m.group(0) not in phrases]
    intent = intent_of(question)
    clauses = [c for c in re.split(r"\band\b|[;,]", question) if content_words(c)]
    complexity = (
        "simple"
        if len(key_terms) <= 4 and len(clauses) <= 1
        else ("compound" if len(clauses) > 1 else "detailed")
    )
    queries = [question]
    if len(key_terms) > 1:
        queries.append(" ".join(key_terms))
    if complexity == "compound":
        queries.extend(c.strip() for c in clauses[:3])
    if intent == "definition" and key_terms:
        # "What is the settlement window?" is best answered by the term itself.
        subject = " ".join(w for w in key_terms if w not in STOPWORDS)
        queries.insert(0, subject)
    return Analysis(question, intent, key_terms, phrases, complexity, list(dict.fromkeys(queries)))
