"""`make plan`'s estimate against finished runs: the smoke preset and the embedded default.

For each, the plan is made as if from an empty store (a copy of this workflow without results/, the
same config) on this machine's calibration, and compared with what the finished run measured: per
stage, the summed wall and CPU seconds of its jobs' Snakemake benchmark files; in total, the run's
elapsed time from its Snakemake log (`--cores 2`). Writes bench/out/forecast.json with the relative
errors (estimate / actual - 1), the CPU model and the load average while calibrating (other processes
on the machine inflate the timings; CPU seconds less than wall).

Usage: python bench/forecast.py [--smoke /tmp/share/smoke-wf] [--default /tmp/fresh] [--cores 2]
       [--default-run-cpu SECONDS]
(each a finished workflow directory holding results/ and .snakemake/log/; read only, the smoke
store's benchmark files are copied first).
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from machine import cpu_model  # noqa: E402  bench/machine.py: bench/ is on sys.path when a bench script runs
from workflow_copy import copy_workflow  # noqa: E402

from diffattr import plan  # noqa: E402
from diffattr.core.atomic import write_json  # noqa: E402
from diffattr.core.families import EVAL_BATCH_PATTERN, UNLEARN_BATCH_PATTERN  # noqa: E402
from diffattr.workflow import calibration  # noqa: E402
from diffattr.workflow.dag import needed_jobs  # noqa: E402

PRESETS = {"smoke": ["config/config.yaml", "config/presets/smoke.yaml"], "default": ["config/config.yaml"]}


def rule_of(tsv: Path, store: Path) -> str:
    """The rule that wrote a benchmark file: its stage folder, except the behaviours of a batch
    (behaviour/<hash>/benchmarks/<batch>.tsv): an unlearning batch's are rule behaviour_unlearn's,
    an evaluation batch's of retrained models rule behaviour_retrained's."""
    stage = tsv.relative_to(store).parts[0]
    if stage == "behaviour" and re.fullmatch(UNLEARN_BATCH_PATTERN, tsv.stem):
        return "behaviour_unlearn"
    if stage == "behaviour" and re.fullmatch(EVAL_BATCH_PATTERN, tsv.stem):
        return "behaviour_retrained"
    return stage


def measured(run: Path) -> dict:
    """Per rule: jobs, summed wall and CPU seconds (benchmark files); the run's elapsed time (log)."""
    store = run / "results" / "store"
    with tempfile.TemporaryDirectory() as tmp:
        rows: dict[str, dict] = defaultdict(lambda: {"jobs": 0, "wall_s": 0.0, "cpu_s": 0.0})
        for tsv in sorted(store.rglob("*.tsv")):
            if "benchmark" not in str(tsv.relative_to(store)):
                continue
            copy = Path(tmp) / "b.tsv"
            shutil.copy(tsv, copy)
            with open(copy) as fh:
                last = list(csv.DictReader(fh, delimiter="\t"))[-1]
            row = rows[rule_of(tsv, store)]
            row["jobs"] += 1
            row["wall_s"] += float(last["s"])
            row["cpu_s"] += float(last["cpu_time"])
    elapsed = None
    for log in sorted((run / ".snakemake" / "log").glob("*.snakemake.log")):
        text = log.read_text()
        found = re.search(r"Elapsed time: (\d+):(\d+):(\d+(?:\.\d+)?)", text)
        if "steps (100%) done" in text and found:
            h, m, s = found.groups()
            elapsed = int(h) * 3600 + int(m) * 60 + float(s)
    return {"stages": dict(sorted(rows.items())), "elapsed_s": elapsed}


def estimated(configfiles: list[str], cores: int) -> dict:
    """The plan of an empty store: a fresh copy of this workflow, calibrated on this machine (the
    calibration cached under this checkout's results/.calibration/)."""
    with tempfile.TemporaryDirectory() as tmp:
        work = copy_workflow(Path(tmp))
        dag = needed_jobs(work, configfiles, cores)
    threads = plan.calibration_threads(dag.config)
    load_before = os.getloadavg()
    speeds, path, cached = calibration.load_or_measure(dag.config, threads, ROOT / calibration.CACHE_DIR)
    out = plan.make_plan(dag, speeds, cores, 64)
    out["calibration"] = {"file": str(path.relative_to(ROOT)), "cached": cached, "load_before": load_before}
    out["calibration"]["speeds"] = asdict(speeds)
    return out


def rel(est: float, act: float | None) -> float | None:
    return None if not act else round(est / act - 1, 4)


def compare(est: dict, act: dict) -> dict:
    stages = {}
    for rule, a in act["stages"].items():
        e = est["stages"].get(rule, {"jobs": 0, "pending_jobs": 0, "wall_s": 0.0, "cpu_s": 0.0})
        stages[rule] = {
            "jobs": [e["jobs"] + e["pending_jobs"], a["jobs"]],
            "wall_s": [round(e["wall_s"], 1), round(a["wall_s"], 1)],
            "cpu_s": [round(e["cpu_s"], 1), round(a["cpu_s"], 1)],
            "wall_error": rel(e["wall_s"], a["wall_s"]),
            "cpu_error": rel(e["cpu_s"], a["cpu_s"]),
        }
    benchmarked = set(act["stages"])
    est_wall = sum(est["stages"][r]["wall_s"] for r in benchmarked if r in est["stages"])
    est_cpu = sum(est["stages"][r]["cpu_s"] for r in benchmarked if r in est["stages"])
    act_wall = sum(a["wall_s"] for a in act["stages"].values())
    act_cpu = sum(a["cpu_s"] for a in act["stages"].values())
    return {
        "stages": stages,
        "benchmarked_jobs": {
            "wall_s": [round(est_wall, 1), round(act_wall, 1)],
            "wall_error": rel(est_wall, act_wall),
            "cpu_s": [round(est_cpu, 1), round(act_cpu, 1)],
            "cpu_error": rel(est_cpu, act_cpu),
        },
        "run_wall": {
            "estimate_s": round(est["local"]["wall_s"], 1),
            "actual_s": act["elapsed_s"],
            "error": rel(est["local"]["wall_s"], act["elapsed_s"]),
        },
        "estimate_jobs": est["total"]["jobs"] + est["total"]["pending_jobs"],
        "estimate_pending_jobs": est["total"]["pending_jobs"],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", default="/tmp/share/smoke-wf")
    ap.add_argument("--default", default="/tmp/fresh")
    ap.add_argument("--cores", type=int, default=2)
    # the default run's user + system seconds as time(1) measured them (docs/results.md "The default
    # run"); the benchmark files' cpu_time samples each job and misses some of it (and all of a job
    # forked from the preloaded process)
    ap.add_argument("--default-run-cpu", type=float, default=None, help="compared only when given")
    ap.add_argument("--out", default=str(ROOT / "bench/out/forecast.json"))
    args = ap.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    out = {"cpu_model": cpu_model(), "commit": commit.stdout.strip(), "cores": args.cores, "presets": {}}
    for name, run in (("smoke", args.smoke), ("default", args.default)):
        est = estimated(PRESETS[name], args.cores)
        result = compare(est, measured(Path(run)))
        result["calibration"] = est["calibration"]
        result["run"] = str(run)
        if name == "default" and args.default_run_cpu:
            total = est["local"]["cpu_s"]
            result["run_cpu"] = {
                "estimate_s": round(total, 1),
                "actual_s": args.default_run_cpu,
                "error": rel(total, args.default_run_cpu),
            }
        out["presets"][name] = result
        print(name, result["run_wall"], result["benchmarked_jobs"])
    out["loadavg_after"] = os.getloadavg()
    write_json(args.out, out)


if __name__ == "__main__":
    main()
