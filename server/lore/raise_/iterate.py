"""Iterate: how sure the evidence makes us, and how to search again when it does not."""

from __future__ import annotations

from collections import Counter

from lore.raise_.act import Hit
from lore.raise_.text import STOPWORDS, content_words, stem, stems


def term_coverage(key_terms: list[str], text: str) -> float:
    """The share of key terms whose stem appears in ``text``."""
    if not key_terms:
        return 0.0
    present = stems(text)
    return sum(stem(t) in present for t in key_terms) / len(key_terms)


def confidence(key_terms: list[str], hits: list[Hit]) -> tuple[float, dict[str, float]]:
    """Confidence in the evidence, from 0 to 1, with its parts.

    - ``best_coverage``: key terms found in the single best of the top three sources;
    - ``joint_coverage``: key terms found across the top five;
    - ``margin``: how far the best source stands above the fifth (a clear winner is a good
      sign; a flat ranking means the query matched many things weakly).
    """
    if not hits:
        return 0.0, {"best_coverage": 0.0, "joint_coverage": 0.0, "margin": 0.0}
    texts = [" ".join(h.chunk.heading_path) + " " + h.chunk.text for h in hits[:5]]
    best = max(term_coverage(key_terms, t) for t in texts[:3])
    joint = term_coverage(key_terms, " ".join(texts))
    scores = [h.score for h in hits[:5]]
    margin = (scores[0] - scores[-1]) / scores[0] if len(scores) > 1 and scores[0] > 0 else 1.0
    value = 0.55 * best + 0.3 * joint + 0.15 * min(1.0, margin * 2)
    return round(value, 4), {
        "best_coverage": round(best, 4),
        "joint_coverage": round(joint, 4),
        "margin": round(margin, 4),
    }


def feedback_query(key_terms: list[str], hits: list[Hit], extra: int = 4) -> str | None:
    """Pseudo-relevance feedback: the question's terms plus the words that stand out in the
    best sources. None when there is nothing to add."""
    counts: Counter[str] = Counter()
    known = {stem(t) for t in key_terms}
    for hit in hits[:3]:
        for word in content_words(" ".join(hit.chunk.heading_path) + " " + hit.chunk.text):
            if word not in STOPWORDS and stem(word) not in known and len(word) > 3:
                counts[word] += 1
    added = [w for w, n in counts.most_common(extra) if n > 1]
    return " ".join(key_terms + added) if added else None
