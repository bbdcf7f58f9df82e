"""The extractive provider: answers are sentences chosen from the sources, no model."""

from __future__ import annotations

from lore.raise_.synthesize import Picked, Source, extractive, render_extractive

NAME = "extractive"


def answer(question_terms: list[str], sources: list[Source], max_sentences: int) -> str:
    picked: list[Picked] = extractive(question_terms, sources, max_sentences)
    return render_extractive(picked)
