"""How close `python -m diffattr.status`'s "time left" comes to the time a finished run really took.

Replays a finished run's Snakemake main log: cut after the progress line at each fraction of the jobs,
it is what status would have read at that moment (without the running jobs' step lines, so their time
left is their stage's mean less the time run so far); the estimate is compared with the time from that
moment to the run's last line. Writes bench/out/status_estimate.json.
Usage: python bench/status_estimate.py WORKFLOW_DIR [--log .snakemake/log/X.snakemake.log]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))
sys.path.insert(0, str(ROOT / "bench"))

from machine import cpu_model  # noqa: E402

from diffattr import status  # noqa: E402
from diffattr.core import runlog  # noqa: E402


def replay(log: Path, fractions: list[float]) -> list[dict]:
    run = runlog.parse_main_log(log)
    lines = log.read_text(errors="replace").splitlines()
    rows = []
    for fraction in fractions:
        target = max(1, int(run.total * fraction))
        # the first progress line at or past the target (totals can grow with a checkpoint)
        index = next(i for i, line in enumerate(lines) if (m := runlog.PROGRESS.match(line)) and int(m[1]) >= target)
        now = next(
            runlog.parse_stamp(m[1]) for line in reversed(lines[: index + 1]) if (m := runlog.TIMESTAMP.match(line))
        )
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            (work / "config").mkdir()
            (work / "Snakefile").write_text("")
            (work / "config" / "config.yaml").write_text("")
            (work / ".snakemake" / "log").mkdir(parents=True)
            (work / ".snakemake" / "locks").mkdir()
            (work / ".snakemake" / "locks" / "0.input.lock").write_text("")  # as while the run ran
            (work / ".snakemake" / "log" / log.name).write_text("\n".join(lines[: index + 1]) + "\n")
            got = status.gather(work, now=now)
        actual = (run.last_time - now).total_seconds()
        est = got["estimate"]
        rows.append(
            {
                "done": got["done"],
                "total_then": got["total"],
                "estimated_s": est["time_left_s"],
                "actual_s": actual,
                "error": round(est["time_left_s"] / actual - 1, 3) if actual > 0 else None,
                "untimed_jobs": est["untimed_jobs"],
                "parallelism": est["parallelism"],
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("workflow", type=Path)
    ap.add_argument("--log", type=Path, help="a main log (default: the workflow's newest run log)")
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.1, 0.25, 0.5, 0.75, 0.9])
    ap.add_argument("--out", default=str(ROOT / "bench/out/status_estimate.json"))
    args = ap.parse_args()
    log = args.workflow / args.log if args.log else runlog.latest_run_log(args.workflow)
    if log is None:
        sys.exit(f"status_estimate: no Snakemake run log in {args.workflow}/.snakemake/log")
    run = runlog.parse_main_log(log)
    if not run.ended or run.done != run.total:
        sys.exit(f"status_estimate: {log} is not a finished run ({run.done} of {run.total} jobs done)")
    result = {
        "log": str(log),
        "jobs": run.total,
        "wall_s": (run.last_time - run.started).total_seconds(),
        "cpu_model": cpu_model(),
        "points": replay(log, args.fractions),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
