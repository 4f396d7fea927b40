"""What compute.preload buys (issue 23 item 4), measured in one run: the smoke preset's whole DAG on an
empty store with the preloaded process (the default) and without it (`compute: {preload: false}`),
the two runs taking turns (`--rounds` each), each in a fresh copy of the workflow; then the two
stores compared file by file (store_compare.compare: the same computation must give the same bytes
but for timings) and every model job's start-up from its log.

Writes bench/out/preload.json: per way, each run's wall and CPU seconds (the children's rusage: the
preloaded process reaps its forks, so their CPU is in it), the jobs run, the model jobs' start-up
(median, max) and how many of them exceed issue 23's 5 % of their job's wall; the ratios of the
medians; the store comparison's counts. Takes about 7 minutes a round on 2 cores.
Usage: python bench/preload.py [--rounds 1] [--out bench/out/preload.json] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from job_records import STARTUP_LIMIT, job_logs, model_job_records  # bench/ is on sys.path
from machine import commit, cpu_model
from store_compare import DEFAULT_EXPECT_DIFFER, compare
from workflow_copy import copy_workflow

from diffattr.core.atomic import write_json
from diffattr.core.handover import FORKED_LOG

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ["--configfile", "config/config.yaml", "config/presets/smoke.yaml"]


def run_smoke(work: Path, preload: bool) -> dict:
    overlay = work / "preload.yaml"
    overlay.write_text(f"compute: {{preload: {'true' if preload else 'false'}}}\n")
    cmd = [sys.executable, "-m", "snakemake", "--cores", "all", *SMOKE, str(overlay)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.time()
    with open(work / "snakemake.log", "w") as log:
        rc = subprocess.run(cmd, cwd=work, stdout=log, stderr=subprocess.STDOUT).returncode
    wall = time.time() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if rc != 0:
        raise SystemExit(f"the smoke run in {work} failed (rc {rc}); see {work / 'snakemake.log'}")
    results = work / "results"
    records = list(model_job_records(results))
    startups = [startup for _, _, startup, _ in records]
    shares = [startup / job_wall for _, _, startup, job_wall in records]
    return {
        "wall_seconds": round(wall, 1),
        "cpu_user_seconds": round(after.ru_utime - before.ru_utime, 1),
        "cpu_system_seconds": round(after.ru_stime - before.ru_stime, 1),
        "jobs": sum(1 for _ in job_logs(results)),
        "model_jobs": len(records),
        "model_jobs_forked": sum(FORKED_LOG in text for _, text, _, _ in records),
        "startup_seconds_median": round(statistics.median(startups), 3),
        "startup_seconds_max": round(max(startups), 3),
        "model_jobs_over_5_percent": sum(s > STARTUP_LIMIT for s in shares),
        "startup_share_median": round(statistics.median(shares), 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "bench/out/preload.json"))
    ap.add_argument("--keep", default=None, help="keep the workflow copies here (default: a temporary folder)")
    args = ap.parse_args()
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-preload-"))
    load = os.getloadavg()
    runs: dict[str, list[dict]] = {"preload": [], "own_process": []}
    stores: dict[str, Path] = {}
    for r in range(args.rounds):
        # alternate which way goes first, so a drift in the machine's speed does not favour one
        order = [("preload", True), ("own_process", False)]
        for name, preload in order if r % 2 == 0 else order[::-1]:
            work = copy_workflow(base / f"{name}-{r}")
            runs[name].append(run_smoke(work, preload))
            stores[name] = work / "results" / "store"
    result = compare(stores["own_process"], stores["preload"])
    unexpected = sorted(k for k in result["differs"] if not k.startswith(tuple(DEFAULT_EXPECT_DIFFER)))

    def median(name: str, key: str) -> float:
        return statistics.median(run[key] for run in runs[name])

    out = {
        "commit": commit(),
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "loadavg_at_start": list(load),
        "rounds": args.rounds,
        "runs": runs,
        "wall_ratio_own_over_preload": round(
            median("own_process", "wall_seconds") / median("preload", "wall_seconds"), 3
        ),
        "cpu_ratio_own_over_preload": round(
            (median("own_process", "cpu_user_seconds") + median("own_process", "cpu_system_seconds"))
            / (median("preload", "cpu_user_seconds") + median("preload", "cpu_system_seconds")),
            3,
        ),
        "stores": {
            "identical": len(result["identical"]),
            "timing_only": len(result["timing_only"]),
            "differs_expected": len(result["differs"]) - len(unexpected),
            "differs_unexpected": unexpected,
            "only_one_side": len(result["only_before"]) + len(result["only_after"]),
        },
    }
    write_json(args.out, out)
    print(json.dumps({k: v for k, v in out.items() if k != "runs"}, indent=1))
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
