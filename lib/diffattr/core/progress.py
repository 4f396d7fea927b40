"""Progress logging for long jobs (step, loss, steps/s, ETA) and process start-up accounting."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

from .procstat import stat_fields


def get_logger(log_path: str | os.PathLike | None, name: str = "diffattr") -> logging.Logger:
    """A logger writing to the rule's log file (and stderr when no file is given)."""
    logger = logging.getLogger(f"{name}.{os.getpid()}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.handlers.clear()
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(log_path, mode="a")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logger.addHandler(handler)
    return logger


class StepLogger:
    """Logs every `every` steps: step, loss, steps/s and ETA."""

    def __init__(self, logger: logging.Logger, total: int, every: int, label: str) -> None:
        self.logger, self.total, self.every, self.label = logger, total, max(1, every), label
        self.start = time.perf_counter()

    def step(self, step: int, loss: float) -> None:
        done = step + 1
        if done % self.every and done != self.total:
            return
        elapsed = time.perf_counter() - self.start
        rate = done / elapsed if elapsed > 0 else float("inf")
        eta = (self.total - done) / rate if rate > 0 else float("nan")
        self.logger.info(f"{self.label} step {done}/{self.total} loss {loss:.5f} {rate:.1f} steps/s ETA {eta:.0f}s")


# A job forked from the run's preloaded process (preload.py) counts its start-up from its own job
# process's birth, which the hand-over sends; None: this process's own.
_started_at: float | None = None


def process_start_time() -> float | None:
    """When this process started, seconds since the epoch (Linux only; None elsewhere). In a job forked
    from the preloaded process: when the job's own process started."""
    if _started_at is not None:
        return _started_at
    try:
        start_ticks = int(stat_fields()[19])
        # The start in clock ticks since boot, against the clock since boot now: /proc/stat's btime is
        # whole seconds, which put every start-up up to 1 s too long (0.57 s on the machine of
        # docs/results.md "Start-up: one preloaded process").
        return time.time() - (time.clock_gettime(time.CLOCK_BOOTTIME) - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def set_process_start_time(started_at: float | None) -> None:
    global _started_at
    _started_at = started_at


def process_age_seconds() -> float | None:
    """Seconds since this process started (interpreter start-up + imports so far; a forked job's:
    since its job process started); Linux only."""
    started = process_start_time()
    return None if started is None else time.time() - started


def duration(seconds: float | None) -> str:
    """A time span as the commands print it (make plan, diffattr.status): 1h49m, 54m37s, 5s; ? if unknown."""
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
