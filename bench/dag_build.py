"""DAG build time of `snakemake -n` with many subsets (goal: at most 10 s at 5,000).

Writes bench/out/dag_build.json with the wall seconds of a dry run for each n_train, in a temp
copy of the workflow (nothing is run). Sample units (1,797 digits): the default's 10 class units
have only 252 distinct subsets of 5, so thousands of training subsets are refused there; without
leave-one-out, which needs group units. Start-up draws every subset (at 5,000 they are part of the
time measured). Usage: python bench/dag_build.py [--sizes 1000 5000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    ap.add_argument("--out", default=str(ROOT / "bench/out/dag_build.json"))
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for name in ("Snakefile", "rules", "workflow", "config", "lib", "envs", "report"):
            src = ROOT / name
            (shutil.copytree if src.is_dir() else shutil.copy)(src, work / name)
        base = time.perf_counter()
        subprocess.run([sys.executable, "-m", "snakemake", "--version"], check=True, capture_output=True)
        startup = time.perf_counter() - base
        for n in args.sizes:
            (work / "over.yaml").write_text(
                f"subsets: {{n_train: {n}, n_test: 64}}\nattribution: {{unit: sample}}\n"
                "datamodel: {estimators: [ridge, lasso, banzhaf, shapley]}\n"
            )
            start = time.perf_counter()
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "snakemake",
                    "-n",
                    "--quiet",
                    "rules",
                    "--workflow-profile",
                    "none",
                    "--scheduler",
                    "greedy",
                    "--configfile",
                    "config/config.yaml",
                    "over.yaml",
                ],
                cwd=work,
                capture_output=True,
                text=True,
            )
            seconds = time.perf_counter() - start
            if proc.returncode != 0:
                raise SystemExit(proc.stderr[-2000:])
            jobs = next(int(line.split()[1]) for line in proc.stdout.splitlines() if line.startswith("total"))
            results.append({"n_train": n, "jobs": jobs, "dry_run_seconds": seconds})
            print(results[-1])
    out = {"snakemake_version_seconds": startup, "runs": results}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
