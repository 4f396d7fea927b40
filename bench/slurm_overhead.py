"""What one Slurm job costs beyond the work it runs, on a real single-node Slurm.

Starts the test cluster of tests/slurm (Debian's slurm-wlm + munge, as root), runs the smoke preset
with `--profile slurm` in a temp copy of the workflow, and for every Slurm job takes its wall time
from `scontrol show job` (StartTime..EndTime, 1 s resolution) minus the wall seconds of the rules
it ran (their Snakemake benchmark files, which include each script's own start-up). With
--default-run DIR (a finished local run of the default config) it also writes the share that
overhead would take of a default-sized group job (one unlearning batch + its evaluation).

Usage: python bench/slurm_overhead.py [--default-run DIR]   -> bench/out/slurm_overhead.json
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests/slurm")]

from cluster import Cluster, missing_binaries  # noqa: E402
from conftest import SMOKE, copy_workflow  # noqa: E402


def wall(tsv: Path) -> float:
    with open(tsv, newline="") as fh:
        return float(list(csv.DictReader(fh, delimiter="\t"))[-1]["s"])


def slurm_wall(job_id: str) -> tuple[float, float]:
    """(run seconds, queue seconds) of a finished job, from scontrol (kept for MinJobAge)."""
    out = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, check=True).stdout
    f = dict(re.findall(r"(\w+)=(\S+)", out))
    t = {k: datetime.fromisoformat(f[k]) for k in ("SubmitTime", "StartTime", "EndTime")}
    return (t["EndTime"] - t["StartTime"]).total_seconds(), (t["StartTime"] - t["SubmitTime"]).total_seconds()


def benchmarks_in(log_text: str, work: Path) -> list[Path]:
    """Benchmark files of the rules a Slurm job ran, as Snakemake printed them in the job's log."""
    return sorted({work / p for p in re.findall(r"^\s*benchmark: (\S+)", log_text, re.M) if (work / p).exists()})


def default_group_seconds(run: Path) -> float:
    """Median wall of (unlearn batch job + its behaviour_unlearn job) in a finished default run."""
    store = run / "results/store"
    totals = []
    for tsv in (store / "unlearn").glob("*/benchmarks/*.tsv"):
        evals = list((store / "behaviour").glob(f"*/benchmarks/{tsv.name}"))
        if evals:
            totals.append(wall(tsv) + wall(evals[0]))
    if not totals:
        raise SystemExit(f"{run}: no unlearn + behaviour_unlearn benchmarks; pass a finished default run")
    return statistics.median(totals)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--default-run", type=Path)
    ap.add_argument("--out", type=Path, default=ROOT / "bench/out/slurm_overhead.json")
    ap.add_argument("--keep", type=Path, help="run in this folder and keep it (the job logs), instead of a temp one")
    args = ap.parse_args()
    if missing_binaries():
        raise SystemExit(f"Slurm missing ({missing_binaries()}): apt-get install -y slurm-wlm munge")
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.keep or Path(scratch)
        cluster = Cluster(Path(tmp) / "slurm")
        cluster.start()
        try:
            work = copy_workflow(Path(tmp) / "wf")
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "snakemake",
                    "--profile",
                    "slurm",
                    "-j",
                    "8",
                    "--slurm-keep-successful-logs",
                    *SMOKE,
                ],
                cwd=work,
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                raise SystemExit(proc.stderr[-3000:])
            jobs = []
            for log in sorted((work / ".snakemake/slurm_logs").rglob("*.log")):
                run_s, queue_s = slurm_wall(log.stem)
                rules = benchmarks_in(log.read_text(), work)
                work_s = sum(wall(b) for b in rules)
                jobs.append(
                    {
                        "slurm_job": log.stem,
                        "kind": log.relative_to(work / ".snakemake/slurm_logs").parts[0],
                        "run_seconds": run_s,
                        "queue_seconds": queue_s,
                        "rules": len(rules),
                        "rule_seconds": work_s,
                        "overhead_seconds": run_s - work_s,
                    }
                )
        finally:
            cluster.stop()
    measured = [j for j in jobs if j["rules"]]
    overhead = statistics.median(j["overhead_seconds"] for j in measured)
    out = {
        "slurm_jobs": jobs,
        "median_overhead_seconds": overhead,
        "note": "overhead = Slurm run time - the wall seconds of the rules the job ran (1 s resolution)",
    }
    if args.default_run:
        group = default_group_seconds(args.default_run)
        out["default_group_job_seconds"] = group
        out["default_group_overhead_share"] = overhead / (overhead + group)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({k: v for k, v in out.items() if k != "slurm_jobs"}, indent=2))


if __name__ == "__main__":
    main()
