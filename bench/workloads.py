"""The benchmark workloads. Each returns plain figures; `__main__` runs them and reports."""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import tantivy

from bench.lspclient import LspClient
from lore import _native
from lore.config import load_settings
from lore.kb.knowledge_base import KnowledgeBase
from lore.ops.metrics import percentile

LORE = [sys.executable, "-m", "lore"]
FLOOR = [sys.executable, str(Path(__file__).with_name("floor_server.py"))]


def percentiles(samples_s: list[float]) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds."""
    ms = sorted(s * 1000 for s in samples_s)
    if not ms:
        return {"n": 0}
    return {
        "n": len(ms),
        "p50": round(percentile(ms, 0.50), 3),
        "p95": round(percentile(ms, 0.95), 3),
        "p99": round(percentile(ms, 0.99), 3),
        "max": round(ms[-1], 3),
    }


# --- indexing ----------------------------------------------------------------------------


def _run_with_peak_rss(command: list[str]) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run ``command``; its output, wall seconds and peak RSS in MB (sampled every 20 ms)."""
    started = time.perf_counter()
    process = psutil.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    while process.poll() is None:
        try:
            peak = max(peak, process.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.02)
    stdout, stderr = process.communicate()
    done = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    return done, time.perf_counter() - started, peak / 1e6


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak RSS so far (Linux ``VmHWM``), or None where that is not available."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1000, 1)
    except OSError:
        pass
    return None


def index_runs(root: Path) -> dict[str, Any]:
    """Cold index, no-change re-index, re-index after touching 1 % of the files."""
    shutil.rmtree(root / ".lore", ignore_errors=True)
    out: dict[str, Any] = {}
    for name in ("cold", "no_change"):
        done, wall, peak = _run_with_peak_rss([*LORE, "index", str(root), "--json"])
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        out[name] = {
            "seconds": report["seconds"],
            "wall_seconds": round(wall, 2),
            "mb_per_s": report["mb_per_s"],
            "files": report["files"],
            "chunks": report["chunks"],
            "bytes": report["bytes"],
            "peak_rss_mb": round(peak, 1),
        }
    files = sorted(root.rglob("*.md"))
    touched = files[:: max(1, len(files) // max(1, len(files) // 100))][: max(1, len(files) // 100)]
    originals = {path: path.read_bytes() for path in touched}
    for path in touched:
        with path.open("a", encoding="utf-8") as f:
            f.write("\nEdited for the benchmark.\n")
    done, wall, peak = _run_with_peak_rss([*LORE, "index", str(root), "--json"])
    report = json.loads(done.stdout)
    # Put the pages back (and the index with them), so that runs do not drift apart.
    for path, data in originals.items():
        path.write_bytes(data)
    subprocess.run([*LORE, "index", str(root)], check=True, capture_output=True)
    out["touch_1pct"] = {
        "files_touched": len(touched),
        "seconds": report["seconds"],
        "indexed": report["indexed"],
        "peak_rss_mb": round(peak, 1),
    }
    return out


def tantivy_baseline(root: Path) -> dict[str, Any]:
    """Plain tantivy-py ingestion of the same chunks (chunking itself not timed)."""
    walked = _native.walk(str(root), extensions=["md"], max_file_bytes=2_000_000)
    docs = _native.prepare_documents([(f.path, f.rel_path) for f in walked.files], max_chars=2400)
    rows = [(d.rel_path, d.title, c.text) for d in docs for c in d.chunks]
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("path", stored=True, tokenizer_name="raw")
    builder.add_text_field("title", tokenizer_name="en_stem")
    builder.add_text_field("body", tokenizer_name="en_stem")
    scratch = root.parent / "tantivy-baseline"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    index = tantivy.Index(builder.build(), path=str(scratch))
    started = time.perf_counter()
    writer = index.writer(heap_size=256 * 1024 * 1024, num_threads=1)
    for path, title, text in rows:
        doc = tantivy.Document()
        doc.add_text("path", path)
        doc.add_text("title", title)
        doc.add_text("body", text)
        writer.add_document(doc)
    writer.commit()
    seconds = time.perf_counter() - started
    shutil.rmtree(scratch, ignore_errors=True)
    return {"chunks": len(rows), "seconds": round(seconds, 2)}


# --- LSP latency -------------------------------------------------------------------------


def vocabulary(root: Path, count: int, seed: int = 7) -> list[str]:
    """Headings and identifiers of the indexed corpus, as code would spell them."""
    with KnowledgeBase.open(root, load_settings(root), read_only=True) as kb:
        rows = kb.catalog.reader.execute(
            "SELECT DISTINCT text FROM terms WHERE kind IN ('heading', 'identifier', 'definition')"
        ).fetchall()
    rng = random.Random(seed)
    words = [r[0] for r in rows if 2 <= len(_native.split_identifier(r[0])) <= 4]
    rng.shuffle(words)
    return words[:count]


def code_spelling(term: str, style: int) -> str:
    parts = [p for p in _native.split_identifier(term) if p.isalnum()]
    if style % 3 == 0:
        return "".join(p.capitalize() for p in parts)
    if style % 3 == 1:
        return "_".join(parts)
    return "-".join(parts)


def workload_files(root: Path, terms: list[str], n_hover: int) -> tuple[list, list]:
    """A Python and a Markdown file that use the vocabulary; hover positions in both."""
    bench_dir = root / ".bench"
    bench_dir.mkdir(exist_ok=True)
    positions: list[tuple[Path, int, int]] = []
    code_lines, md_lines = [], []
    for n, term in enumerate(terms):
        name = code_spelling(term, n)
        if not re.fullmatch(r"[A-Za-z][\w-]*", name or ""):
            continue
        if n % 2 == 0:
            line = f"    result = client.{name}(request)  # self.x"
            code_lines.append(line)
            positions.append((bench_dir / "workload.py", len(code_lines) - 1, line.index(name) + 1))
        else:
            line = f"See `{name}` for the details of this step."
            md_lines.append(line)
            positions.append((bench_dir / "workload.md", len(md_lines) - 1, line.index(name) + 1))
    # Ordinary code words too: most hovers in real code are not knowledge-base terms.
    filler = "    for item in self.items: return value"
    code_lines.append(filler)
    for col in (8, 16, 22, 33):
        positions.append((bench_dir / "workload.py", len(code_lines) - 1, col))
    files = [
        (bench_dir / "workload.py", "python", "\n".join(code_lines) + "\n"),
        (bench_dir / "workload.md", "markdown", "\n".join(md_lines) + "\n"),
    ]
    random.Random(3).shuffle(positions)
    return files, (positions * (n_hover // max(1, len(positions)) + 1))[:n_hover]


async def _hovers(client: LspClient, positions) -> list[float]:
    times = []
    for path, line, character in positions:
        _, elapsed, _ = await client.request(
            "textDocument/hover",
            {
                "textDocument": {"uri": path.as_uri()},
                "position": {"line": line, "character": character},
            },
        )
        times.append(elapsed)
    return times


async def _completions(client: LspClient, path: Path, prefixes: list[str]) -> list[float]:
    text = "\n".join(f"# see {p}" for p in prefixes) + "\n"
    client.open(path, "python", text)
    times = []
    for line, prefix in enumerate(prefixes):
        _, elapsed, _ = await client.request(
            "textDocument/completion",
            {
                "textDocument": {"uri": path.as_uri()},
                "position": {"line": line, "character": 6 + len(prefix)},
            },
        )
        times.append(elapsed)
    return times


async def _symbols(client: LspClient, queries: list[str]) -> list[float]:
    times = []
    for q in queries:
        _, elapsed, _ = await client.request("workspace/symbol", {"query": q})
        times.append(elapsed)
    return times


async def lsp_latency(root: Path, *, n_hover: int, n_completion: int) -> dict[str, Any]:
    """Hover, completion and symbol latency of Lore and of the floor server, same client."""
    terms = vocabulary(root, max(n_hover, n_completion))
    files, positions = workload_files(root, terms, n_hover)
    prefixes = [t[: random.Random(i).randint(3, 6)] for i, t in enumerate(terms[:n_completion])]
    queries = [t.split()[0] for t in terms[:50]]
    out: dict[str, Any] = {}
    for name, command in (("lore", [*LORE, "serve"]), ("floor", FLOOR)):
        client = await LspClient.start(command, cwd=root)
        await client.initialize(root)
        if name == "lore":
            await client.wait_for_progress_end()
        for path, language, text in files:
            client.open(path, language, text)
        await _hovers(client, positions[:50])  # warm-up: imports, caches of the OS
        hover = await _hovers(client, positions)
        hover_repeat = await _hovers(client, positions[:200])
        completion = await _completions(client, root / ".bench" / "complete.py", prefixes)
        symbols = await _symbols(client, queries)
        rss = psutil.Process(client.pid).memory_info().rss / 1e6
        out[name] = {
            "hover": percentiles(hover),
            "hover_repeat": percentiles(hover_repeat),
            "completion": percentiles(completion),
            "workspace_symbol": percentiles(symbols),
            "rss_mb": round(rss, 1),
        }
        await client.close()
    out["ratio_hover_p50"] = round(out["lore"]["hover"]["p50"] / out["floor"]["hover"]["p50"], 2)
    out["ratio_completion_p50"] = round(
        out["lore"]["completion"]["p50"] / out["floor"]["completion"]["p50"], 2
    )
    return out


async def symbol_workload(root: Path, *, n_queries: int) -> dict[str, Any]:
    """``workspace/symbol`` latency for the first words of headings (many of them common
    words that match thousands of headings), and the slowest queries."""
    queries = [t.split()[0] for t in vocabulary(root, n_queries)]
    client = await LspClient.start([*LORE, "serve"], cwd=root)
    await client.initialize(root)
    await client.wait_for_progress_end()
    await _symbols(client, queries[:20])  # warm-up: imports, caches of the OS
    server = psutil.Process(client.pid)
    cpu_before = sum(server.cpu_times()[:2])
    times = await _symbols(client, queries)
    # The server's own CPU time per query: on a shared machine, steadier than latency.
    cpu_ms = (sum(server.cpu_times()[:2]) - cpu_before) * 1000 / len(queries)
    await client.close()
    slowest = sorted(zip(times, queries, strict=True), reverse=True)[:5]
    return {
        "queries": len(queries),
        "workspace_symbol": percentiles(times),
        "server_cpu_ms_per_query": round(cpu_ms, 2),
        "slowest": [[q, round(t * 1000, 1)] for t, q in slowest],
    }


# --- answers -----------------------------------------------------------------------------


def questions(root: Path, count: int) -> list[str]:
    heads = vocabulary(root, count * 2, seed=11)
    forms = ("What is {}?", "How do I configure {}?", "Why use {}?", "{}")
    return [forms[i % len(forms)].format(h) for i, h in enumerate(heads[:count])]


async def ask_workload(root: Path, *, n_questions: int, n_repeats: int) -> dict[str, Any]:
    client = await LspClient.start([*LORE, "serve"], cwd=root)
    await client.initialize(root)
    await client.wait_for_progress_end()
    asked = questions(root, n_questions)
    await client.request("lore/ask", {"question": asked[0]})  # warm-up
    times, declined = [], 0
    for q in asked:
        result, elapsed, ok = await client.request("lore/ask", {"question": q})
        times.append(elapsed)
        declined += bool(ok and result["evaluation"]["declined"])
    status, _, _ = await client.request("lore/status", {})
    before = status["providers"]["answer_cache"]
    rng = random.Random(5)
    pool = asked[:20]
    repeat_times = []
    for _ in range(n_repeats):
        _, elapsed, _ = await client.request("lore/ask", {"question": rng.choice(pool)})
        repeat_times.append(elapsed)
    status, _, _ = await client.request("lore/status", {})
    after = status["providers"]["answer_cache"]
    hits, misses = after["hits"] - before["hits"], after["misses"] - before["misses"]
    await client.close()
    return {
        "extractive": percentiles(times),
        "declined_share": round(declined / len(asked), 3),
        "repeated": percentiles(repeat_times),
        "cache_hit_rate": round(hits / max(1, hits + misses), 4),
        "llm": "not measured: no local OpenAI-compatible server is available on this machine",
    }


# --- memory and stress -------------------------------------------------------------------


async def _editor_session(root: Path, files: list[tuple[Path, str, str]]) -> LspClient:
    """One editor window on ``root``: a ``lore serve`` of its own, with the files open."""
    client = await LspClient.start([*LORE, "serve"], cwd=root)
    await client.initialize(root)
    await client.wait_for_progress_end()
    for path, language, text in files:
        client.open(path, language, text)
    return client


async def memory_and_stress(
    root: Path, *, n_requests: int, stress_seconds: float, clients: int, streams_per_client: int
) -> dict[str, Any]:
    """The leak check on one server, then a mixed load from several editor sessions at once.

    Each extra session starts its own server on the same folder, which follows the first one's
    index read-only, as a second editor window on a workspace does.
    """
    terms = vocabulary(root, 400, seed=13)
    files, positions = workload_files(root, terms, 1000)
    first = await _editor_session(root, files)
    process = psutil.Process(first.pid)
    rss_start = process.memory_info().rss / 1e6
    rng = random.Random(17)

    async def one(client: LspClient, kind: int) -> tuple[float, bool]:
        path, line, character = rng.choice(positions)
        at = {
            "textDocument": {"uri": path.as_uri()},
            "position": {"line": line, "character": character},
        }
        if kind < 6:
            _, elapsed, ok = await client.request("textDocument/hover", at)
        elif kind < 8:
            _, elapsed, ok = await client.request("textDocument/completion", at)
        elif kind < 9:
            _, elapsed, ok = await client.request(
                "lore/search", {"query": rng.choice(terms), "k": 10}
            )
        else:
            _, elapsed, ok = await client.request(
                "lore/ask", {"question": f"What is {rng.choice(terms)}?"}
            )
        return elapsed, ok

    errors = 0
    for _ in range(n_requests):
        _, ok = await one(first, rng.randrange(10))
        errors += not ok
    rss_after = process.memory_info().rss / 1e6

    sessions = [first, *[await _editor_session(root, files) for _ in range(clients - 1)]]
    samples: list[float] = []
    stress_errors = 0

    async def stream(client: LspClient, deadline: float) -> None:
        nonlocal stress_errors
        while time.perf_counter() < deadline:
            elapsed, ok = await one(client, rng.randrange(10))
            samples.append(elapsed)
            stress_errors += not ok

    started = time.perf_counter()
    deadline = started + stress_seconds
    await asyncio.gather(
        *(stream(c, deadline) for c in sessions for _ in range(streams_per_client))
    )
    took = time.perf_counter() - started
    rss_end = [psutil.Process(c.pid).memory_info().rss / 1e6 for c in sessions]
    peak = peak_rss_mb(first.pid)
    for client in sessions:
        await client.close()
    return {
        "memory": {
            "rss_after_index_mb": round(rss_start, 1),
            "rss_after_requests_mb": round(rss_after, 1),
            "requests": n_requests,
            "errors": errors,
            "growth_mb": round(rss_after - rss_start, 1),
            "peak_rss_mb": peak,
        },
        "stress": {
            "clients": clients,
            "streams_per_client": streams_per_client,
            "seconds": round(took, 1),
            "requests": len(samples),
            "throughput_per_s": round(len(samples) / took, 1),
            "latency": percentiles(samples),
            "errors": stress_errors,
            "superseded": sum(c.cancelled for c in sessions),
            "rss_end_mb": [round(r, 1) for r in rss_end],
        },
    }


# --- scale -------------------------------------------------------------------------------


def subset(corpus: Path, count: int, target: Path) -> Path:
    """The first ``count`` pages of the corpus, hard-linked into ``target``."""
    if target.is_dir() and sum(1 for _ in target.rglob("*.md")) == count:
        return target
    shutil.rmtree(target, ignore_errors=True)
    pages = sorted(corpus.rglob("*.md"))[:count]
    for page in pages:
        dest = target / page.relative_to(corpus)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(page, dest)
        except OSError:
            shutil.copy2(page, dest)
    return target


async def scale_point(root: Path) -> dict[str, Any]:
    shutil.rmtree(root / ".lore", ignore_errors=True)
    done, wall, peak = _run_with_peak_rss([*LORE, "index", str(root), "--json"])
    report = json.loads(done.stdout)
    terms = vocabulary(root, 300, seed=19)
    files, positions = workload_files(root, terms, 300)
    client = await LspClient.start([*LORE, "serve"], cwd=root)
    await client.initialize(root)
    await client.wait_for_progress_end()
    for path, language, text in files:
        client.open(path, language, text)
    await _hovers(client, positions[:30])
    hover = await _hovers(client, positions)
    rss = psutil.Process(client.pid).memory_info().rss / 1e6
    await client.close()
    return {
        "pages": report["files"],
        "chunks": report["chunks"],
        "index_seconds": report["seconds"],
        "index_peak_rss_mb": round(peak, 1),
        "hover": percentiles(hover),
        "server_rss_mb": round(rss, 1),
        "cold_start": await hover_while_indexing(root, files, positions),
    }


async def hover_while_indexing(
    root: Path, files: list[tuple[Path, str, str]], positions: list[tuple[Path, int, int]]
) -> dict[str, Any]:
    """An editor opened on a folder with no index: hovers go on while the server builds it."""
    shutil.rmtree(root / ".lore", ignore_errors=True)
    client = await LspClient.start([*LORE, "serve"], cwd=root)
    started = time.perf_counter()
    await client.initialize(root)
    for path, language, text in files:
        client.open(path, language, text)
    times: list[float] = []
    answered = 0
    # Round the positions; each commit changes the index generation, so few are cache hits.
    for path, line, character in itertools.cycle(positions):
        if client.progress_ends >= 1:
            break
        result, elapsed, _ = await client.request(
            "textDocument/hover",
            {
                "textDocument": {"uri": path.as_uri()},
                "position": {"line": line, "character": character},
            },
        )
        times.append(elapsed)
        answered += result is not None
    indexed_after = time.perf_counter() - started
    peak = peak_rss_mb(client.pid)
    await client.close()
    return {
        "index_seconds": round(indexed_after, 2),
        "hovers": len(times),
        "hovers_with_content": answered,
        "hover": percentiles(times),
        "server_peak_rss_mb": peak,
    }


# --- links inside the docs -----------------------------------------------------------------


def link_sample(root: Path, count: int, seed: int = 23) -> list[tuple[Path, int, int, str]]:
    """Links between pages of the corpus whose target page exists: ``(page, 0-based line,
    character inside the link text, the linked page's title)``."""
    pages = sorted(root.rglob("*.md"))
    random.Random(seed).shuffle(pages)
    sample: list[tuple[Path, int, int, str]] = []
    for page in pages:
        text = page.read_text(encoding="utf-8", errors="replace")
        found, _ = _native.extract_links(text, "markdown")
        for link in found:
            if link.kind not in ("inline", "reference") or not link.target.endswith(".md"):
                continue
            if "://" in link.target or link.line != link.end_line or link.anchor:
                continue
            target = (page.parent / link.target).resolve()
            if not target.is_file() or not target.is_relative_to(root.resolve()):
                continue
            title = _native.title_of(
                target.read_text(encoding="utf-8", errors="replace"), "markdown", target.stem
            )
            sample.append((page, link.line - 1, link.col + 2, title))
            break  # one link a page: many pages, not many links of one page
        if len(sample) >= count:
            break
    return sample


def fuzzy_queries(root: Path, count: int, seed: int = 29) -> list[tuple[str, str]]:
    """``(typed, wanted title)``: the rarest word from inside a page's title (not its first),
    as someone who remembers "NoSQL" of "Relational (SQL) or NoSQL?" would type it."""
    with KnowledgeBase.open(root, load_settings(root), read_only=True) as kb:
        titles = [r[0] for r in kb.catalog.reader.execute("SELECT title FROM documents")]

    def words(title: str) -> list[str]:
        return [w.lower() for w in re.findall(r"[A-Za-z][A-Za-z0-9]+", title)[1:] if len(w) >= 4]

    # The word of a title fewest other titles share: what someone recalling the page types.
    shared = collections.Counter(w for title in titles for w in set(words(title)))
    rng = random.Random(seed)
    rng.shuffle(titles)
    queries = []
    for title in titles:
        candidates = words(title)
        if candidates:
            queries.append((min(candidates, key=lambda w: (shared[w], w)), title))
        if len(queries) >= count:
            break
    return queries


async def link_workload(root: Path, *, n_links: int, n_queries: int) -> dict[str, Any]:
    """Hover on links between pages (does it show the linked page?) and link completion of
    fuzzy prefixes after ``[[`` (is the wanted page offered?), with their latency."""
    links = link_sample(root, n_links)
    queries = fuzzy_queries(root, n_queries)
    client = await LspClient.start([*LORE, "serve"], cwd=root)
    await client.initialize(root)
    await client.wait_for_progress_end()
    opened: set[Path] = set()
    hover_times, shown = [], 0
    for page, line, character, title in links:
        if page not in opened:
            client.open(page, "markdown", page.read_text(encoding="utf-8", errors="replace"))
            opened.add(page)
        result, elapsed, _ = await client.request(
            "textDocument/hover",
            {
                "textDocument": {"uri": page.as_uri()},
                "position": {"line": line, "character": character},
            },
        )
        hover_times.append(elapsed)
        value = (result or {}).get("contents", {}).get("value", "")
        shown += _plain(value).startswith(_plain(title))
    draft = root / ".bench" / "links.md"
    draft.parent.mkdir(exist_ok=True)
    lines = [f"See [[{typed}" for typed, _ in queries]
    client.open(draft, "markdown", "\n".join(lines) + "\n")
    completion_times, completed, first = [], 0, 0
    for number, (_typed, title) in enumerate(queries):
        result, elapsed, _ = await client.request(
            "textDocument/completion",
            {
                "textDocument": {"uri": draft.as_uri()},
                "position": {"line": number, "character": len(lines[number])},
            },
        )
        completion_times.append(elapsed)
        labels = [item["label"] for item in (result or {}).get("items", [])]
        completed += title in labels
        first += bool(labels) and labels[0] == title
    empty, empty_elapsed, _ = await client.request(
        "textDocument/completion",
        {"textDocument": {"uri": draft.as_uri()}, "position": {"line": 0, "character": 6}},
    )
    await client.close()
    return {
        "links": len(links),
        "hover_shows_linked_page": round(shown / max(1, len(links)), 3),
        "hover": percentiles(hover_times),
        "fuzzy_queries": len(queries),
        "fuzzy_completed": round(completed / max(1, len(queries)), 3),
        "fuzzy_first": round(first / max(1, len(queries)), 3),
        "completion": percentiles(completion_times),
        "empty_prefix_items": len((empty or {}).get("items", [])),
        "empty_prefix_ms": round(empty_elapsed * 1000, 3),
    }


def _plain(markdown: str) -> str:
    """Markdown without emphasis and escapes, for comparing a hover with a title."""
    return re.sub(r"[\\*_`]", "", markdown).strip()


async def startup(root: Path, *, runs: int = 3) -> dict[str, Any]:
    """From spawning ``lore serve`` on an indexed folder: milliseconds to the ``initialize``
    answer, and to the first hover on a link that shows content (best of ``runs``)."""
    subprocess.run([*LORE, "index", str(root)], check=True, capture_output=True)
    page, line, character, _ = link_sample(root, 1)[0]
    text = page.read_text(encoding="utf-8", errors="replace")
    initialize, first_hover = [], []
    for _ in range(runs):
        started = time.perf_counter()
        client = await LspClient.start([*LORE, "serve"], cwd=root)
        await client.initialize(root)
        initialize.append(time.perf_counter() - started)
        client.open(page, "markdown", text)
        while True:
            result, _, _ = await client.request(
                "textDocument/hover",
                {
                    "textDocument": {"uri": page.as_uri()},
                    "position": {"line": line, "character": character},
                },
            )
            if result:
                break
        first_hover.append(time.perf_counter() - started)
        await client.close()
    return {
        "pages": sum(1 for _ in root.rglob("*.md")),
        "initialize_ms": round(min(initialize) * 1000, 1),
        "first_hover_ms": round(min(first_hover) * 1000, 1),
        "initialize_all_ms": [round(s * 1000, 1) for s in initialize],
        "first_hover_all_ms": [round(s * 1000, 1) for s in first_hover],
    }
