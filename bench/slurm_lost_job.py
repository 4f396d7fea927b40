"""A Slurm job lost with its node, on the CI's single-node Slurm (tests/slurm/cluster.py): how long it
blocks the run under the time limit derived from its forecast (slurm_limits.py), against the fixed
140 minutes (resources.retrain 120 + behaviour 20) the same group job asked for before.

A copy of a finished smoke-preset workflow loses one retrained test model and its behaviour;
`snakemake --profile slurm` asked for that behaviour submits their group job (retrain + behaviour).
While that job runs, the node "crashes" as in the report that motivated this: slurmd, every
slurmstepd and the job's processes are killed with SIGKILL, and slurmd comes back 15 s later. The
bench records the job's time limit (scontrol), how long Slurm kept it RUNNING with nothing behind
it, when Snakemake resubmitted it, and whether the run then finished. Writes
bench/out/slurm_lost_job.json.

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
OLD_FIXED_MINUTES = 140  # the default config's retrain + behaviour runtimes before


def squeue() -> list[dict[str, str]]:
    out = subprocess.run(["squeue", "-h", "-o", "%i|%j|%T|%l|%M"], capture_output=True, text=True).stdout
    return [dict(zip(("id", "name", "state", "limit", "elapsed"), line.split("|"))) for line in out.splitlines()]


def job_comment(job_id: str) -> str:
    out = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True).stdout
    return out


def crash_node(c: Cluster) -> None:
    """SIGKILL slurmd, every slurmstepd and their children: what a node crash leaves behind."""
    steps = subprocess.run(["pgrep", "-x", "slurmstepd"], capture_output=True, text=True).stdout.split()
    children = job_processes()
    slurmd = (c.root / "slurmd.pid").read_text().strip()
    for pid in [slurmd, *steps, *children]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)


def job_processes() -> list[str]:
    """Every process under a slurmstepd: the job's shell, its Snakemake and their scripts."""
    procs = subprocess.run(["pgrep", "-x", "slurmstepd"], capture_output=True, text=True).stdout.split()
    out, frontier = [], procs
    while frontier:
        kids = [
            k
            for pid in frontier
            for k in subprocess.run(["pgrep", "-P", pid], capture_output=True, text=True).stdout.split()
        ]
        out += kids
        frontier = kids
    return out


def hang_job() -> None:
    """SIGSTOP the job's processes: Slurm still sees a running job, nothing progresses (a node whose
    file system hangs, or a crashed node Slurm has not noticed). Only the time limit ends it."""
    for pid in job_processes():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGSTOP)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--from", dest="source", required=True, help="a finished smoke-preset workflow (with results/)")
    ap.add_argument("--work", default="/tmp/bench-lost-job", help="scratch folder (replaced)")
    ap.add_argument("--floor-minutes", type=int, default=1, help="slurm_limits.floor_minutes for the run")
    ap.add_argument(
        "--mode", choices=["crash", "hang"], default="crash", help="kill slurmd and the job, or freeze the job"
    )
    ap.add_argument("--out", default=None, help="default: bench/out/slurm_lost_job_<mode>.json")
    args = ap.parse_args()
    args.out = args.out or str(ROOT / "bench" / "out" / f"slurm_lost_job_{args.mode}.json")
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    copy_workflow(work / "wf")
    wf = work / "wf"
    shutil.copytree(Path(args.source) / "results", wf / "results")
    if (Path(args.source) / ".snakemake").is_dir():
        shutil.copytree(Path(args.source) / ".snakemake", wf / ".snakemake", ignore=shutil.ignore_patterns("locks"))
    (wf / "limits.yaml").write_text(yaml.safe_dump({"slurm_limits": {"floor_minutes": args.floor_minutes}}))
    # one retraining batch of test models lost: its group job (retrain + behaviour) is submitted again
    store = wf / "results" / "store"
    victim = min(store.glob("retrain/*/test-*"))
    first = json.loads((victim / "job.json").read_text())["subsets"][0]
    shutil.rmtree(victim)
    # its first model's evaluation batch, the run's target: the group job alone (the analysis after it
    # is not the point)
    targets = [str(p.parent.relative_to(wf)) for p in store.glob(f"behaviour/*/*/{first}.json")]
    for p in targets:
        shutil.rmtree(wf / p)
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
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    record: dict = {
        "commit": commit.stdout.strip(),
        "mode": args.mode,
        "cpu_model": cpu_model(),
        "floor_minutes": args.floor_minutes,
        "victim": victim,
    }
    try:
        start = time.time()
        log = (work / "snakemake.log").open("w")
        run = subprocess.Popen(
            [sys.executable, "-m", "snakemake", "--profile", "slurm", "-j", "4", *SMOKE, "--", *targets],
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
        if args.mode == "crash":
            crash_node(c)
            time.sleep(15)
            subprocess.run(["slurmd", "-f", str(c.conf)], check=True)
        else:
            hang_job()
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
            # a job Snakemake submitted again (its retry); Slurm's own requeue keeps the job id
            snakemake_retries=len(re.findall(r"has been submitted with SLURM jobid", text)) - len(targets),
            slurmctld_log=[
                line
                for line in (c.root / "log" / "slurmctld.log").read_text().splitlines()
                if re.search(rf"JobId={lost['id']}\b", line)
            ][-8:],
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
