"""Retrieval quality on SciFact dev: nDCG@10 and Recall@100 for Lore's modes and plain BM25,
and how RAISE answers the same claims: is the first citation relevant, how often it declines.

Each abstract becomes a Markdown page `# title` + text, indexed by the real KnowledgeBase.
Chunk hits are mapped to their document; a document ranks by its best chunk.
The baseline is tantivy-py BM25 with the `en_stem` tokenizer over title + text, the published
0.666 setup.
"""

from __future__ import annotations

import math
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import tantivy

from bench.data import WORK, scifact
from lore.config import load_settings
from lore.kb.knowledge_base import KnowledgeBase
from lore.kb.lookup import Library
from lore.raise_.act import Reranker
from lore.raise_.pipeline import Pipeline


def ndcg_at(ranked: list[str], relevant: dict[str, int], k: int = 10) -> float:
    dcg = sum(relevant.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(rel / math.log2(i + 2) for i, rel in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: list[str], relevant: dict[str, int], k: int = 100) -> float:
    wanted = {d for d, r in relevant.items() if r > 0}
    return len(wanted & set(ranked[:k])) / len(wanted) if wanted else 0.0


def _documents(hits, k: int) -> list[str]:
    seen: list[str] = []
    for hit in hits:
        doc = Path(hit.chunk.path).stem
        if doc not in seen:
            seen.append(doc)
        if len(seen) >= k:
            break
    return seen


def build_corpus(root: Path) -> None:
    corpus, _, _ = scifact()
    if root.is_dir() and len(list(root.glob("*.md"))) == len(corpus):
        return
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    for doc in corpus:
        title = " ".join(doc["title"].split())
        (root / f"{doc['_id'] if '_id' in doc else doc['id']}.md").write_text(
            f"# {title}\n\n{doc['text']}\n", encoding="utf-8"
        )


def tantivy_baseline(queries: list[dict]) -> dict[str, list[str]]:
    corpus, _, _ = scifact()
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("body", tokenizer_name="en_stem")
    index = tantivy.Index(builder.build())
    writer = index.writer()
    for doc in corpus:
        d = tantivy.Document()
        d.add_text("id", str(doc.get("_id", doc.get("id"))))
        d.add_text("body", f"{doc['title']} {doc['text']}")
        writer.add_document(d)
    writer.commit()
    index.reload()
    searcher = index.searcher()
    from lore.kb.fulltext import query_words

    out = {}
    for q in queries:
        words = query_words(q["text"])
        if not words:
            out[q["_id"] if "_id" in q else q["id"]] = []
            continue
        query = index.parse_query(" ".join(words), ["body"])
        hits = searcher.search(query, 100).hits
        out[q.get("_id", q.get("id"))] = [searcher.doc(a)["id"][0] for _, a in hits]
    return out


def evaluate_scifact(workdir: Path = WORK / "scifact") -> dict[str, dict[str, float]]:
    """nDCG@10, Recall@100 and query p50 for hybrid, bm25, vector and the tantivy baseline."""
    _, queries, qrels = scifact()
    queries = [q for q in queries if str(q.get("_id", q.get("id"))) in qrels]
    root = workdir / "corpus"
    build_corpus(root)
    settings = load_settings(root)
    with KnowledgeBase.open(root, settings) as kb:
        kb.index()
        started = time.perf_counter()
        embedding = kb.embed_sections()  # the whole store, as the background job leaves it
        embedding_s = time.perf_counter() - started
        library = Library([kb])

        def reranked(query: str, k: int) -> list:
            """Search as an answer's leading query sees it: the best pages reranked."""
            results = kb.search(query, k)
            head = settings.semantic.candidates
            rerank = Reranker(library, query, settings.semantic.weight, head)
            return rerank(results[:head])[0] + results[head:]

        modes: dict[str, Callable] = {
            "lore hybrid": kb.search,
            "lore reranked (answers)": reranked,
            "lore bm25 only": kb.search_bm25,
            "lore vectors only": kb.search_vector,
        }
        results: dict[str, dict[str, float]] = {}
        for name, search in modes.items():
            ndcgs, recalls, times = [], [], []
            for q in queries:
                qid = str(q.get("_id", q.get("id")))
                started = time.perf_counter()
                hits = search(q["text"], 100)
                times.append((time.perf_counter() - started) * 1000)
                ranked = _documents(hits, 100)
                ndcgs.append(ndcg_at(ranked, qrels[qid]))
                recalls.append(recall_at(ranked, qrels[qid]))
            results[name] = {
                "ndcg@10": round(statistics.fmean(ndcgs), 4),
                "recall@100": round(statistics.fmean(recalls), 4),
                "query_p50_ms": round(statistics.median(times), 2),
            }
        answers = answer_quality(kb, queries, qrels)
    baseline = tantivy_baseline(queries)
    ndcgs = [
        ndcg_at(baseline[str(q.get("_id", q.get("id")))], qrels[str(q.get("_id", q.get("id")))])
        for q in queries
    ]
    recalls = [
        recall_at(baseline[str(q.get("_id", q.get("id")))], qrels[str(q.get("_id", q.get("id")))])
        for q in queries
    ]
    results["tantivy BM25 baseline"] = {
        "ndcg@10": round(statistics.fmean(ndcgs), 4),
        "recall@100": round(statistics.fmean(recalls), 4),
    }
    results["queries"] = {"count": len(queries)}
    results["answers"] = answers
    results["embedding"] = {"sections": embedding.total, "seconds": round(embedding_s, 1)}
    return results


def answer_quality(
    kb: KnowledgeBase, queries: list[dict], qrels: dict[str, dict[str, int]]
) -> dict[str, float]:
    """Each claim asked through RAISE (extractive): the first citation, declines, latency."""
    pipeline = Pipeline()
    library = Library([kb])
    first_relevant = answered_first_relevant = answered = 0
    times = []
    for q in queries:
        relevant = {d for d, r in qrels[str(q.get("_id", q.get("id")))].items() if r > 0}
        started = time.perf_counter()
        answer = pipeline.answer(library, q["text"], kb.settings)
        times.append((time.perf_counter() - started) * 1000)
        citations = answer.citations()
        hit = bool(citations) and Path(citations[0]["path"]).stem in relevant
        first_relevant += hit
        if not answer.declined:
            answered += 1
            answered_first_relevant += hit
    return {
        "first_citation_relevant": round(first_relevant / len(queries), 4),
        "first_citation_relevant_when_answered": round(
            answered_first_relevant / max(1, answered), 4
        ),
        "declined": round(1 - answered / len(queries), 4),
        "answer_p50_ms": round(statistics.median(times), 2),
    }


if __name__ == "__main__":
    for mode, figures in evaluate_scifact().items():
        print(f"{mode:24} {figures}")
