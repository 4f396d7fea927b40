"""A process's line of /proc/<pid>/stat (Linux), read one way for the start-up clock (progress), the
job's wait for a starting server (handover) and the tests. Light: a job imports it before anything
heavy."""

from __future__ import annotations

from pathlib import Path


def stat_fields(pid: int | str = "self") -> list[str]:
    """The fields after the command name, so that a name holding spaces or parentheses cannot shift
    them: [0] is the state (R, S, Z, ...), [19] the start time in clock ticks since boot. Raises
    OSError where there is no such process (or no /proc)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
