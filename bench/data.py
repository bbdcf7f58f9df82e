"""The public benchmark data in ../shared/bench, unpacked once into bench/.work/."""

from __future__ import annotations

import gzip
import json
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# ../shared/bench beside the repository, or beside any folder above it.
SHARED = next(
    (
        p / "shared" / "bench"
        for p in Path(__file__).resolve().parents[1:]
        if (p / "shared" / "bench").is_dir()
    ),
    Path(__file__).resolve().parents[2] / "shared" / "bench",
)
WORK = REPO / "bench" / ".work"


def aws_docs() -> Path:
    """The AWS docs corpus (29,151 Markdown pages), unpacked."""
    target = WORK / "aws"
    corpus = target / "aws-docs"
    if not corpus.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["tar", "-xJf", str(SHARED / "corpora" / "aws-docs.tar.xz"), "-C", str(target)],
            check=True,
        )
    return corpus


def scifact() -> tuple[list[dict], list[dict], dict[str, dict[str, int]]]:
    """SciFact: the corpus, the dev queries, and the relevance judgements."""
    with gzip.open(SHARED / "scifact" / "corpus.jsonl.gz", "rt", encoding="utf-8") as f:
        corpus = [json.loads(line) for line in f]
    queries = [
        json.loads(line)
        for line in (SHARED / "scifact" / "dev" / "queries.jsonl").read_text().splitlines()
        if line.strip()
    ]
    qrels: dict[str, dict[str, int]] = {}
    for line in (SHARED / "scifact" / "dev" / "qrels.tsv").read_text().splitlines():
        parts = line.split("\t")
        if len(parts) != 3 or not parts[2].strip().isdigit():
            continue  # the header
        qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return corpus, queries, qrels
