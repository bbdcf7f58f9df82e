"""The shared knowledge base in PostgreSQL against the local index, in the same run.

A throwaway PostgreSQL (Debian's server, as in the tests) on loopback. Measured for both
backends: index throughput (cold, and again with nothing changed), size on disk, and the
latency an editor sees from `lore serve`: hover, completion, `lore/search` and `lore/ask`.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg
from tests.support.postgres import Cluster, temp_base

from bench.lspclient import LspClient
from bench.workloads import (
    LORE,
    _completions,
    _hovers,
    percentiles,
    questions,
    vocabulary,
    workload_files,
)


def _index(command: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run(
        command, capture_output=True, text=True, check=True, env={**os.environ, **(env or {})}
    )
    seconds = time.perf_counter() - started
    report = json.loads(done.stdout)
    return {
        "seconds": round(seconds, 2),
        "indexed": report["indexed"],
        "chunks": report["chunks"],
        "mb_per_s": round(report["bytes"] / 1e6 / seconds, 2),
    }


def _dir_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6, 1)


async def _server(root: Path, options: dict, workload: dict[str, Any]) -> dict[str, Any]:
    client = await LspClient.start([*LORE, "serve"], cwd=root)
    started = time.perf_counter()
    await client.initialize(root, {"index": {"watch": False}, **options})
    await client.wait_for_progress_end()
    ready_s = time.perf_counter() - started
    for path, language, text in workload["files"]:
        client.open(path, language, text)
    positions = workload["positions"]
    await _hovers(client, positions[:50])  # warm-up
    hover = await _hovers(client, positions)
    completion = await _completions(client, root / ".bench" / "complete.py", workload["prefixes"])
    search, ask = [], []
    for query in workload["queries"]:
        _, elapsed, _ = await client.request("lore/search", {"query": query, "k": 10})
        search.append(elapsed)
    for question in workload["questions"]:
        _, elapsed, _ = await client.request("lore/ask", {"question": question})
        ask.append(elapsed)
    status, _, _ = await client.request("lore/status", {})
    await client.close()
    return {
        "ready_s": round(ready_s, 2),
        "hover": percentiles(hover),
        "completion": percentiles(completion),
        "search": percentiles(search),
        "ask": percentiles(ask),
        "documents": status["index"]["bases"][0]["documents"],
    }


async def shared_vs_local(
    root: Path, *, n_hover: int, n_completion: int, n_search: int, n_ask: int
) -> dict[str, Any]:
    out: dict[str, Any] = {"pages": sum(1 for _ in root.rglob("*.md"))}

    # Local: a fresh index beside the corpus, then the server on it.
    index_dir = Path(tempfile.mkdtemp(prefix="lore-bench-local-"))
    shutil.rmtree(index_dir)
    env_dir = {"LORE_INDEX__DIR": str(index_dir)}
    local_index = [*LORE, "index", str(root), "--json"]
    out["local"] = {
        "index_cold": _index(local_index, env_dir),
        "index_again": _index(local_index, env_dir),
        "disk_mb": _dir_mb(index_dir),
    }
    # The workload's words come from that index: headings and identifiers of the corpus.
    os.environ.update(env_dir)
    try:
        terms = vocabulary(root, max(n_hover, n_completion, n_search))
        asked = questions(root, n_ask)
    finally:
        os.environ.pop("LORE_INDEX__DIR")
    files, positions = workload_files(root, terms, n_hover)
    rng = random.Random(17)
    workload = {
        "files": files,
        "positions": positions,
        "prefixes": [t[: rng.randint(3, 6)] for t in terms[:n_completion]],
        # Searches as people type them: a heading's words, some lower-cased, some partial.
        "queries": [
            t.lower() if i % 3 == 0 else " ".join(t.split()[:2]) if i % 3 == 1 else t
            for i, t in enumerate(terms[:n_search])
        ],
        "questions": asked,
    }
    out["local"].update(await _server(root, {"index": {"dir": str(index_dir)}}, workload))
    shutil.rmtree(index_dir, ignore_errors=True)

    with temp_base() as base:
        cluster = Cluster(base, "primary").start()
        try:
            with psycopg.connect(cluster.url(), autocommit=True) as conn:
                conn.execute("CREATE DATABASE bench")
            url = cluster.url("bench")
            shared_index = [*LORE, "index", "--to", url, str(root), "--json"]
            shared: dict[str, Any] = {
                "index_cold": _index(shared_index),
                "index_again": _index(shared_index),
            }
            with psycopg.connect(url) as conn:
                shared["disk_mb"] = round(
                    conn.execute("SELECT pg_database_size('bench')").fetchone()[0] / 1e6, 1
                )
                shared["tables_mb"] = {
                    name: round(size / 1e6, 1)
                    for name, size in conn.execute(
                        "SELECT relname, pg_total_relation_size(oid) FROM pg_class "
                        "WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace "
                        "ORDER BY 2 DESC"
                    )
                }
            with tempfile.TemporaryDirectory(prefix="lore-bench-cache-") as cache:
                shared.update(
                    await _server_with_cache(root, {"kb": {"url": url}}, workload, Path(cache))
                )
                shared["mirror_mb"] = _dir_mb(Path(cache))
            out["postgresql"] = shared
        finally:
            cluster.stop()
    return out


async def _server_with_cache(
    root: Path, options: dict, workload: dict[str, Any], cache: Path
) -> dict[str, Any]:
    """The server with its mirror in ``cache`` (a first start: the mirror is filled)."""
    previous = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(cache)
    try:
        return await _server(root, options, workload)
    finally:
        if previous is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = previous


def render(r: dict[str, Any]) -> str:
    """The table of docs/benchmarks.md's shared-knowledge-base section."""
    s = r["shared"]
    local, pg = s["local"], s["postgresql"]

    def lat(side: dict, key: str) -> str:
        return f"{side[key]['p50']} / {side[key]['p99']} ms"

    rows = [
        ("index, cold", f"{local['index_cold']['seconds']} s", f"{pg['index_cold']['seconds']} s"),
        (
            "index throughput",
            f"{local['index_cold']['mb_per_s']} MB/s",
            f"{pg['index_cold']['mb_per_s']} MB/s",
        ),
        (
            "index again, nothing changed",
            f"{local['index_again']['seconds']} s",
            f"{pg['index_again']['seconds']} s",
        ),
        ("size on disk", f"{local['disk_mb']} MB", f"{pg['disk_mb']} MB in PostgreSQL"),
        ("editor's local copy", f"{local['disk_mb']} MB (the index)", f"{pg['mirror_mb']} MB"),
        ("server ready (first start)", f"{local['ready_s']} s", f"{pg['ready_s']} s"),
        ("hover p50 / p99", lat(local, "hover"), lat(pg, "hover")),
        ("completion p50 / p99", lat(local, "completion"), lat(pg, "completion")),
        ("`lore/search` p50 / p99", lat(local, "search"), lat(pg, "search")),
        ("`lore/ask` p50 / p99", lat(local, "ask"), lat(pg, "ask")),
    ]
    m = r["machine"]
    lines = [
        f"Commit `{r['commit']}` on {m['cores']} cores, {m['cpu']}. {s['pages']} pages; "
        "PostgreSQL 15 on loopback in the same machine; latencies from `lore serve` over "
        f"stdio ({local['hover']['n']} hovers, {local['completion']['n']} completions, "
        f"{local['search']['n']} searches, {local['ask']['n']} questions).",
        "",
        "| measure | local index | shared, PostgreSQL |",
        "| --- | --- | --- |",
        *(f"| {a} | {b} | {c} |" for a, b, c in rows),
        "",
        "PostgreSQL tables, with their indexes: "
        + ", ".join(f"{name} {mb} MB" for name, mb in pg["tables_mb"].items() if mb >= 0.1)
        + ".",
    ]
    return "\n".join(lines) + "\n"
