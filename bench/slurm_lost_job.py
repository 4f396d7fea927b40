"""A Slurm job lost with its node, on the CI's single-node Slurm (tests/slurm/cluster.py): how long it
blocks the run under the time limit derived from its forecast (slurm_limits.py), against the fixed
80 minutes (unlearn 60 + behaviour 20) a grouped job asked for before.

A copy of a finished smoke-preset workflow loses one retrained test model; `snakemake --profile slurm`
resubmits its group job (retrain + behaviour). While that job runs, the node "crashes" as in the
report that motivated this: slurmd, every slurmstepd and the job's processes are killed with
SIGKILL, and slurmd comes back 15 s later. The bench records the job's time limit (scontrol), how
long Slurm kept it RUNNING with nothing behind it, when Snakemake resubmitted it, and whether the
run then finished. Writes bench/out/slurm_lost_job.json.

    python bench/slurm_lost_job.py --from /path/to/finished/smoke/workflow [--floor-minutes 1]

Needs root (the test cluster's daemons) and Slurm + munge installed, as the CI Slurm test does.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from machine import cpu_model
from workflow_copy import ROOT, copy_workflow

sys.path.insert(0, str(ROOT / "tests" / "slurm"))
from cluster import Cluster  # noqa: E402  (the CI's test cluster)

SMOKE = ["--configfile", "config/config.yaml", "config/presets/smoke.yaml", "limits.yaml"]
ENV = {"DIFFATTR_SLURM_PARTITION": "ci", "DIFFATTR_SLURM_ACCOUNT": "diffattr-ci", "PYTHONPATH": "lib"}
OLD_FIXED_MINUTES = 80


def squeue() -> list[dict[str, str]]:
    out = subprocess.run(["squeue", "-h", "-o", "%i|%j|%T|%l|%M"], capture_output=True, text=True).stdout
    return [dict(zip(("id", "name", "state", "limit", "elapsed"), line.split("|"))) for line in out.splitlines()]


def job_comment(job_id: str) -> str:
    out = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True).stdout
    return out


def crash_node(c: Cluster) -> None:
    """SIGKILL slurmd, every slurmstepd and their children: what a node crash leaves behind."""
    pids = subprocess.run(["pgrep", "-x", "slurmstepd"], capture_output=True, text=True).stdout.split()
    children = []
    for pid in pids:
        children += subprocess.run(["pgrep", "-P", pid], capture_output=True, text=True).stdout.split()
    for pid in children:  # the job's shell and its Snakemake, and their script processes
        children += subprocess.run(["pgrep", "-P", pid], capture_output=True, text=True).stdout.split()
    slurmd = (c.root / "slurmd.pid").read_text().strip()
    for pid in [slurmd, *pids, *children]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--from", dest="source", required=True, help="a finished smoke-preset workflow (with results/)")
    ap.add_argument("--work", default="/tmp/bench-lost-job", help="scratch folder (replaced)")
    ap.add_argument("--floor-minutes", type=int, default=1, help="slurm_limits.floor_minutes for the run")
    ap.add_argument("--out", default=str(ROOT / "bench" / "out" / "slurm_lost_job.json"))
    args = ap.parse_args()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    copy_workflow(work / "wf")
    wf = work / "wf"
    shutil.copytree(Path(args.source) / "results", wf / "results")
    if (Path(args.source) / ".snakemake").is_dir():
        shutil.copytree(Path(args.source) / ".snakemake", wf / ".snakemake", ignore=shutil.ignore_patterns("locks"))
    (wf / "limits.yaml").write_text(yaml.safe_dump({"slurm_limits": {"floor_minutes": args.floor_minutes}}))
    # one retrained test model lost: its group job (retrain + behaviour) is submitted again
    store = wf / "results" / "store"
    victim = min(p.name for p in store.glob("retrain/*/test-*"))
    shutil.rmtree(next(store.glob(f"retrain/*/{victim}")))
    for p in store.glob(f"behaviour/*/{victim}.json"):
        p.unlink()
    env = {**os.environ, **ENV}
    # the calibration the limits come from, measured before the clock starts (a run would do it once)
    subprocess.run(
        [sys.executable, "-m", "diffattr.plan", "--calibrate-only", "--configfile", *SMOKE[1:]],
        cwd=wf,
        env=env,
        check=True,
    )
    c = Cluster(work / "slurm", cpus=8, mem=16000)
    c.start()
    record: dict = {"cpu_model": cpu_model(), "floor_minutes": args.floor_minutes, "victim": victim}
    try:
        start = time.time()
        log = (work / "snakemake.log").open("w")
        run = subprocess.Popen(
            [sys.executable, "-m", "snakemake", "--profile", "slurm", "-j", "4", *SMOKE],
            cwd=wf,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        lost = None
        while lost is None and run.poll() is None:
            running = [j for j in squeue() if j["state"] == "RUNNING"]
            if running:
                lost = running[0]
            time.sleep(1)
        if lost is None:
            raise RuntimeError("no job ever ran: see " + str(work / "snakemake.log"))
        time.sleep(10)  # the job's Snakemake has started its rule
        limit = re.search(r"TimeLimit=(\S+)", job_comment(lost["id"])).group(1)
        crash = time.time()
        crash_node(c)
        time.sleep(15)
        subprocess.run(["slurmd", "-f", str(c.conf)], check=True)
        released = None
        while run.poll() is None:
            if released is None and lost["id"] not in {j["id"] for j in squeue() if j["state"] == "RUNNING"}:
                released = time.time()
                record["state_after"] = re.search(r"JobState=(\S+)", job_comment(lost["id"])).group(1)
            time.sleep(2)
        end = time.time()
        log.close()
        text = (work / "snakemake.log").read_text()
        record.update(
            lost_job=lost,
            time_limit=limit,
            blocked_s=round((released or end) - crash, 1),
            run_wall_s=round(end - start, 1),
            finished=run.returncode == 0,
            retried="Trying to restart" in text or "attempt 2" in text,
            old_fixed_limit_minutes=OLD_FIXED_MINUTES,
        )
    finally:
        if "run" in locals() and run.poll() is None:
            run.kill()
        c.stop()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    return 0 if record.get("finished") else 1


if __name__ == "__main__":
    sys.exit(main())
