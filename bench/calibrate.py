"""Fit the logistic model behind an answer's ``confidence`` (``lore.raise_.evaluate``).

`python -m bench.calibrate` reads the last aws-dev run with declining turned off
(bench/.work/answers-undeclined.json, written by `python -m bench.answers --no-decline`), where
each question has the answer's evidence and whether the docs answer it. It prints the fitted
coefficients and the 5-fold cross-validated decline rates, so the figures say how the model does
on questions it was not fitted on.
"""

from __future__ import annotations

import json
import math
import random

from bench.data import WORK

FEATURES = ("answer_coverage", "phrase_coverage", "retrieval_confidence", "similarity")


def fit(rows: list[tuple[list[float], int]], l2: float = 0.001, steps: int = 4000) -> list[float]:
    """Logistic regression by gradient descent, with a little L2 on the weights."""
    weights = [0.0] * (len(rows[0][0]) + 1)
    rate = 0.5
    for _ in range(steps):
        grad = [0.0] * len(weights)
        for x, y in rows:
            p = predict(weights, x)
            for i, value in enumerate([1.0, *x]):
                grad[i] += (p - y) * value
        for i in range(len(weights)):
            penalty = l2 * weights[i] if i else 0.0
            weights[i] -= rate * (grad[i] / len(rows) + penalty)
    return weights


def predict(weights: list[float], x: list[float]) -> float:
    z = weights[0] + sum(w * v for w, v in zip(weights[1:], x, strict=True))
    return 1 / (1 + math.exp(-max(-30.0, min(30.0, z))))


def examples(run: dict) -> list[tuple[list[float], int, bool]]:
    out = []
    known = [r["evaluation"]["similarity"] for r in run["rows"]]
    known = [v for v in known if v is not None]
    fill = {"similarity": round(sum(known) / len(known), 3) if known else 0.0}
    print("similarity when missing (the mean):", fill["similarity"])
    for row in run["rows"]:
        evaluation = row["evaluation"]
        x = [float(fill[f] if evaluation.get(f) is None else evaluation[f]) for f in FEATURES]
        out.append((x, int(row["answerable"]), row["answerable"]))
    return out


def cross_validated(data: list[tuple[list[float], int, bool]], folds: int = 5) -> list[float]:
    """Each example's probability from a model fitted without its fold."""
    order = list(range(len(data)))
    random.Random(7).shuffle(order)
    probability = [0.0] * len(data)
    for fold in range(folds):
        held = set(order[fold::folds])
        weights = fit([(x, y) for i, (x, y, _) in enumerate(data) if i not in held])
        for i in held:
            probability[i] = predict(weights, data[i][0])
    return probability


def main() -> None:
    run = json.loads((WORK / "answers-undeclined.json").read_text())
    data = examples(run)
    weights = fit([(x, y) for x, y, _ in data])
    print(
        "coefficients:",
        dict(zip(("intercept", *FEATURES), (round(w, 3) for w in weights), strict=True)),
    )
    probability = cross_validated(data)
    answerable = [p for p, (_, _, a) in zip(probability, data, strict=True) if a]
    unanswerable = [p for p, (_, _, a) in zip(probability, data, strict=True) if not a]
    print("threshold  unanswerable declined  answerable declined (5-fold cross-validated)")
    for step in range(1, 20):
        t = step / 20
        u = sum(p < t for p in unanswerable) / len(unanswerable)
        a = sum(p < t for p in answerable) / len(answerable)
        print(f"{t:9.2f}  {u:21.3f}  {a:19.3f}")
    print("confidence  questions  the docs answer it (5-fold cross-validated)")
    for low, high in ((0.0, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.01)):
        group = [a for p, (_, _, a) in zip(probability, data, strict=True) if low <= p < high]
        share = sum(group) / len(group) if group else 0.0
        print(f"{low:.1f}-{min(high, 1.0):.1f}  {len(group):9d}  {share:18.2f}")


if __name__ == "__main__":
    main()
