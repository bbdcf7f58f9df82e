"""Evaluate: is the answer supported by its sources, and should Lore stand behind it?

``confidence`` is the probability that the answer holds what was asked, from a logistic model
over two pieces of evidence:

- ``coverage``: how much of the question the cited sources hold, each key term weighted by its
  rarity in the knowledge base (its inverse document frequency). A question about "SnapStart"
  that the sources answer in every word but that one is not answered.
- ``answer_coverage``: the same, for the single answer sentence that holds most of the question
  (with the heading of the section it cites). An answer whose best sentence is about something
  else does not answer.

The model was fitted on questions with known answers (see ``docs/answers.md``); Lore declines
when ``confidence`` is below ``raise.decline_below``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from lore.raise_.synthesize import Source, cited_sentences
from lore.raise_.text import stem, stems

DECLINE = "The knowledge base does not say"

# The logistic model of `confidence`, fitted by `python -m bench.calibrate` (cross-validated
# on the AWS docs dev questions); two inputs, three numbers, so it cannot learn the questions.
CALIBRATION = {"intercept": -9.0, "coverage": 6.0, "answer_coverage": 6.0}


@dataclass(slots=True)
class Evaluation:
    retrieval_confidence: float
    coverage: float
    """Share of the question's key terms, weighted by rarity, found in the cited sources."""
    answer_coverage: float
    """The same share for the answer sentence that holds most of the question."""
    citation_support: float
    """Share of cited sentences whose words stand in the source they cite."""
    groundedness: float
    """Share of the answer's content words found in the sources."""
    confidence: float
    """Calibrated probability that the answer holds what was asked."""
    declined: bool
    reason: str

    def to_json(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def supported(sentence: str, source_text: str, threshold: float = 0.6) -> bool:
    words = stems(sentence)
    return bool(words) and len(words & stems(source_text)) / len(words) >= threshold


def calibrated(coverage: float, answer_coverage: float) -> float:
    z = (
        CALIBRATION["intercept"]
        + CALIBRATION["coverage"] * coverage
        + CALIBRATION["answer_coverage"] * answer_coverage
    )
    return 1 / (1 + math.exp(-z))


def weighted_share(weights: Mapping[str, float], present: set[str]) -> float:
    whole = sum(weights.values())
    return sum(w for t, w in weights.items() if t in present) / whole if whole else 0.0


def _source_stems(source: Source) -> set[str]:
    chunk = source.chunk
    return stems(f"{chunk.title} {' '.join(chunk.heading_path)} {chunk.text}")


def evaluate(
    answer: str,
    sources: list[Source],
    key_terms: list[str],
    retrieval_confidence: float,
    rarity: Mapping[str, float],
    decline_below: float,
) -> Evaluation:
    """Judge ``answer``; ``rarity`` maps key terms to their inverse document frequency."""
    by_number = {s.number: s for s in sources}
    claims = cited_sentences(answer)
    cited = [(text, [by_number[n] for n in numbers if n in by_number]) for text, numbers in claims]
    support = (
        sum(any(supported(text, s.chunk.text) for s in srcs) for text, srcs in cited) / len(cited)
        if cited
        else 0.0
    )
    weights: dict[str, float] = {}
    for term in key_terms:
        key = stem(term)
        weights[key] = max(weights.get(key, 0.0), rarity.get(term, 1.0))
    used = [s for _, srcs in cited for s in srcs] or sources
    cited_stems = set().union(*(_source_stems(s) for s in used)) if used else set()
    coverage = weighted_share(weights, cited_stems)
    answer_coverage = max(
        (
            weighted_share(
                weights,
                stems(text) | set().union(*(stems(" ".join(s.chunk.heading_path)) for s in srcs)),
            )
            for text, srcs in cited
        ),
        default=0.0,
    )
    answer_words = stems(answer)
    all_text = stems(" ".join(s.chunk.text for s in sources))
    groundedness = len(answer_words & all_text) / len(answer_words) if answer_words else 0.0
    confidence = calibrated(coverage, answer_coverage) if claims else 0.0
    declined, reason = False, "supported by the sources"
    missing = sorted(
        {t for t in key_terms if stem(t) not in cited_stems}, key=lambda t: -weights[stem(t)]
    )
    if not sources:
        declined, reason = True, "nothing in the knowledge base matches the question"
    elif not claims or answer.strip().startswith(DECLINE):
        declined, reason = True, "the sources do not answer the question"
    elif support < 0.5:
        declined, reason = True, "most cited sentences are not supported by their sources"
    elif confidence < decline_below:
        declined = True
        reason = f"confidence {confidence:.2f} is below {decline_below:.2f}" + (
            f"; the sources do not mention {', '.join(missing[:3])}" if missing else ""
        )
    return Evaluation(
        retrieval_confidence,
        coverage,
        answer_coverage,
        support,
        groundedness,
        round(confidence, 4),
        declined,
        reason,
    )
