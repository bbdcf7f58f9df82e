"""Run the benchmarks: `python -m bench [--quick] [--only NAME ...]` (or `make bench`).

Writes bench/results/<date>-<commit>.json, regenerates the tables in docs/benchmarks.md
between their markers, and draws docs/bench-scale.png.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil

from bench import crash, shared_kb, workloads
from bench.answers import evaluate_answers
from bench.data import REPO, WORK, aws_docs
from bench.retrieval import evaluate_scifact

WORKLOADS = (
    "index",
    "lsp",
    "links",
    "symbols",
    "startup",
    "ask",
    "retrieval",
    "memory",
    "scale",
    "crash",
    "answers",
    "shared",
)
DOC = REPO / "docs" / "benchmarks.md"
PLOT = REPO / "docs" / "bench-scale.png"
ANSWERS_PLOT = REPO / "docs" / "bench-answers.png"


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": cpu,
        "python": platform.python_version(),
    }


def commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
    )
    return done.stdout.strip() or "unknown"


def run(selected: list[str], quick: bool) -> dict[str, Any]:
    results: dict[str, Any] = {"machine": machine(), "commit": commit(), "quick": quick}
    corpus = aws_docs()
    scale_sizes = [1000, 3000] if quick else [1000, 10000, 29151]
    main_root = workloads.subset(corpus, 3000, WORK / "aws-3000") if quick else corpus
    results["corpus"] = {
        "root": str(main_root.relative_to(REPO)),
        "pages": sum(1 for _ in main_root.rglob("*.md")),
    }

    def step(name: str, fn) -> None:
        if name not in selected:
            return
        started = time.perf_counter()
        print(f"[bench] {name} …", flush=True)
        results[name] = fn()
        print(f"[bench] {name} done in {time.perf_counter() - started:.0f} s", flush=True)

    step(
        "index",
        lambda: {
            **workloads.index_runs(main_root),
            "tantivy_baseline": workloads.tantivy_baseline(main_root),
        },
    )
    step(
        "lsp",
        lambda: asyncio.run(
            workloads.lsp_latency(
                main_root, n_hover=300 if quick else 1000, n_completion=150 if quick else 500
            )
        ),
    )
    step(
        "links",
        lambda: asyncio.run(
            workloads.link_workload(
                main_root, n_links=100 if quick else 300, n_queries=100 if quick else 200
            )
        ),
    )
    step(
        "symbols",
        lambda: asyncio.run(workloads.symbol_workload(main_root, n_queries=100 if quick else 200)),
    )
    step(
        "startup",
        lambda: [
            asyncio.run(workloads.startup(workloads.subset(corpus, 1000, WORK / "aws-1000"))),
            asyncio.run(workloads.startup(main_root)),
        ],
    )
    step(
        "ask",
        lambda: asyncio.run(
            workloads.ask_workload(
                main_root, n_questions=20 if quick else 50, n_repeats=100 if quick else 300
            )
        ),
    )
    step("retrieval", evaluate_scifact)
    # The questions are about the whole corpus: always the 29k pages, quick mode or not.
    step("answers", lambda: evaluate_answers(corpus))
    step(
        "memory",
        lambda: asyncio.run(
            workloads.memory_and_stress(
                main_root,
                n_requests=1000 if quick else 10000,
                stress_seconds=10 if quick else 60,
                clients=3,
                streams_per_client=2,
            )
        ),
    )
    step("crash", lambda: crash_run(quick))
    step(
        "shared",
        lambda: asyncio.run(
            shared_kb.shared_vs_local(
                main_root,
                n_hover=300 if quick else 1000,
                n_completion=150 if quick else 500,
                n_search=100 if quick else 300,
                n_ask=20 if quick else 50,
            )
        ),
    )
    step(
        "scale",
        lambda: [
            asyncio.run(workloads.scale_point(workloads.subset(corpus, n, WORK / f"aws-{n}")))
            if n != 29151
            else asyncio.run(workloads.scale_point(corpus))
            for n in scale_sizes
        ],
    )
    return results


def crash_run(quick: bool) -> dict[str, Any]:
    """The longer crash test: more pages and kills than tests/cli/test_crash.py."""
    root = WORK / "crash"
    if root.exists():
        shutil.rmtree(root)
    pages, kills = (3000, 8) if quick else (10000, 30)
    return crash.run(root, pages=pages, kills=kills, seed=int(time.time())).to_json()


def budgets(r: dict[str, Any]) -> list[tuple[str, str, str, bool | None]]:
    """(what, budget, measured, met) rows."""
    rows: list[tuple[str, str, str, bool | None]] = []
    if "lsp" in r:
        h, c = r["lsp"]["lore"]["hover"], r["lsp"]["lore"]["completion"]
        rows.append(
            (
                "hover over stdio",
                "p50 < 5 ms, p99 < 25 ms",
                f"p50 {h['p50']} ms, p99 {h['p99']} ms",
                h["p50"] < 5 and h["p99"] < 25,
            )
        )
        rows.append(
            (
                "completion over stdio",
                "p50 < 5 ms, p99 < 25 ms",
                f"p50 {c['p50']} ms, p99 {c['p99']} ms",
                c["p50"] < 5 and c["p99"] < 25,
            )
        )
    if "symbols" in r:
        w = r["symbols"]["workspace_symbol"]
        rows.append(
            (
                f"`workspace/symbol`, {r['symbols']['queries']} first words of headings",
                "p99 < 25 ms",
                f"p50 {w['p50']} ms, p99 {w['p99']} ms",
                w["p99"] < 25,
            )
        )
    if "startup" in r:
        for point in r["startup"]:
            rows.append(
                (
                    f"`initialize` answered, {point['pages']} pages indexed",
                    "< 300 ms from spawn",
                    f"{point['initialize_ms']} ms",
                    point["initialize_ms"] < 300,
                )
            )
            rows.append(
                (
                    f"first hover from the index, {point['pages']} pages",
                    "< 500 ms from spawn",
                    f"{point['first_hover_ms']} ms",
                    point["first_hover_ms"] < 500,
                )
            )
    if "ask" in r:
        a = r["ask"]["extractive"]
        rows.append(("`lore/ask` extractive", "p95 < 150 ms", f"p95 {a['p95']} ms", a["p95"] < 150))
        rows.append(
            (
                "answer cache hit rate, repeated questions",
                "> 90 %",
                f"{r['ask']['cache_hit_rate'] * 100:.1f} %",
                r["ask"]["cache_hit_rate"] > 0.9,
            )
        )
    if "index" in r:
        cold, again = r["index"]["cold"], r["index"]["no_change"]
        rows.append(
            (
                "full index of the corpus",
                "< 60 s",
                f"{cold['seconds']} s ({cold['mb_per_s']} MB/s)",
                cold["seconds"] < 60,
            )
        )
        rows.append(
            ("re-index, no changes", "< 3 s", f"{again['seconds']} s", again["seconds"] < 3)
        )
    if "memory" in r:
        m = r["memory"]["memory"]
        rows.append(
            (
                "server memory, corpus indexed",
                "< 500 MB RSS",
                f"{m['rss_after_requests_mb']} MB after {m['requests']} requests"
                + (f", peak {m['peak_rss_mb']} MB" if m.get("peak_rss_mb") else ""),
                max(m["rss_after_requests_mb"], m.get("peak_rss_mb") or 0) < 500,
            )
        )
    if "retrieval" in r:
        hy = r["retrieval"]["lore hybrid"]["ndcg@10"]
        base = r["retrieval"]["tantivy BM25 baseline"]["ndcg@10"]
        rows.append(
            (
                "SciFact nDCG@10 (dev)",
                f"> BM25 (0.666; this run's tantivy BM25: {base:.3f})",
                f"{hy:.4f}",
                hy > max(0.666, base),
            )
        )
    if "crash" in r:
        c = r["crash"]
        rows.append(
            (
                "SIGKILL during indexing",
                "every file indexed exactly once",
                f"{c['killed_mid_run']} of {c['kills']} kills mid-run on {c['pages']} pages, "
                f"{c['markers_checked']} markers checked, {len(c['problems'])} problems",
                not c["problems"],
            )
        )
    return rows


def row(*cells: Any) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    return ["", row(*header), row(*["---"] * len(header)), *(row(*r) for r in rows)]


def render(r: dict[str, Any]) -> str:
    m = r["machine"]
    quick = " (quick mode)" if r.get("quick") else ""
    lines = [
        f"Commit `{r['commit']}`{quick} on {m['cores']} cores, {m['memory_gb']} GiB, {m['cpu']}, "
        f"Python {m['python']}. Corpus: {r['corpus']['pages']} pages.",
        *table(
            ["what", "budget", "measured", ""],
            [[w, b, v, "met" if ok else "missed"] for w, b, v, ok in budgets(r)],
        ),
    ]
    if "lsp" in r:
        lsp = r["lsp"]
        lines += ["", "LSP latency over stdio in ms (one client, the same positions for both):"]
        lines += table(
            ["request", "server", "p50", "p95", "p99", "n"],
            [
                [req, server, *(lsp[server][req][k] for k in ("p50", "p95", "p99", "n"))]
                for req in ("hover", "hover_repeat", "completion", "workspace_symbol")
                for server in ("lore", "floor")
            ],
        )
        lines.append(
            f"\nLore/floor at p50: hover ×{lsp['ratio_hover_p50']}, "
            f"completion ×{lsp['ratio_completion_p50']}."
        )
    if "links" in r:
        k = r["links"]
        lines += [
            "",
            f"Links inside the docs: hover on {k['links']} links between pages shows the linked "
            f"page in {k['hover_shows_linked_page'] * 100:.1f} % (p50 {k['hover']['p50']} ms, "
            f"p99 {k['hover']['p99']} ms). Completion after `[[` of {k['fuzzy_queries']} words "
            f"from inside page titles offers the page in {k['fuzzy_completed'] * 100:.1f} %, "
            f"first in {k['fuzzy_first'] * 100:.1f} % (p50 {k['completion']['p50']} ms, "
            f"p99 {k['completion']['p99']} ms); with nothing typed it offers "
            f"{k['empty_prefix_items']} pages in {k['empty_prefix_ms']} ms.",
        ]
    if "symbols" in r:
        slowest = ", ".join(f"{q!r} {ms} ms" for q, ms in r["symbols"]["slowest"])
        lines += [
            "",
            f"`workspace/symbol`: {r['symbols']['server_cpu_ms_per_query']} ms of the server's "
            f"CPU a query; the slowest: {slowest}.",
        ]
    if "index" in r:
        i = r["index"]
        cold, same, touched = i["cold"], i["no_change"], i["touch_1pct"]
        base = i["tantivy_baseline"]
        lines += table(
            ["indexing", "seconds", "MB/s", "peak RSS MB"],
            [
                [
                    f"cold: {cold['files']} files, {cold['chunks']} chunks",
                    cold["seconds"],
                    cold["mb_per_s"],
                    cold["peak_rss_mb"],
                ],
                ["again, no change", same["seconds"], "", same["peak_rss_mb"]],
                [
                    f"again, {touched['files_touched']} files (1 %) touched",
                    touched["seconds"],
                    "",
                    touched["peak_rss_mb"],
                ],
                [
                    f"baseline: tantivy-py ingesting the same {base['chunks']} chunks",
                    base["seconds"],
                    "",
                    "",
                ],
            ],
        )
    if "retrieval" in r:
        lines += table(
            ["SciFact dev", "nDCG@10", "Recall@100", "query p50 ms"],
            [
                [mode, f["ndcg@10"], f["recall@100"], f.get("query_p50_ms", "")]
                for mode, f in r["retrieval"].items()
                if mode not in ("queries", "answers")
            ],
        )
        if "answers" in r["retrieval"]:
            qa = r["retrieval"]["answers"]
            lines += [
                "",
                f"RAISE on the same {r['retrieval']['queries']['count']} claims (extractive): "
                f"the first citation is a relevant abstract in "
                f"{qa['first_citation_relevant'] * 100:.1f} % of answers "
                f"({qa['first_citation_relevant_when_answered'] * 100:.1f} % of those not "
                f"declined); Lore declines {qa['declined'] * 100:.1f} %; "
                f"answer p50 {qa['answer_p50_ms']} ms.",
            ]
    if "ask" in r:
        a = r["ask"]
        lines += [
            "",
            f"`lore/ask`, extractive: p50 {a['extractive']['p50']} ms, "
            f"p95 {a['extractive']['p95']} ms; {a['declined_share'] * 100:.0f} % of the "
            f"generated questions declined. Repeated questions: p50 {a['repeated']['p50']} ms, "
            f"answer cache hit rate {a['cache_hit_rate'] * 100:.1f} %. LLM path: {a['llm']}.",
        ]
    if "memory" in r:
        mem, st = r["memory"]["memory"], r["memory"]["stress"]
        lines += [
            "",
            f"Memory: server RSS {mem['rss_after_index_mb']} MB once indexed, "
            f"{mem['rss_after_requests_mb']} MB after {mem['requests']} mixed requests "
            f"({mem['errors']} errors); its peak RSS over the whole run, stress included: "
            f"{mem.get('peak_rss_mb')} MB.",
            "",
            f"Stress: {st['clients']} editor sessions on the same folder (one server each; "
            f"the first writes the index, the others follow it), "
            f"{st['streams_per_client']} concurrent request streams each, "
            f"for {st['seconds']} s: {st['requests']} requests, {st['throughput_per_s']}/s, "
            f"p50 {st['latency']['p50']} ms, p99 {st['latency']['p99']} ms, "
            f"{st['errors']} errors ({st['superseded']} requests superseded by a newer "
            f"one for the same document, as designed); server RSS at the end "
            f"{', '.join(f'{mb} MB' for mb in st['rss_end_mb'])}.",
        ]
    if "scale" in r:
        lines += table(
            [
                "pages",
                "chunks",
                "index s",
                "index peak RSS MB",
                "hover p50 ms",
                "hover p99 ms",
                "server RSS MB",
            ],
            [
                [
                    p["pages"],
                    p["chunks"],
                    p["index_seconds"],
                    p["index_peak_rss_mb"],
                    p["hover"]["p50"],
                    p["hover"]["p99"],
                    p["server_rss_mb"],
                ]
                for p in r["scale"]
            ],
        )
        lines.append("\n![Index time, hover p99 and memory against corpus size](bench-scale.png)")
        cold = [p for p in r["scale"] if "cold_start" in p]
        if cold:
            lines += [
                "",
                "Cold start: the editor opens the folder with no index; the server "
                "builds it in the background while hovers go on.",
            ]
            lines += table(
                [
                    "pages",
                    "index s (in the server)",
                    "hovers during it",
                    "with content",
                    "hover p50 ms",
                    "hover p99 ms",
                    "server peak RSS MB",
                ],
                [
                    [
                        p["pages"],
                        p["cold_start"]["index_seconds"],
                        p["cold_start"]["hovers"],
                        p["cold_start"]["hovers_with_content"],
                        p["cold_start"]["hover"]["p50"],
                        p["cold_start"]["hover"]["p99"],
                        p["cold_start"]["server_peak_rss_mb"],
                    ]
                    for p in cold
                ],
            )
    return "\n".join(lines) + "\n"


def plot(scale: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pages = [p["pages"] for p in scale]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    series = [
        ("index time (s)", [p["index_seconds"] for p in scale]),
        ("hover p99 (ms)", [p["hover"]["p99"] for p in scale]),
        ("server RSS (MB)", [p["server_rss_mb"] for p in scale]),
    ]
    for ax, (title, values) in zip(axes, series, strict=True):
        ax.plot(pages, values, marker="o")
        ax.set_title(title)
        ax.set_xlabel("pages")
        ax.set_ylim(bottom=0)  # from zero, so run-to-run noise does not read as a trend
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)


def _replace_section(text: str, name: str, body: str) -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    head, found, rest = text.partition(start)
    if not found:
        return f"{text.rstrip()}\n\n{start}\n{body}{end}\n"
    _, _, tail = rest.partition(end)
    return f"{head}{start}\n{body}{end}{tail}"


def update_doc(r: dict[str, Any]) -> None:
    """Rewrite the sections of the workloads that ran; the others keep their last figures."""
    text = DOC.read_text(encoding="utf-8")
    if any(name in r for name in WORKLOADS if name not in ("answers", "shared")):
        text = _replace_section(text, "bench", render(r))
    if "answers" in r:
        text = _replace_section(text, "bench:answers", render_answers(r))
    if "shared" in r:
        text = _replace_section(text, "bench:shared", shared_kb.render(r))
    DOC.write_text(text, encoding="utf-8")


def _pct(share: float) -> str:
    return f"{share * 100:.1f} %"


def render_answers(r: dict[str, Any]) -> str:
    """The aws-dev table (beside page-level BM25 from the same run) and the decline curve."""
    a = r["answers"]
    lore, bm25 = a["lore"], a["bm25_pages"]
    n, u = a["questions"]["answerable"], a["questions"]["unanswerable"]
    m = r["machine"]
    rows = [
        [
            "search: gold page first",
            "≥ 75 %",
            _pct(lore["search_gold_first"]),
            _pct(bm25["search_gold_first"]),
        ],
        [
            "answer: first citation is the gold page",
            "≥ 85 %",
            _pct(lore["first_citation_gold"]),
            "",
        ],
        ["answer: any citation is the gold page", "", _pct(lore["any_citation_gold"]), ""],
        ["answer: holds the fact", "≥ 80 %", _pct(lore["answer_holds_fact"]), ""],
        [
            f"unanswerable or off-topic declined (of {u})",
            "≥ 90 %",
            _pct(lore["unanswerable_declined"]),
            "",
        ],
        [f"answerable wrongly declined (of {n})", "≤ 5 %", _pct(lore["answerable_declined"]), ""],
        [
            "`search` p50 / p99, in process, 29k pages, warm",
            "≤ 5 / 25 ms",
            f"{lore['search_ms']['p50']} / {lore['search_ms']['p99']} ms",
            f"{bm25['search_ms']['p50']} / {bm25['search_ms']['p99']} ms",
        ],
        [
            "`ask` p50 / p95, extractive, in process",
            "p95 ≤ 150 ms",
            f"{lore['ask_ms']['p50']} / {lore['ask_ms']['p95']} ms",
            "",
        ],
    ]
    if "retrieval" in r:
        sf = r["retrieval"]
        rows.append(
            [
                "SciFact dev nDCG@10",
                "≥ 0.74",
                sf["lore hybrid"]["ndcg@10"],
                sf["tantivy BM25 baseline"]["ndcg@10"],
            ]
        )
        if "answers" in sf:
            rows.append(
                ["SciFact: claims wrongly declined", "≤ 5 %", _pct(sf["answers"]["declined"]), ""]
            )
    lines = [
        f"Commit `{r['commit']}` on {m['cores']} cores, {m['cpu']}. The aws-dev questions "
        f"({n} answerable, {u} unanswerable or off-topic) over the 29,151 pages; the baseline is "
        "plain BM25 over whole pages, built in the same run.",
        *table(["measure", "goal", "Lore", "plain BM25 over whole pages"], rows),
        "",
        "Declining: the share of each kind of question declined as `raise.decline_below` moves "
        "(the default is marked):",
        *table(
            ["decline below", "unanswerable declined", "answerable declined"],
            [
                [p["threshold"], _pct(p["unanswerable_declined"]), _pct(p["answerable_declined"])]
                for p in a["curve"]
                if round(p["threshold"] * 20) % 2 == 0 or p["default"]
            ],
        ),
        "\n![The decline trade-off on the aws-dev questions](bench-answers.png)",
    ]
    return "\n".join(lines) + "\n"


def plot_answers(curve: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    ax.plot(
        [p["answerable_declined"] * 100 for p in curve],
        [p["unanswerable_declined"] * 100 for p in curve],
        marker="o",
        markersize=3,
    )
    for p in curve:
        if p["default"]:
            ax.annotate(
                f"default ({p['threshold']})",
                (p["answerable_declined"] * 100, p["unanswerable_declined"] * 100),
                textcoords="offset points",
                xytext=(8, -12),
            )
    ax.axvline(5, color="grey", linestyle=":", linewidth=1)
    ax.axhline(90, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("answerable questions declined (%)")
    ax.set_ylabel("unanswerable questions declined (%)")
    ax.set_title("Declining on aws-dev, by raise.decline_below")
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(ANSWERS_PLOT, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument(
        "--quick", action="store_true", help="a 3,000-page subset and fewer requests"
    )
    parser.add_argument("--only", nargs="+", choices=WORKLOADS, default=list(WORKLOADS))
    args = parser.parse_args()
    results = run(args.only, args.quick)
    out = REPO / "bench" / "results" / f"{time.strftime('%Y-%m-%d')}-{results['commit']}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    if "scale" in results:
        plot(results["scale"])
    if "answers" in results:
        plot_answers(results["answers"]["curve"])
    update_doc(results)
    print(render(results))
    if "answers" in results:
        print(render_answers(results))
    print(f"[bench] wrote {out.relative_to(REPO)} and docs/benchmarks.md")


if __name__ == "__main__":
    main()
