"""Synthesize: an answer written from the sources, every sentence citing one.

Extractive (the default): sentences chosen from the best sources by maximal marginal
relevance (Carbonell and Goldstein, 1998): each pick is the sentence most relevant to the
question and least like the sentences already picked. LLM: see ``lore.raise_.prompt``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lore.kb.types import ChunkRecord
from lore.raise_.text import content_words, sentences, stem, stems

MMR_LAMBDA = 0.7
RELEVANCE_FLOOR = 0.4


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


def extractive(
    question_terms: list[str], sources: list[Source], max_sentences: int
) -> list[Picked]:
    """The sentences of an extractive answer, in the order they were picked."""
    wanted = {stem(t) for t in question_terms}
    candidates: list[tuple[str, int, set[str], float]] = []
    for source in sources:
        heading_stems = stems(" ".join(source.chunk.heading_path))
        prior = 1.0 / (1 + 0.3 * (source.number - 1))  # better sources first, gently
        for text, _line in sentences(source.chunk.text):
            words = stems(text)
            if not words:
                continue
            overlap = len(words & wanted) + 0.5 * len(heading_stems & wanted)
            relevance = prior * overlap / (len(wanted) or 1)
            candidates.append((text, source.number, words, relevance))
    # Sentences far less relevant than the best one only dilute the answer.
    floor = RELEVANCE_FLOOR * max((c[3] for c in candidates), default=0.0)
    candidates = [c for c in candidates if c[3] >= floor]
    picked: list[Picked] = []
    chosen_words: list[set[str]] = []
    while candidates and len(picked) < max_sentences:
        best_index, best_value = -1, 0.0
        for index, (_text, _n, words, relevance) in enumerate(candidates):
            redundancy = max((_jaccard(words, c) for c in chosen_words), default=0.0)
            value = MMR_LAMBDA * relevance - (1 - MMR_LAMBDA) * redundancy
            if relevance > 0 and value > best_value:
                best_index, best_value = index, value
        if best_index < 0:
            break
        text, number, words, relevance = candidates.pop(best_index)
        picked.append(Picked(text, number, relevance))
        chosen_words.append(words)
    # Read in source order: sentences of one source stay together, as written.
    order = {id(p): i for i, p in enumerate(picked)}
    return sorted(picked, key=lambda p: (p.source, order[id(p)]))


def render_extractive(picked: list[Picked]) -> str:
    return " ".join(f"{p.text} [{p.source}]" for p in picked)


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
