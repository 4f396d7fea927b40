"""Reading a Snakemake run from the files it leaves: the main log (.snakemake/log/*.snakemake.log) and the
step lines that StepLogger writes into each rule's log.

The main log has the same shape locally and under the Slurm executor (snakemake 9, executor plugin 2.8):
a timestamp line "[Thu Dec  3 05:28:18 2026]" before each job block ("localrule X:" locally, "rule X:"
for a submitted job, with indented "jobid:", "log:" and "wildcards:" lines), "Finished jobid: N (Rule: X)",
"N of M steps (P%) done", "Error in rule X:" blocks, and under Slurm "Job N has been submitted with SLURM
jobid S (log: PATH)." (or "Submitted array job with Snakemake IDs 1,2 and SLURM job ID S"). A run that
ended, well or not, closes with "Complete log(s): ..."; one killed hard does not.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

TIMESTAMP = re.compile(r"^\s*\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
JOB_HEAD = re.compile(r"^\s*(?:local)?(?:rule|checkpoint) ([\w]+):$")
FIELD = re.compile(r"^\s+(jobid|log|wildcards|slurm_logfile): (.*)$")
FINISHED = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)")
PROGRESS = re.compile(r"^(\d+) of (\d+) steps \(")
ERROR_HEAD = re.compile(r"^\s*Error in rule (\w+):$")
GROUP_ERROR = re.compile(r"^\s*Error in group (\S+):$")
SUBMITTED = re.compile(r"^Job (\d+) has been submitted with SLURM jobid (\S+) \(log: (.*)\)\.$")
ARRAY_SUBMITTED = re.compile(r"^Submitted array job with Snakemake IDs ([\d,]+) and SLURM job ID (\S+)\.")
RESTART = re.compile(r"^Trying to restart job (\d+)\.")
STEP = re.compile(
    r"(?P<label>\S+) step (?P<step>\d+)/(?P<total>\d+) loss \S+ (?P<rate>[\d.]+|inf) steps/s ETA (?P<eta>\S+)s"
)
# Logs that are not a workflow run (a report, a lint) have none of these; a run's has the banner from
# its start (before the DAG is built) and the job table or "Nothing to be done" after.
RUN_MARKERS = ("\nSNAKEMAKE\n=========\n", "Job stats:", "Nothing to be done")
BANNER_DATE = re.compile(r"^  Date: (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)$")


@dataclass
class Job:
    """One job of the run as the main log tells it."""

    jobid: int
    rule: str
    logs: list[str] = field(default_factory=list)
    wildcards: str = ""
    started: datetime | None = None
    finished: datetime | None = None
    failed: datetime | None = None
    slurm_jobid: str | None = None
    slurm_log: str | None = None

    @property
    def running(self) -> bool:
        return self.finished is None and self.failed is None

    def duration(self) -> float | None:
        if self.started is None or self.finished is None:
            return None
        return (self.finished - self.started).total_seconds()


@dataclass
class Run:
    """A parsed main log: its jobs by id, the planned jobs per rule and the latest progress line."""

    path: Path
    started: datetime | None = None
    planned: dict[str, int] = field(default_factory=dict)
    jobs: dict[int, Job] = field(default_factory=dict)
    done: int = 0
    total: int = 0
    ended: bool = False
    nothing_to_do: bool = False
    last_time: datetime | None = None
    # Started with --quiet (-q): Snakemake then logs no job blocks and no progress, only its banner.
    quiet: bool = False


@dataclass
class StepLine:
    """The last "<label> step i/n ... steps/s ETA s" line of a rule's log."""

    label: str
    step: int
    total: int
    rate: float
    eta: float
    age: float  # seconds since the log file was last written


def parse_stamp(text: str) -> datetime:
    """The datetime of a main-log timestamp such as "Thu Dec  3 05:28:18 2026" (local time)."""
    return datetime.strptime(" ".join(text.split()), "%a %b %d %H:%M:%S %Y")


def parse_main_log(path: Path) -> Run:
    """Parse one Snakemake main log (a run still being written is fine: its last lines may be partial)."""
    run = Run(path=Path(path))
    lines = Path(path).read_text(errors="replace").splitlines()
    now: datetime | None = None
    current: Job | None = None  # the job block (or error block) whose indented fields follow
    in_error, in_stats = False, False
    for line in lines:
        m = TIMESTAMP.match(line)
        if m:
            now = parse_stamp(m.group(1))
            run.started = run.started or now
            run.last_time = now
            current, in_error = None, False
            continue
        if line.startswith("  Command: "):
            run.quiet = any(arg in ("-q", "--quiet") or arg.startswith("--quiet=") for arg in line.split()[2:])
            continue
        m = BANNER_DATE.match(line)
        if m and run.started is None:
            run.started = datetime.fromisoformat(m.group(1))
            continue
        if line.startswith("Job stats:"):
            in_stats = True
            continue
        if in_stats:
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit():
                if parts[0] == "total":
                    run.total = run.total or int(parts[1])
                    in_stats = False
                else:
                    run.planned[parts[0]] = int(parts[1])
            elif parts and not set(parts[0]) <= {"-"} and parts[:2] != ["job", "count"]:
                in_stats = False
            continue
        if GROUP_ERROR.match(line):
            current, in_error = None, True
            continue
        m = JOB_HEAD.match(line)
        if m:
            # inside a group's error block, its "rule X:" lines name the failed jobs
            if in_error:
                current = Job(jobid=-1, rule=m.group(1), failed=now)
            else:
                current = Job(jobid=-1, rule=m.group(1), started=now)
            continue
        m = ERROR_HEAD.match(line)
        if m:
            current, in_error = Job(jobid=-1, rule=m.group(1), failed=now), True
            continue
        m = FIELD.match(line)
        if m and current is not None:
            key, value = m.groups()
            if key == "jobid":
                jobid = int(value)
                if in_error:
                    job = run.jobs.setdefault(jobid, Job(jobid=jobid, rule=current.rule))
                    job.failed = current.failed
                    current = job
                else:
                    current.jobid = jobid
                    run.jobs[jobid] = current  # a retried job's new block replaces the old one
            elif key == "log":
                paths = value.split(" (check log file(s)")[0]
                if not in_error or not current.logs:
                    current.logs = [p.strip() for p in paths.split(",") if p.strip()]
            elif key == "wildcards" and not in_error:
                current.wildcards = value
            elif key == "slurm_logfile":
                current.slurm_log = value
            continue
        if line.startswith("    ") and (current is not None or in_error):
            continue  # input/output/reason/resources/message: not needed
        current, in_error = None, False
        m = FINISHED.match(line)
        if m:
            job = run.jobs.setdefault(int(m.group(1)), Job(jobid=int(m.group(1)), rule=m.group(2)))
            job.finished, job.failed = now, None
            continue
        m = PROGRESS.match(line)
        if m:
            run.done, run.total = int(m.group(1)), int(m.group(2))
            continue
        m = SUBMITTED.match(line)
        if m:
            job = run.jobs.get(int(m.group(1)))
            if job is not None:
                job.slurm_jobid, job.slurm_log = m.group(2), m.group(3)
            continue
        m = ARRAY_SUBMITTED.match(line)
        if m:
            for jobid in m.group(1).split(","):
                if int(jobid) in run.jobs:
                    run.jobs[int(jobid)].slurm_jobid = m.group(2)
            continue
        m = RESTART.match(line)
        if m and int(m.group(1)) in run.jobs:
            run.jobs[int(m.group(1))].failed = None
            continue
        if line.startswith("Nothing to be done"):
            run.nothing_to_do = run.ended = True  # such a log has no closing line
        elif line.startswith("Complete log(s):"):
            run.ended = True
    return run


def is_run_log(path: Path) -> bool:
    """Whether a main log is a workflow run's (not a report's or a lint's)."""
    text = Path(path).read_text(errors="replace")
    return any(marker in text for marker in RUN_MARKERS)


def latest_run_log(directory: Path) -> Path | None:
    """The newest main log of a workflow run in `directory`, or None."""
    logs = sorted((Path(directory) / ".snakemake" / "log").glob("*.snakemake.log"))
    for path in reversed(logs):
        if is_run_log(path):
            return path
    return None


def last_step(log_path: Path, now: float | None = None) -> StepLine | None:
    """The last progress line of a rule's log, or None when it has none (yet)."""
    try:
        stat = os.stat(log_path)
        with open(log_path, "rb") as fh:
            fh.seek(max(0, stat.st_size - 65536))
            tail = fh.read().decode(errors="replace")
    except OSError:
        return None
    found = None
    for m in STEP.finditer(tail):
        found = m
    if found is None:
        return None
    eta = float(found["eta"]) if found["eta"] not in ("nan", "inf") else float("nan")
    return StepLine(
        label=found["label"],
        step=int(found["step"]),
        total=int(found["total"]),
        rate=float(found["rate"]),
        eta=eta,
        age=max(0.0, (now if now is not None else time.time()) - stat.st_mtime),
    )


def snakemake_running_in(directory: Path) -> bool | None:
    """Whether a Snakemake process on this host has `directory` as its working directory (None where
    /proc cannot tell, off Linux)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    target = Path(directory).resolve()
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if Path(os.readlink(entry / "cwd")) == target and b"snakemake" in (entry / "cmdline").read_bytes():
                return True
        except OSError:
            continue
    return False
