"""A finished run's job records, read by the benchmarks: each job's start-up from its log and its
wall from its Snakemake benchmark file (results/logs/<stage>/... beside results/store/<stage>/...)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

STARTUP = re.compile(r"start-up \(interpreter \+ imports\): ([\d.]+)s")
# start_model_job logs the device of every job that trains, samples or extracts features
MODEL_JOB = re.compile(r"compute: device ")
# issue 23 item 4: start-up at most 5 % of every model job's wall
STARTUP_LIMIT = 0.05


def benchmark_seconds(store: Path, stage: str, rel: Path) -> float | None:
    """The wall seconds of the job whose log is results/logs/<stage>/<rel>.log: its Snakemake
    benchmark <hash>/benchmark.tsv (one job per hash), <hash>/<name>/benchmark.tsv or
    <hash>/benchmarks/<name>.tsv."""
    h = rel.parts[0]
    # the name whole: an evaluation batch's carries a digest after a dot (test-0000-0009.a06d2d33)
    name = rel.name if len(rel.parts) > 1 else None
    candidates = (
        [store / stage / h / "benchmark.tsv"]
        if name is None
        else [store / stage / h / name / "benchmark.tsv", store / stage / h / "benchmarks" / f"{name}.tsv"]
    )
    for c in candidates:
        if c.is_file():
            lines = c.read_text().splitlines()
            return float(lines[1].split("\t")[0])
    return None


def job_logs(results: Path) -> Iterator[tuple[str, Path, Path]]:
    """(stage, the log relative to its stage's folder without .log, the log) for every job log."""
    for log in sorted((results / "logs").rglob("*.log")):
        stage = log.relative_to(results / "logs").parts[0]
        yield stage, log.relative_to(results / "logs" / stage).with_suffix(""), log


def startup_seconds(text: str) -> float | None:
    """The job's start-up (interpreter + imports) from its log's text, or None."""
    m = STARTUP.search(text)
    return float(m.group(1)) if m else None


def model_job_records(results: Path) -> Iterator[tuple[str, str, float, float]]:
    """(stage, its log's text, start-up seconds, wall seconds) for every job that runs a model and has
    both records (issue 23 item 4's measure)."""
    for stage, rel, log in job_logs(results):
        text = log.read_text(errors="replace")
        startup, wall = startup_seconds(text), benchmark_seconds(results / "store", stage, rel)
        if MODEL_JOB.search(text) and startup is not None and wall:
            yield stage, text, startup, wall
