"""The RAISE pipeline: Reason → Act → Iterate → Synthesize → Evaluate, with a trace.

The answer cache works at two levels. A whole answer is kept under the normalised question,
the provider, the settings that shape an answer and the index generation, so asking again
before anything is re-indexed costs a lookup. After a commit that key misses; retrieval runs
again and the synthesis (the slow part with an LLM) is looked up under the retrieved chunks'
hashes instead, so it is reused if the sources are the same and never served stale if any
source changed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from lore._native import ResponseCache
from lore.config import Settings
from lore.kb.lookup import Library
from lore.kb.types import ChunkRecord
from lore.llm import extractive as extractive_provider
from lore.llm.base import Cancelled, ProviderError
from lore.llm.registry import Providers
from lore.raise_ import act, iterate, reason
from lore.raise_.evaluate import DECLINE, Evaluation, evaluate
from lore.raise_.prompt import PROMPT_VERSION, ContextTooSmall, build_messages, ground
from lore.raise_.synthesize import Source
from lore.raise_.trace import Trace

Progress = Callable[[str], None]


@dataclass(slots=True)
class Answer:
    question: str
    answer: str
    sources: list[Source]
    confidence: float
    evaluation: Evaluation
    provider: str
    degraded: bool = False
    degraded_reason: str | None = None
    cached: bool = False
    trace: list[dict[str, Any]] | None = None
    cited: list[int] = field(default_factory=list)
    related: list[Source] = field(default_factory=list)
    """When declined: the closest pages, one source each, offered to read rather than as an
    answer."""

    @property
    def declined(self) -> bool:
        return self.evaluation.declined

    def citations(self) -> list[dict[str, Any]]:
        """The sources the answer cites, numbered in order of first use (1..n, no gaps)."""
        if self.declined:
            return []
        return [_place(s) for s in self.sources if s.number in self.cited]

    def related_pages(self) -> list[dict[str, Any]]:
        """What a declined answer offers instead: the closest pages, to read."""
        return [_place(s) for s in self.related]

    def to_json(self, *, trace: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "answer": self.answer,
            "citations": self.citations(),
            "related": self.related_pages(),
            "declined": self.declined,
            "confidence": self.confidence,
            "evaluation": self.evaluation.to_json(),
            "provider": self.provider,
            "degraded": self.degraded,
        }
        if self.degraded_reason:
            data["degraded_reason"] = self.degraded_reason
        if trace and self.trace is not None:
            data["trace"] = self.trace
        return data


def _place(source: Source) -> dict[str, Any]:
    chunk = source.chunk
    return {
        "n": source.number,
        "path": chunk.path,
        "abs_path": chunk.abs_path,
        "title": chunk.title,
        "heading": " › ".join(chunk.heading_path) or chunk.title,
        "start_line": chunk.start_line,
        "end_line": chunk.end_line,
        "score": round(source.score, 4),
    }


def renumber(text: str, sources: list[Source]) -> tuple[str, list[Source], list[int]]:
    """Number the citations of ``text`` in order of first use, 1..n with no gaps.

    Returns the new text, the sources renumbered (the cited ones first, in that order, then the
    rest), and the old numbers in their new order, so that a cached answer can be replayed.
    """
    known = {s.number: s for s in sources}
    order = list(dict.fromkeys(n for n in _citation_numbers(text) if n in known))
    order += [s.number for s in sources if s.number not in order]
    new_number = {old: new for new, old in enumerate(order, start=1)}
    text = re.sub(
        r"\[(\d+)\]",
        lambda m: f"[{new_number[int(m.group(1))]}]" if int(m.group(1)) in known else m.group(0),
        text,
    )
    return text, reorder(sources, order), order


def reorder(sources: list[Source], order: list[int]) -> list[Source]:
    known = {s.number: s for s in sources}
    return [
        Source(new, known[old].chunk, known[old].score)
        for new, old in enumerate((n for n in order if n in known), start=1)
    ]


def related(hits: list[Source], limit: int = 3) -> list[Source]:
    """The best source of each of the first ``limit`` pages."""
    pages: dict[str, Source] = {}
    for source in hits:
        pages.setdefault(source.chunk.abs_path, source)
        if len(pages) >= limit:
            break
    return [Source(n, s.chunk, s.score) for n, s in enumerate(pages.values(), start=1)]


class Pipeline:
    """Answers questions from a library of knowledge bases."""

    def __init__(self, providers: Providers | None = None, cache: ResponseCache | None = None):
        self.providers = providers or Providers()
        self.cache = cache or ResponseCache(16 * 1024 * 1024, 3600.0)

    def answer(
        self,
        library: Library,
        question: str,
        settings: Settings,
        *,
        cancelled: Callable[[], bool] | None = None,
        on_progress: Progress | None = None,
        on_token: Callable[[str], None] | None = None,
    ) -> Answer:
        stop = cancelled or (lambda: False)
        notify = on_progress or (lambda _m: None)
        trace = Trace()
        config = settings.raise_

        def check() -> None:
            if stop():
                raise Cancelled()

        llm = self.providers.llm if settings.llm.provider == "openai" else None
        provider = llm.name if llm is not None else extractive_provider.NAME
        whole_key = _answer_key(question, provider, settings, library.generation)
        stored = self.cache.get(whole_key)
        if stored is not None:
            trace.record("cache", generation=library.generation, hit=True)
            return _answer_from_cache(question, json.loads(stored), trace)

        # Reason
        notify("reasoning")
        analysis = reason.analyse(question)
        trace.record("reason", **analysis.to_json())
        check()

        # Act
        notify("searching")
        evidence = act.Evidence()
        semantic = settings.semantic
        reranker = (
            act.Reranker(
                library,
                question,
                semantic.weight,
                semantic.candidates,
                embed_missing=semantic.embed_missing,
            )
            if semantic.enabled
            else None
        )
        reranked = act.search(
            library, evidence, analysis.queries, k=config.max_sources * 2, rerank=reranker
        )
        terms_found = act.lookup_terms(library, evidence, analysis.phrases)
        neighbours = act.read_neighbours(library, evidence)
        hits = evidence.ranked()
        trace.record(
            "act",
            queries=analysis.queries,
            hits=len(hits),
            term_lookups=terms_found,
            neighbours=neighbours,
            reranked=reranked,
            top=[f"{h.chunk.path}:{h.chunk.start_line}" for h in hits[:5]],
        )
        check()

        # Iterate
        confidence, parts = iterate.confidence(analysis.key_terms, hits)
        rounds = 0
        while confidence < config.confidence_threshold and rounds < config.max_rounds:
            query = iterate.feedback_query(analysis.key_terms, hits)
            if query is None or query in analysis.queries:
                break
            rounds += 1
            analysis.queries.append(query)
            act.search(library, evidence, [query], k=config.max_sources * 2, follow_up=True)
            hits = evidence.ranked()
            confidence, parts = iterate.confidence(analysis.key_terms, hits)
            trace.record("iterate", round=rounds, query=query, confidence=confidence, **parts)
            check()
        trace.record("iterate", rounds=rounds, confidence=confidence, **parts)

        sources = [
            Source(n, hit.chunk, hit.score)
            for n, hit in enumerate(hits[: config.max_sources], start=1)
        ]

        # Synthesize (through the cache)
        key = _synthesis_key(question, sources, provider, config.decline_below)
        cached = self.cache.get(key)
        if cached is not None:
            data = json.loads(cached)
            trace.record("synthesize", provider=data["provider"], cached=True)
            evaluation = Evaluation(**data["evaluation"])
            trace.record("evaluate", **evaluation.to_json())
            result = Answer(
                question,
                data["answer"],
                reorder(sources, data["order"]),
                evaluation.confidence,
                evaluation,
                data["provider"],
                cached=True,
                trace=trace.to_json(),
                cited=data["cited"],
                related=related(sources) if evaluation.declined else [],
            )
            self.cache.put(whole_key, _answer_to_cache(result))
            return result

        notify("writing the answer")
        degraded_reason = None
        text = ""
        if llm is not None and sources:
            text, provider, degraded_reason = self._write_with_llm(
                llm, question, sources, settings, trace, stop, on_token
            )
            if degraded_reason is not None:
                provider = extractive_provider.NAME
        if not text and sources and (llm is None or degraded_reason):
            text = extractive_provider.answer(analysis.key_terms, sources, config.max_sentences)
        trace.record(
            "synthesize",
            provider=provider,
            degraded=bool(degraded_reason),
            degraded_reason=degraded_reason,
            chars=len(text),
        )
        check()

        # Evaluate
        notify("checking the answer")
        best_similarity = hits[0].semantic if hits else None
        text, sources, order = renumber(text, sources)
        evaluation = evaluate(
            text,
            sources,
            analysis.key_terms,
            confidence,
            library.rarity(analysis.key_terms),
            config.decline_below,
            similarity=best_similarity,
        )
        trace.record("evaluate", **evaluation.to_json())
        cited = sorted({n for n in _citation_numbers(text)} & {s.number for s in sources})
        closest: list[Source] = []
        if evaluation.declined:
            text = f"{DECLINE} ({evaluation.reason})."
            cited = []
            closest = related(sources)
        result = Answer(
            question,
            text,
            sources,
            evaluation.confidence,
            evaluation,
            provider,
            degraded=degraded_reason is not None,
            degraded_reason=degraded_reason,
            trace=trace.to_json(),
            cited=cited,
            related=closest,
        )
        # A degraded answer is not kept: the LLM may be back soon, and a failure is no answer.
        if degraded_reason is None:
            payload = {
                "answer": text,
                "provider": provider,
                "evaluation": evaluation.to_json(),
                "cited": cited,
                "order": order,
            }
            self.cache.put(key, json.dumps(payload).encode())
            self.cache.put(whole_key, _answer_to_cache(result))
        return result

    @staticmethod
    def _write_with_llm(
        llm: Any,
        question: str,
        sources: list[Source],
        settings: Settings,
        trace: Trace,
        stop: Callable[[], bool],
        on_token: Callable[[str], None] | None,
    ) -> tuple[str, str, str | None]:
        """The LLM's answer, its provider, and why it could not be used (None when it could).

        Every failure (the endpoints, a context too small, an answer that cites nothing or
        nothing supported) is a reason to answer extractively, never a decline: a decline says
        the knowledge base does not answer, and only the sources can tell that.
        """
        provider = llm.name
        try:
            context = llm.context_tokens(cancelled=stop)
            prompt = build_messages(
                question,
                sources,
                context_tokens=context,
                answer_tokens=settings.llm.max_tokens,
                rules_in=settings.llm.rules_in,
            )
            trace.record(
                "prompt",
                context_tokens=context,
                prompt_tokens=prompt.tokens,
                sources=len(prompt.sources),
                cut=prompt.cut,
                rules_in=settings.llm.rules_in,
            )
            completion = llm.complete(prompt.messages, cancelled=stop, on_token=on_token)
        except ContextTooSmall as exc:
            return "", provider, f"{exc}; answered extractively"
        except ProviderError as exc:
            return "", provider, f"every LLM endpoint failed ({exc}); answered extractively"
        provider = f"openai:{completion.model}"
        grounded = ground(completion.text, prompt.sources)
        trace.record(
            "ground",
            model_text=completion.text,
            kept=grounded.kept,
            dropped=grounded.dropped,
            failure=grounded.failure,
        )
        if grounded.failure is not None:
            return "", provider, f"{grounded.failure}; answered extractively"
        return grounded.text, provider, None


def _citation_numbers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\[(\d+)\]", text)]


def _digest(kind: str, *parts: str) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\x00")
    return f"{kind}:{digest.hexdigest()}"


def _normalised(question: str) -> str:
    return " ".join(question.lower().split())


def _synthesis_key(
    question: str, sources: list[Source], provider: str, decline_below: float
) -> str:
    hashes = (s.chunk.content_hash for s in sources)
    return _digest(
        "synthesis", _normalised(question), provider, PROMPT_VERSION, str(decline_below), *hashes
    )


def _answer_key(question: str, provider: str, settings: Settings, generation: str) -> str:
    # Everything that shapes an answer besides the index: retrieval, RAISE and LLM settings.
    # (The LLM settings name the variable that holds a key, never the key itself.)
    shaping = json.dumps(
        settings.model_dump(mode="json", include={"search", "semantic", "raise_", "llm"}),
        sort_keys=True,
    )
    return _digest("answer", _normalised(question), provider, PROMPT_VERSION, shaping, generation)


def _answer_to_cache(answer: Answer) -> bytes:
    return json.dumps(
        {
            "answer": answer.answer,
            "sources": [
                {"number": s.number, "score": s.score, "chunk": asdict(s.chunk)}
                for s in answer.sources
            ],
            "confidence": answer.confidence,
            "evaluation": asdict(answer.evaluation),
            "provider": answer.provider,
            "cited": answer.cited,
            "related": [
                {"number": s.number, "score": s.score, "chunk": asdict(s.chunk)}
                for s in answer.related
            ],
            "trace": answer.trace,
        }
    ).encode()


def _source_from_cache(data: dict[str, Any]) -> Source:
    chunk = ChunkRecord(**{**data["chunk"], "heading_path": tuple(data["chunk"]["heading_path"])})
    return Source(data["number"], chunk, data["score"])


def _answer_from_cache(question: str, data: dict[str, Any], trace: Trace) -> Answer:
    sources = [_source_from_cache(s) for s in data["sources"]]
    return Answer(
        question,
        data["answer"],
        sources,
        data["confidence"],
        Evaluation(**data["evaluation"]),
        data["provider"],
        cached=True,
        trace=[*(data["trace"] or []), *trace.to_json()],
        cited=data["cited"],
        related=[_source_from_cache(s) for s in data["related"]],
    )
