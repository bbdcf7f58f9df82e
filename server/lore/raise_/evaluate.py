"""Evaluate: is the answer supported by its sources, and should Lore stand behind it?

``confidence`` is the probability that the knowledge base answers the question, from a logistic
model over four pieces of evidence:

- ``answer_coverage``: how much of the question the answer's best sentence holds (with the
  heading of the section it cites), each key term weighted by its rarity in the knowledge base
  (inverse document frequency). A question about "SnapStart" whose sources hold every word but
  that one is not answered.
- ``phrase_coverage``: how many of the question's neighbouring key-term pairs ("Serverless v2",
  "App Runner") stand side by side in the cited sources: questions about features the docs
  predate match every word, but not the pair.
- ``retrieval_confidence``: how well the best sources cover the question (``iterate``).
- ``similarity``: the cosine between the question's and the best source's section embeddings
  (``lore.kb.semantic``); while that section is not embedded yet, the mean of the questions the
  model was fitted on stands in.

The model was fitted on questions with known answers (see ``docs/answers.md``); Lore declines
when ``confidence`` is below ``raise.decline_below``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from lore.raise_.synthesize import Source, cited_sentences
from lore.raise_.text import content_words, stem, stems

DECLINE = "The knowledge base does not say"

# The logistic model of `confidence`, fitted by `python -m bench.calibrate` on the AWS docs dev
# questions (5-fold cross-validated there); four inputs and an intercept, too few to learn the
# questions themselves.
CALIBRATION = {
    "intercept": -4.208,
    "answer_coverage": 1.859,
    "phrase_coverage": 2.718,
    "retrieval_confidence": 2.067,
    "similarity": 3.804,
}
SIMILARITY_WHEN_MISSING = 0.571


@dataclass(slots=True)
class Evaluation:
    retrieval_confidence: float
    coverage: float
    """Share of the question's key terms, weighted by rarity, found in the cited sources."""
    answer_coverage: float
    """The same share for the answer sentence that holds most of the question."""
    phrase_coverage: float
    """Share of the question's neighbouring key-term pairs ("Serverless v2", "App Runner")
    that stand side by side in the cited sources, weighted by rarity."""
    similarity: float | None
    """Cosine of the question and the best source's section; None when not embedded yet."""
    citation_support: float
    """Share of cited sentences whose words stand in the source they cite."""
    groundedness: float
    """Share of the answer's content words found in the sources."""
    confidence: float
    """Calibrated probability that the knowledge base answers the question."""
    declined: bool
    reason: str

    def to_json(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def supported(sentence: str, source_text: str, threshold: float = 0.6) -> bool:
    words = stems(sentence)
    return bool(words) and len(words & stems(source_text)) / len(words) >= threshold


def calibrated(evidence: Mapping[str, float]) -> float:
    """The model's probability for ``evidence`` (a value for each input of ``CALIBRATION``)."""
    z = CALIBRATION["intercept"] + sum(
        weight * evidence[name] for name, weight in CALIBRATION.items() if name != "intercept"
    )
    return 1 / (1 + math.exp(-z))


def weighted_share(weights: Mapping[str, float], present: set[str]) -> float:
    whole = sum(weights.values())
    return sum(w for t, w in weights.items() if t in present) / whole if whole else 0.0


def _pairs(words: list[str]) -> set[tuple[str, str]]:
    stemmed = [stem(w) for w in words]
    return set(zip(stemmed, stemmed[1:], strict=False))


def _phrase_coverage(
    key_terms: list[str], weights: Mapping[str, float], used: list[Source]
) -> float:
    wanted = {pair: min(weights[pair[0]], weights[pair[1]]) for pair in _pairs(key_terms)}
    if not wanted:
        return 1.0 if key_terms else 0.0
    present: set[tuple[str, str]] = set()
    for source in used:
        chunk = source.chunk
        present |= _pairs(content_words(f"{chunk.title} {' '.join(chunk.heading_path)}"))
        present |= _pairs(content_words(chunk.text))
    whole = sum(wanted.values())
    return sum(w for pair, w in wanted.items() if pair in present) / whole if whole else 0.0


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
    similarity: float | None = None,
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
    phrase_coverage = _phrase_coverage(key_terms, weights, used)
    answer_words = stems(answer)
    all_text = stems(" ".join(s.chunk.text for s in sources))
    groundedness = len(answer_words & all_text) / len(answer_words) if answer_words else 0.0
    evidence = {
        "answer_coverage": answer_coverage,
        "phrase_coverage": phrase_coverage,
        "retrieval_confidence": retrieval_confidence,
        "similarity": SIMILARITY_WHEN_MISSING if similarity is None else similarity,
    }
    confidence = calibrated(evidence) if claims else 0.0
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
        phrase_coverage,
        similarity,
        support,
        groundedness,
        round(confidence, 4),
        declined,
        reason,
    )
