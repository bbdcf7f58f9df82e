"""Evaluate: is the answer supported by its sources, and should Lore stand behind it?"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from lore.raise_.synthesize import Source, cited_sentences
from lore.raise_.text import stems

DECLINE = "The knowledge base does not say"


@dataclass(slots=True)
class Evaluation:
    retrieval_confidence: float
    coverage: float
    """Share of the question's key terms found in the cited sources."""
    citation_support: float
    """Share of cited sentences whose words stand in the source they cite."""
    groundedness: float
    """Share of the answer's content words found in the sources."""
    score: float
    declined: bool
    reason: str

    def to_json(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def supported(sentence: str, source_text: str, threshold: float = 0.6) -> bool:
    words = stems(sentence)
    return bool(words) and len(words & stems(source_text)) / len(words) >= threshold


def evaluate(
    answer: str,
    sources: list[Source],
    key_terms: list[str],
    retrieval_confidence: float,
    threshold: float,
) -> Evaluation:
    by_number = {s.number: s for s in sources}
    claims = cited_sentences(answer)
    cited = [(text, [by_number[n] for n in numbers if n in by_number]) for text, numbers in claims]
    support = (
        sum(any(supported(text, s.chunk.text) for s in srcs) for text, srcs in cited) / len(cited)
        if cited
        else 0.0
    )
    used = {s.number for _, srcs in cited for s in srcs} or set(by_number)
    cited_text = " ".join(
        " ".join(by_number[n].chunk.heading_path) + " " + by_number[n].chunk.text for n in used
    )
    coverage = (
        sum(t in stems(cited_text) for t in {w for w in stems(" ".join(key_terms))})
        / len(set(stems(" ".join(key_terms))))
        if key_terms
        else 0.0
    )
    answer_words = stems(answer)
    all_text = stems(" ".join(s.chunk.text for s in sources))
    groundedness = len(answer_words & all_text) / len(answer_words) if answer_words else 0.0
    score = 0.4 * retrieval_confidence + 0.25 * coverage + 0.2 * support + 0.15 * groundedness
    declined, reason = False, "supported by the sources"
    if not sources:
        declined, reason = True, "nothing in the knowledge base matches the question"
    elif not claims or answer.strip().startswith(DECLINE):
        declined, reason = True, "the sources do not answer the question"
    elif retrieval_confidence < threshold:
        declined, reason = (
            True,
            f"retrieval confidence {retrieval_confidence:.2f} is below {threshold:.2f}",
        )
    elif support < 0.5:
        declined, reason = True, "most cited sentences are not supported by their sources"
    return Evaluation(
        retrieval_confidence, coverage, support, groundedness, round(score, 4), declined, reason
    )
