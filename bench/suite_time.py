"""The test suite's cost: runs `make test` (its two xdist workers, the Slurm tests included) with every
test's duration, and writes bench/out/suite_time.json: wall seconds, the CPU seconds of everything it
started (user and system, from the children's rusage), the CPU model, the commit, the load average at
the start, pytest's summary line and the slowest tests. CI's limit is 90 minutes on machines up to 2x
slower per core, so `make test` should stay under 30 minutes here (docs/testing.md).
Usage: python bench/suite_time.py [--out bench/out/suite_time.json] [--top 30]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import time
from pathlib import Path

from machine import cpu_model

ROOT = Path(__file__).resolve().parents[1]
DURATION = re.compile(r"^([\d.]+)s (call|setup|teardown)\s+(\S+)$")
# pytest -q ends with "553 passed, 3 warnings in 2173.94s (0:36:13)", framed by = without -q.
SUMMARY = re.compile(r"^(?:=+ )?(\d+ (?:passed|failed).*?) in ([\d.]+)s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "bench/out/suite_time.json"))
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--log", default=str(ROOT / "bench/out/suite_time.log"))
    args = ap.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    env = {**os.environ, "PYTEST_ADDOPTS": f"{os.environ.get('PYTEST_ADDOPTS', '')} --durations=0".strip()}
    load = os.getloadavg()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.time()
    Path(args.log).parent.mkdir(parents=True, exist_ok=True)  # bench/out/ is not in a fresh clone
    with open(args.log, "w") as log:
        rc = subprocess.run(["make", "test"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    wall = time.time() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = Path(args.log).read_text().splitlines()
    durations = [
        {"seconds": float(m[1]), "phase": m[2], "test": m[3]} for line in lines if (m := DURATION.match(line.strip()))
    ]
    summary = next((m[1] for line in lines if (m := SUMMARY.match(line.strip()))), None)
    out = {
        "commit": commit.stdout.strip(),
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "loadavg_at_start": list(load),
        "returncode": rc,
        "summary": summary,
        "wall_seconds": round(wall, 1),
        "cpu_user_seconds": round(after.ru_utime - before.ru_utime, 1),
        "cpu_system_seconds": round(after.ru_stime - before.ru_stime, 1),
        "slowest": sorted(durations, key=lambda d: -d["seconds"])[: args.top],
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({k: v for k, v in out.items() if k != "slowest"}, indent=2))


if __name__ == "__main__":
    main()
