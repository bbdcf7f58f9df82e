"""Answer quality on the AWS docs questions (``../shared/bench/aws-dev``), beside plain BM25.

For each answerable question: is the gold page (or an ``also`` page) the first search result,
the first citation of the answer, any citation; does the answer hold the fact. For the
unanswerable and off-topic ones: is the answer declined. The baseline is plain tantivy BM25
over whole pages (title + text), built in the same run. The decline trade-off is traced by
sweeping the threshold on ``confidence``.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from pathlib import Path
from typing import Any

import tantivy

from bench.data import SHARED, WORK
from lore.config import Settings, load_settings
from lore.kb.fulltext import query_words
from lore.kb.knowledge_base import KnowledgeBase
from lore.kb.lookup import Library
from lore.ops.metrics import percentile
from lore.raise_.pipeline import Pipeline

QUESTIONS = SHARED / "aws-dev" / "questions.jsonl"
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>|~])")


def load_questions(path: Path = QUESTIONS) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def flat(text: str) -> str:
    """Text compared as a reader sees it: citations out, links reduced to their text, Markdown
    escapes undone, whitespace collapsed."""
    text = re.sub(r"\s*\[\d+\]", "", text)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return " ".join(_ESCAPE.sub(r"\1", text).split()).lower()


def holds_fact(answer: str, fact: str) -> bool:
    return flat(fact).rstrip(".") in flat(answer)


def page_baseline(
    corpus: Path, questions: list[dict[str, Any]]
) -> tuple[dict[str, list[str]], list[float]]:
    """Plain BM25 over whole pages (en_stem, title + text): page paths, best first, and the
    milliseconds of each search."""
    store = WORK / "aws-pages-bm25"
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("path", stored=True, tokenizer_name="raw")
    builder.add_text_field("body", tokenizer_name="en_stem")
    schema = builder.build()
    fresh = not (store / "meta.json").exists()
    store.mkdir(parents=True, exist_ok=True)
    index = tantivy.Index(schema, path=str(store), reuse=True)
    if fresh:
        writer = index.writer(heap_size=128 * 1024 * 1024, num_threads=1)
        for page in sorted(corpus.rglob("*.md")):
            doc = tantivy.Document()
            doc.add_text("path", f"{corpus.name}/{page.relative_to(corpus).as_posix()}")
            doc.add_text("body", page.read_text(encoding="utf-8", errors="replace"))
            writer.add_document(doc)
        writer.commit()
        writer.wait_merging_threads()
    index.reload()
    searcher = index.searcher()
    out, times = {}, []
    for q in questions:
        started = time.perf_counter()
        words = query_words(q["question"])
        hits = searcher.search(index.parse_query(" ".join(words), ["body"]), 10).hits
        times.append((time.perf_counter() - started) * 1000)
        out[q["id"]] = [searcher.doc(a)["path"][0] for _, a in hits]
    return out, times


def embed_candidates(
    library: Library, questions: list[dict[str, Any]], settings: Settings
) -> dict[str, float]:
    """Embed the sections that answering the questions looks at, as the background job would
    have done by the time it finished (embedding all 151,000 sections of the corpus takes hours
    of this machine's CPU). Reranking reads only these sections' vectors, so the answers are
    those of a complete store. The figures: sections embedded now, and how fast."""
    if not settings.semantic.enabled:
        return {}
    eager = settings.model_copy(
        update={"semantic": settings.semantic.model_copy(update={"embed_missing": 1000})}
    )
    (kb,) = library.bases
    before = kb.catalog.reader.execute("SELECT count(*) FROM unit_vectors").fetchone()[0]
    started = time.perf_counter()
    pipeline = Pipeline()
    for q in questions:
        pipeline.answer(library, q["question"], eager)
    seconds = time.perf_counter() - started
    after = kb.catalog.reader.execute("SELECT count(*) FROM unit_vectors").fetchone()[0]
    return {
        "sections_embedded": after - before,
        "sections_stored": after,
        "seconds": round(seconds, 1),
        "sections_per_s": round((after - before) / seconds, 1) if after > before else 0.0,
    }


def _milliseconds(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "p50": round(statistics.median(ordered), 2),
        "p95": round(percentile(ordered, 0.95), 2),
        "p99": round(percentile(ordered, 0.99), 2),
    }


def _declined_at(row: dict[str, Any], threshold: float) -> bool:
    return row["confidence"] < threshold or row["declined_anyway"]


def _right(path: str | None, q: dict[str, Any]) -> bool:
    return path is not None and (path == q["gold"] or path in q.get("also", []))


def evaluate_answers(
    corpus: Path,
    questions: list[dict[str, Any]] | None = None,
    overlay: dict[str, Any] | None = None,
) -> dict:
    """The aws-dev figures for Lore and for page-level BM25, plus per-question rows."""
    questions = questions or load_questions()
    settings = load_settings(corpus, overlay)
    prefix = corpus.name + "/"
    answerable = [q for q in questions if q["gold"]]
    unanswerable = [q for q in questions if not q["gold"]]
    rows = []
    search_times, ask_times = [], []
    with KnowledgeBase.open(corpus, settings) as kb:
        kb.index()
        library = Library([kb])
        embedding = embed_candidates(library, questions, settings)
        pipeline = Pipeline()
        for q in questions:  # warm the caches of the operating system and SQLite
            kb.search(q["question"], 10)
        for q in questions:
            started = time.perf_counter()
            results = kb.search(q["question"], 10)
            search_times.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            answer = pipeline.answer(library, q["question"], settings)
            ask_times.append((time.perf_counter() - started) * 1000)
            citations = [prefix + c["path"] for c in answer.citations()]
            # What the answer would have said had it not declined (for the calibration).
            first_source = prefix + answer.sources[0].chunk.path if answer.sources else None
            rows.append(
                {
                    "id": q["id"],
                    "kind": q["kind"],
                    "answerable": bool(q["gold"]),
                    "search_first": _right(prefix + results[0].chunk.path if results else None, q),
                    "first_citation": bool(citations) and _right(citations[0], q),
                    "any_citation": any(_right(c, q) for c in citations),
                    "fact": bool(q["gold"]) and holds_fact(answer.answer, q["answer"]),
                    "first_source": _right(first_source, q),
                    "declined": answer.declined,
                    "confidence": answer.confidence,
                    # Declined for a reason other than the threshold (nothing cited, unsupported).
                    "declined_anyway": answer.declined
                    and answer.confidence >= settings.raise_.decline_below,
                    "answer": answer.answer,
                    "evaluation": answer.evaluation.to_json(),
                }
            )
    baseline, baseline_times = page_baseline(corpus, questions)
    default = settings.raise_.decline_below
    by_id = {r["id"]: r for r in rows}
    n = len(answerable)

    def share(key: str, group: list[dict[str, Any]]) -> float:
        return round(sum(by_id[q["id"]][key] for q in group) / max(1, len(group)), 4)

    curve = []
    for threshold in sorted({step / 20 for step in range(21)} | {default}):
        curve.append(
            {
                "threshold": threshold,
                "default": abs(threshold - default) < 1e-9,
                "unanswerable_declined": round(
                    sum(_declined_at(by_id[q["id"]], threshold) for q in unanswerable)
                    / max(1, len(unanswerable)),
                    4,
                ),
                "answerable_declined": round(
                    sum(_declined_at(by_id[q["id"]], threshold) for q in answerable) / n, 4
                ),
            }
        )
    return {
        "questions": {"answerable": n, "unanswerable": len(unanswerable)},
        "embedding": embedding,
        "lore": {
            "search_gold_first": share("search_first", answerable),
            "first_citation_gold": share("first_citation", answerable),
            "any_citation_gold": share("any_citation", answerable),
            "answer_holds_fact": share("fact", answerable),
            "unanswerable_declined": share("declined", unanswerable),
            "answerable_declined": share("declined", answerable),
            "search_ms": _milliseconds(search_times),
            "ask_ms": _milliseconds(ask_times),
        },
        "bm25_pages": {
            "search_gold_first": round(
                sum(_right((baseline[q["id"]] or [None])[0], q) for q in answerable) / n, 4
            ),
            "search_ms": _milliseconds(baseline_times),
        },
        "curve": curve,
        "rows": rows,
    }


if __name__ == "__main__":
    import sys

    from bench.data import aws_docs

    # --no-decline: every answer is given, so that each one's evidence can be calibrated.
    no_decline = "--no-decline" in sys.argv
    overlay: dict[str, Any] = {"raise": {"decline_below": 0.0}} if no_decline else {}
    for arg in sys.argv[1:]:  # --set semantic.weight=1.0: a setting to try
        if arg.startswith("--set="):
            key, _, value = arg.removeprefix("--set=").partition("=")
            section, _, name = key.partition(".")
            overlay.setdefault(section, {})[name] = json.loads(value)
    figures = evaluate_answers(aws_docs(), overlay=overlay or None)
    out = WORK / ("answers-undeclined.json" if no_decline else "answers-last.json")
    out.write_text(json.dumps(figures, indent=1))
    print(json.dumps({k: v for k, v in figures.items() if k not in ("rows", "curve")}, indent=1))
