"""`python -m diffattr.status [--directory DIR] [--json]`: where a run stands, read from its files.

Reads the newest Snakemake main log of a workflow run in DIR (.snakemake/log/) and the rule logs it names
(results/logs/...), so it works the same for a local run and for one under the Slurm executor, whose main
process writes the same log on the submitting host. It prints the DAG's done/total, each running job's
step, steps/s and ETA, the slowest stage so far and an estimate of the time left; when no run is in
progress, a summary of the last one (its failed jobs with their logs).
"""

from __future__ import annotations

import argparse
import json
import math
from datetime import datetime
from pathlib import Path
from typing import Any

from diffattr.core.progress import duration
from diffattr.core.runlog import Job, Run, last_step, latest_run_log, parse_main_log, snakemake_running_in

METHOD = (
    "running jobs' time left (their ETA, else their stage's mean duration less the time run so far) plus, "
    "for each stage, its mean duration over finished jobs times its jobs not yet started (jobs of a stage "
    "with no finished job yet, and jobs a checkpoint added, at the mean duration of all finished jobs); "
    "this job-time divided by the parallelism seen so far (job-seconds run per second of wall time)"
)


def is_workflow(directory: Path) -> bool:
    return (directory / "Snakefile").is_file() and (directory / "config" / "config.yaml").is_file()


def in_progress(directory: Path, run: Run) -> bool:
    """A run is in progress while its log has no closing line and Snakemake holds its locks."""
    locks = directory / ".snakemake" / "locks"
    return not run.ended and locks.is_dir() and any(locks.iterdir())


def _job_row(job: Job, now: datetime) -> dict[str, Any]:
    row: dict[str, Any] = {
        "jobid": job.jobid,
        "rule": job.rule,
        "wildcards": job.wildcards,
        "log": job.logs[0] if job.logs else None,
    }
    if job.slurm_jobid or job.slurm_log:
        row["slurm_jobid"], row["slurm_log"] = job.slurm_jobid, job.slurm_log
    if job.started is not None and job.running:
        row["elapsed_s"] = round((now - job.started).total_seconds(), 1)
    return row


def stage_stats(run: Run) -> dict[str, dict[str, Any]]:
    """Per rule: planned jobs and, over its finished jobs, count, mean, max and summed duration (seconds)."""
    stats: dict[str, dict[str, Any]] = {}
    for rule, count in run.planned.items():
        stats[rule] = {"planned": count, "finished": 0, "total_s": 0.0, "max_s": 0.0}
    for job in run.jobs.values():
        seconds = job.duration()
        if seconds is None:
            continue
        row = stats.setdefault(job.rule, {"planned": None, "finished": 0, "total_s": 0.0, "max_s": 0.0})
        row["finished"] += 1
        row["total_s"] += seconds
        row["max_s"] = max(row["max_s"], seconds)
    for row in stats.values():
        row["mean_s"] = round(row["total_s"] / row["finished"], 2) if row["finished"] else None
    return stats


def estimate(run: Run, running: list[dict[str, Any]], stats: dict[str, dict[str, Any]], now: datetime) -> dict:
    """Time left, as METHOD says."""
    finished = [(r["total_s"], r["finished"]) for rule, r in stats.items() if r["finished"] and rule != "all"]
    stand_in = sum(t for t, _ in finished) / sum(n for _, n in finished) if finished else None
    job_seconds, untimed, counted, longest = 0.0, 0, 0, 0.0
    running_per_rule: dict[str, int] = {}
    for row in running:
        counted += 1
        running_per_rule[row["rule"]] = running_per_rule.get(row["rule"], 0) + 1
        mean = stats.get(row["rule"], {}).get("mean_s")
        if row.get("eta_s") is not None:
            left = row["eta_s"]
        elif mean is not None or stand_in is not None:
            untimed += mean is None
            left = max(0.0, (mean if mean is not None else stand_in) - row.get("elapsed_s", 0.0))
        else:
            untimed += 1
            continue
        job_seconds += left
        longest = max(longest, left)
    for rule, row in stats.items():
        if row["planned"] is None:
            continue
        left = max(0, row["planned"] - row["finished"] - running_per_rule.get(rule, 0))
        counted += left
        if rule == "all":
            continue  # the target rule: no work
        if row["mean_s"] is None:
            untimed += left
            job_seconds += left * (stand_in or 0.0)
        else:
            job_seconds += left * row["mean_s"]
    jobs_left = max(0, run.total - run.done)
    # jobs the progress line counts but the job table at the start did not (a checkpoint added them)
    added = max(0, jobs_left - counted)
    untimed += added
    job_seconds += added * (stand_in or 0.0)
    wall = (now - run.started).total_seconds() if run.started else 0.0
    busy = sum(r["total_s"] for r in stats.values()) + sum(r.get("elapsed_s", 0.0) for r in running)
    parallelism = max(1.0, busy / wall) if wall > 0 else max(1.0, float(len(running)))
    return {
        "time_left_s": round(max(longest, job_seconds / parallelism)),
        "parallelism": round(parallelism, 2),
        "jobs_left": jobs_left,
        "untimed_jobs": untimed,
        "untimed_job_s": None if stand_in is None else round(stand_in, 1),
        "method": METHOD,
    }


def gather(directory: Path, now: datetime | None = None) -> dict[str, Any]:
    """The status of the newest run in `directory` as a JSON-ready dict (raises LookupError without one)."""
    directory = Path(directory).resolve()
    log = latest_run_log(directory)
    if log is None:
        raise LookupError(f"no Snakemake run log in {directory / '.snakemake' / 'log'} yet")
    now = now or datetime.now()
    run = parse_main_log(log)
    active = in_progress(directory, run)
    failed = [job for job in run.jobs.values() if job.failed is not None]
    if not (run.ended or active or run.planned or run.total):
        # the banner is written and the DAG not yet built (no lock is taken before), or it stopped there
        state = "starting" if snakemake_running_in(directory) is not False else "stopped"
    elif active:
        state = "running"
    elif not run.ended:
        state = "interrupted"
    elif failed:
        state = "failed"
    else:
        state = "finished"
    running = []
    for job in sorted(run.jobs.values(), key=lambda j: j.jobid):
        if not job.running or job.started is None:
            continue
        row = _job_row(job, now)
        for path in job.logs:
            step = last_step(directory / path)
            if step is not None:
                eta = max(0.0, step.eta - step.age) if math.isfinite(step.eta) else None
                row.update(
                    label=step.label,
                    step=step.step,
                    steps=step.total,
                    steps_per_s=step.rate,
                    eta_s=None if eta is None else round(eta),
                )
                break
        if not active:  # the run is over: where the job stopped, without a clock still running
            row.pop("elapsed_s", None)
            row.pop("eta_s", None)
        running.append(row)
    stats = stage_stats(run)
    timed = {rule: row for rule, row in stats.items() if row["finished"] and rule != "all"}
    slowest = max(timed, key=lambda rule: timed[rule]["total_s"]) if timed else None
    end = now if state in ("running", "starting") else (run.last_time or run.started)
    status: dict[str, Any] = {
        "directory": str(directory),
        "log": str(log.relative_to(directory)),
        "state": state,
        "nothing_to_do": run.nothing_to_do,
        "quiet": run.quiet,
        "done": run.done,
        "total": run.total,
        "started": run.started.isoformat() if run.started else None,
        "elapsed_s": round((end - run.started).total_seconds()) if run.started else None,
        "running": running if active else [],
        "unfinished": [] if active else running,
        "failed": [_job_row(job, now) for job in failed],
        "stages": stats,
        "slowest_stage": None if slowest is None else {"rule": slowest, **timed[slowest]},
        "estimate": estimate(run, running, stats, now) if active else None,
    }
    return status


def _job_line(row: dict[str, Any]) -> str:
    name = f"{row['rule']}" + (f" [{row['wildcards']}]" if row["wildcards"] else "")
    parts = [f"  {name} (jobid {row['jobid']})"]
    if "step" in row:
        label = "" if row["label"] == row["rule"] else f"{row['label']} "
        parts.append(f"{label}step {row['step']}/{row['steps']}, {row['steps_per_s']:g} steps/s")
        if "eta_s" in row:
            parts.append(f"ETA {duration(row['eta_s'])}")
    elif "elapsed_s" in row:
        parts.append("no step line yet" + (" (queued or starting on Slurm)" if row.get("slurm_jobid") else ""))
    if "elapsed_s" in row:
        parts.append(f"running {duration(row['elapsed_s'])}")
    if row.get("slurm_jobid"):
        parts.append(f"Slurm job {row['slurm_jobid']}")
    if row["log"]:
        parts.append(f"log {row['log']}")
    return ", ".join(parts)


def render(status: dict[str, Any]) -> str:
    """The human-readable status."""
    done, total = status["done"], status["total"]
    percent = f" ({100 * done / total:.0f}%)" if total else ""
    head = {
        "running": "Run in progress",
        "starting": "A run is starting: Snakemake is building its DAG",
        "stopped": "No run in progress; the last run stopped before it had a DAG (see its log)",
        "finished": "No run in progress; the last run "
        + ("had nothing to do" if status["nothing_to_do"] else "finished"),
        "failed": "No run in progress; the last run failed",
        "interrupted": "No run in progress; the last run stopped before it ended (killed?)",
    }[status["state"]]
    took = "running" if status["state"] in ("running", "starting") else "logged for"
    out = [f"{head}: {status['log']} (started {status['started']}, {took} {duration(status['elapsed_s'])})"]
    if status.get("quiet") and not total:
        out.append("Jobs: not in the log: the run was started with --quiet (-q), which logs no jobs; run without it")
    else:
        out.append(f"Jobs done: {done} of {total}{percent}")
    if status["running"]:
        out.append(f"Running ({len(status['running'])}):")
        out += [_job_line(row) for row in status["running"]]
    if status["unfinished"]:
        out.append(f"Started and not finished ({len(status['unfinished'])}):")
        out += [_job_line(row) for row in status["unfinished"]]
    if status["failed"]:
        out.append(f"Failed ({len(status['failed'])}):")
        for row in status["failed"]:
            line = _job_line(row)
            out.append(line + (f", Slurm log {row['slurm_log']}" if row.get("slurm_log") else ""))
    slow = status["slowest_stage"]
    if slow:
        so_far = " so far" * (status["state"] == "running")
        out.append(
            f"Slowest stage{so_far}: {slow['rule']} ({slow['finished']} job(s) finished, mean "
            f"{duration(slow['mean_s'])}, longest {duration(slow['max_s'])}, {duration(slow['total_s'])} in all)"
        )
    est = status["estimate"]
    if est:
        untimed = ""
        if est["untimed_jobs"]:
            each = "not counted" if est["untimed_job_s"] is None else f"at {duration(est['untimed_job_s'])} each"
            untimed = f"; {est['untimed_jobs']} job(s) of stages not yet timed {each}"
        out.append(
            f"Estimated time left: {duration(est['time_left_s'])} for {est['jobs_left']} job(s) "
            f"(parallelism so far: {est['parallelism']:g} jobs at once{untimed})"
        )
        out.append(f"  estimated from the {est['method']}.")
    return "\n".join(out)


def _say(message: str, as_json: bool) -> int:
    """A one-line answer where there is no run to describe (exit code 0: nothing is wrong with asking)."""
    print(json.dumps({"state": None, "message": message}) if as_json else f"diffattr.status: {message}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m diffattr.status", description=__doc__.splitlines()[0])
    parser.add_argument("--directory", "-d", default=".", help="the workflow directory (default: here)")
    parser.add_argument("--json", action="store_true", help="print the status as JSON")
    args = parser.parse_args(argv)
    directory = Path(args.directory)
    if not is_workflow(directory):
        return _say(
            f"{directory} is not a diffattr workflow directory (no Snakefile and config/config.yaml); "
            "run this in the workflow's root or pass --directory",
            as_json=args.json,
        )
    try:
        status = gather(directory)
    except LookupError as err:
        return _say(f"{err}: no run has started here (start one with `make run`)", as_json=args.json)
    print(json.dumps(status, indent=1) if args.json else render(status))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
