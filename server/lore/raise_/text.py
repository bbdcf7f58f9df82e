"""Word handling shared by the stages: content words, light stemming, sentences."""

from __future__ import annotations

import re

from lore._native import split_identifier

STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers how i if in into is it its itself just me more most my
    no nor not now of off on once only or other our out over own same she should so some such
    than that the their them then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your yours
    please tell explain describe lore know docs documentation actually really just though even
    still ever anything something thing things get gets got getting want wants wanted need
    needs way ways im ive dont doesnt cant isnt""".split()
)

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9`*\"'(\[])")
_MARKUP = re.compile(r"^\s*(?:#{1,6}\s+|[-*+]\s+|\d+[.)]\s+|>\s*|:\s+)")
_RST_ADORNMENT = re.compile(r"^\s*([=\-~^\"'`#*+:.])\1{2,}\s*$")


def stem(word: str) -> str:
    """A crude stem (enough to match ``settles``/``settlement``/``settled``): the first six
    letters of longer words, plural ``s`` dropped from short ones."""
    word = word.lower()
    if len(word) > 6:
        return word[:6]
    return word[:-1] if len(word) > 3 and word.endswith("s") else word


def content_words(text: str) -> list[str]:
    """Lower-cased words that carry meaning, identifiers split into their parts."""
    return [w for w in split_identifier(text) if len(w) > 1 and w not in STOPWORDS]


def stems(text: str) -> set[str]:
    return {stem(w) for w in content_words(text)}


def sentences(text: str) -> list[tuple[str, int]]:
    """Prose sentences of a chunk with the line offset (from 0) where each starts.

    Headings, code blocks and rst adornments are left out: an answer quotes prose.
    """
    out: list[tuple[str, int]] = []
    block: list[str] = []
    block_start = 0
    in_code = False

    def flush() -> None:
        if block:
            joined = " ".join(block)
            for part in _SENTENCE_END.split(joined):
                part = part.strip()
                if len(part) >= 12 and any(c.isalpha() for c in part):
                    out.append((part, block_start))
        block.clear()

    lines = text.splitlines()
    for number, raw in enumerate(lines):
        line = raw.rstrip()
        if line.lstrip().startswith(("```", "~~~")):
            flush()
            in_code = not in_code
            continue
        nxt = lines[number + 1] if number + 1 < len(lines) else ""
        is_heading = line.lstrip().startswith("#") or (line.strip() and _RST_ADORNMENT.match(nxt))
        if in_code or not line.strip() or is_heading or _RST_ADORNMENT.match(line):
            flush()
            continue
        if raw.startswith("    ") and not block:  # indented code (not a continuation line)
            continue
        cleaned = _MARKUP.sub("", line).strip()
        if _MARKUP.match(line) and block:
            flush()  # a new list item starts a new sentence group
        if not block:
            block_start = number
        block.append(cleaned)
    flush()
    return out
