"""Synthesize: an answer written from the sources, every sentence citing one.

Extractive (the default): sentences chosen from the best sources by maximal marginal
relevance (Carbonell and Goldstein, 1998): each pick is the sentence most relevant to the
question and least like the sentences already picked. LLM: see ``lore.raise_.prompt``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from lore.kb.types import ChunkRecord
from lore.raise_.text import content_words, sentences, stem, stems

MMR_LAMBDA = 0.7
RELEVANCE_FLOOR = 0.4
RANK_DISCOUNT = 0.15
"""How much less a sentence of the n-th source counts: 1 / (1 + discount × (n − 1))."""
LEAD_CHARS = 320
"""The first sentence of an answer keeps the sentences after it in its paragraph up to this
length."""


@dataclass(frozen=True, slots=True)
class Source:
    """A numbered source of an answer."""

    number: int
    chunk: ChunkRecord
    score: float


@dataclass(frozen=True, slots=True)
class Picked:
    text: str
    source: int
    relevance: float


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


_QUANTITY_WORDS = frozenset(
    "long many much maximum max minimum min limit limits quota quotas default largest longest "
    "biggest smallest size often frequently timeout retention period duration".split()
)
_NUMBER = re.compile(r"\d")


def asks_quantity(question_terms: list[str]) -> bool:
    """Whether the question asks for a number: a limit, a default, a duration, a size."""
    return any(t.lower() in _QUANTITY_WORDS for t in question_terms)


def extractive(
    question_terms: list[str], sources: list[Source], max_sentences: int
) -> list[Picked]:
    """The sentences of an extractive answer, the one that best answers the question first.

    A sentence's relevance is the share of the question's words it holds, each word weighted
    by its rarity among the candidate sentences (a local inverse document frequency): the
    sentence that holds "retention" and "period" answers a question about a queue's retention
    period; the ten that say "queue" do not. Words of the section's heading count half, and
    better-ranked sources a little more.
    """
    wanted = {stem(t) for t in question_terms}
    # (text, source, words, heading words, prior, paragraph): sentences of one paragraph share
    # their source and first line.
    rows: list[tuple[str, int, set[str], set[str], float, int]] = []
    for source in sources:
        heading_stems = stems(" ".join(source.chunk.heading_path)) & wanted
        prior = 1.0 / (1 + RANK_DISCOUNT * (source.number - 1))
        for text, line in sentences(source.chunk.text):
            words = stems(text)
            if words:
                rows.append((clean_text(text), source.number, words, heading_stems, prior, line))
    total = len(rows)
    frequency = {t: sum(t in row[2] for row in rows) for t in wanted}
    weight = {t: math.log(1 + total / (frequency[t] or 0.5)) for t in wanted}
    # A question that asks for a quantity ("how long", "the maximum") is answered by a number:
    # a sentence with one holds one more of the question's words.
    quantity = max(weight.values(), default=0.0) if asks_quantity(question_terms) else 0.0
    whole = (sum(weight.values()) + quantity) or 1.0
    candidates: list[tuple[int, set[str], float]] = []
    for index, (text, _number, words, heading_stems, prior, _line) in enumerate(rows):
        held = sum(weight[t] for t in words & wanted)
        if quantity and _NUMBER.search(text):
            held += quantity
        in_heading = sum(weight[t] for t in (heading_stems - words))
        relevance = prior * (held + 0.5 * in_heading) / whole
        candidates.append((index, words, relevance))
    # Sentences far less relevant than the best one only dilute the answer.
    floor = RELEVANCE_FLOOR * max((c[2] for c in candidates), default=0.0)
    candidates = [c for c in candidates if c[2] >= floor]
    picked: list[Picked] = []
    chosen_words: list[set[str]] = []
    while candidates and len(picked) < max_sentences:
        best_index, best_value = -1, 0.0
        for position, (_index, words, relevance) in enumerate(candidates):
            redundancy = max((_jaccard(words, c) for c in chosen_words), default=0.0)
            value = MMR_LAMBDA * relevance - (1 - MMR_LAMBDA) * redundancy
            if relevance > 0 and value > best_value:
                best_index, best_value = position, value
        if best_index < 0:
            break
        index, words, relevance = candidates.pop(best_index)
        text, number = rows[index][0], rows[index][1]
        if not picked:
            # The sentence that matches the question best often sets the scene and the next
            # one states the fact ("X does not come online at once. It takes a minute or
            # two."): the lead keeps the rest of a short paragraph.
            following = index + 1
            while (
                following < len(rows)
                and rows[following][1] == number
                and rows[following][5] == rows[index][5]
                and len(text) + len(rows[following][0]) < LEAD_CHARS
            ):
                text = f"{text} [{number}] {rows[following][0]}"  # each sentence cites
                words = words | rows[following][2]
                candidates = [c for c in candidates if c[0] != following]
                following += 1
        picked.append(Picked(text, number, relevance))
        chosen_words.append(words)
    return picked


def render_extractive(picked: list[Picked]) -> str:
    return " ".join(f"{p.text} [{p.source}]" for p in picked)


_ESCAPED = re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>|~])")
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def clean_text(text: str) -> str:
    """A sentence as a reader sees it: Markdown escapes undone, links and images reduced to
    their text, bold marks dropped; code spans kept as code, untouched."""
    out: list[str] = []
    position = 0
    for code in _CODE_SPAN.finditer(text):
        out.append(_clean_prose(text[position : code.start()]))
        out.append(code.group(0))
        position = code.end()
    out.append(_clean_prose(text[position:]))
    return "".join(out)


def _clean_prose(text: str) -> str:
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _EMPHASIS.sub(r"\2", text)
    return _ESCAPED.sub(r"\1", text)


_CITATION = re.compile(r"\[(\d+)\]")


def cited_sentences(answer: str) -> list[tuple[str, list[int]]]:
    """Each sentence of an answer with the source numbers it cites."""
    out = []
    for part in re.split(r"(?<=[.!?\]])\s+(?=[A-Z0-9])", answer.strip()):
        numbers = [int(n) for n in _CITATION.findall(part)]
        text = _CITATION.sub("", part).strip()
        if content_words(text):
            out.append((text, numbers))
    return out
