"""Crash safety under fire: `lore index` SIGKILLed at random points, then every file checked.

A generated corpus gives each page a planted marker word. Each round edits, adds and deletes a
few pages, starts `lore index`, and kills it without warning once a randomly chosen number of
batches has committed, plus a random delay (so kills also land inside a batch, between SQLite
and tantivy). A last run finishes the job; then every file on disk must be in the index exactly
once, the catalog, the vectors and the full-text index must hold the same chunks, and a
sample of markers must find their own page. `make test` runs a short version
(tests/cli/test_crash.py); `make bench` a longer one.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import apsw

from lore.config import load_settings
from lore.kb.knowledge_base import KnowledgeBase


@dataclass
class CrashReport:
    pages: int
    kills: int
    killed_mid_run: int = 0
    """Kills that landed while the run was still going (the rest found it finished)."""
    markers_checked: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "pages": self.pages,
            "kills": self.kills,
            "killed_mid_run": self.killed_mid_run,
            "markers_checked": self.markers_checked,
            "seconds": round(self.seconds, 1),
            "problems": self.problems,
        }


def marker(n: int, version: int) -> str:
    return f"zmark{n}v{version}q"


def write_page(root: Path, n: int, version: int) -> None:
    page = root / f"part{n % 40}" / f"page{n}.md"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(
        f"# Page {n}\n\nThe {marker(n, version)} marker names this page.\n\n## Notes\n\n"
        + f"Item {n} sits between items {n - 1} and {n + 1} in the catalog.\n" * 4,
        encoding="utf-8",
    )


def generation(db_path: Path) -> int:
    try:
        db = apsw.Connection(str(db_path), flags=apsw.SQLITE_OPEN_READONLY)
    except apsw.Error:
        return 0
    try:
        db.setbusytimeout(1000)
        row = db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row else 0
    except apsw.Error:
        return 0
    finally:
        db.close()


def run(root: Path, *, pages: int, kills: int, seed: int, batch_files: int = 100) -> CrashReport:
    """Build the corpus in ``root`` (empty or missing), kill ``kills`` index runs, check."""
    rng = random.Random(seed)
    started = time.perf_counter()
    report = CrashReport(pages=pages, kills=kills)
    root.mkdir(parents=True, exist_ok=True)
    (root / "lore.toml").write_text(f"[index]\nbatch_files = {batch_files}\n", encoding="utf-8")
    versions = dict.fromkeys(range(pages), 0)
    for n in versions:
        write_page(root, n, 0)
    db_path = root / ".lore" / "lore.db"
    lore = [sys.executable, "-m", "lore", "index", str(root)]
    next_page = pages

    for _ in range(kills):
        for n in rng.sample(sorted(versions), k=min(5, len(versions))):
            versions[n] += 1
            write_page(root, n, versions[n])
        gone = rng.choice(sorted(versions))
        (root / f"part{gone % 40}" / f"page{gone}.md").unlink()
        del versions[gone]
        versions[next_page] = 0
        write_page(root, next_page, 0)
        next_page += 1

        before = generation(db_path)
        target = before + rng.randint(0, 3)
        proc = subprocess.Popen(lore, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while generation(db_path) < target and proc.poll() is None:
            time.sleep(0.005)  # polling the database for the commit that is the kill point
        try:
            proc.wait(timeout=rng.uniform(0, 0.3))  # and a random moment after it
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            report.killed_mid_run += 1
        proc.wait()

    final = subprocess.run(lore, capture_output=True, text=True, timeout=600)
    if final.returncode != 0:
        report.problems.append(f"the last run failed: {final.stderr.strip()}")
    report.problems += check(root, versions, rng, report)
    report.seconds = time.perf_counter() - started
    return report


def check(root: Path, versions: dict[int, int], rng: random.Random, report: CrashReport) -> list:
    problems = []
    expected = {f"part{n % 40}/page{n}.md" for n in versions}
    with KnowledgeBase.open(root, load_settings(root), read_only=True) as kb:
        paths = kb.catalog.all_paths()
        if len(paths) != len(set(paths)):
            problems.append(f"{len(paths) - len(set(paths))} files are in the catalog twice")
        if set(paths) != expected:
            missing, extra = expected - set(paths), set(paths) - expected
            problems.append(f"{len(missing)} files missing, {len(extra)} deleted files left")
        chunk_ids = sorted(r[0] for r in kb.catalog.reader.execute("SELECT id FROM chunks"))
        if sorted(kb.fulltext.chunk_ids()) != chunk_ids:
            problems.append("the full-text index and the catalog hold different chunks")
        vector_ids = sorted(r[0] for r in kb.catalog.reader.execute("SELECT chunk_id FROM vectors"))
        if vector_ids != chunk_ids:
            problems.append("the vectors and the catalog hold different chunks")
        for n in rng.sample(sorted(versions), k=min(200, len(versions))):
            hits = kb.search(marker(n, versions[n]), 3)
            found = [h.chunk.path for h in hits if marker(n, versions[n]) in h.chunk.text]
            if found != [f"part{n % 40}/page{n}.md"]:
                problems.append(f"marker of page {n} found in {found}")
            report.markers_checked += 1
    return problems
