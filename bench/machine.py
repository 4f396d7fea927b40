"""What the benchmarks name a machine and a run by: its CPU model, because floating-point results and
timings differ across CPUs of one machine kind, and the commit measured. The CPU's name keys `make
plan`'s calibration cache, so the library's function is the one used (lib/ goes on sys.path for bench
scripts run from anywhere)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from diffattr.workflow.calibration import cpu_model  # noqa: E402

__all__ = ["commit", "cpu_model"]


def commit() -> str:
    """The short commit, with "-dirty" when tracked files differ from it (the code measured is not it)."""
    run = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True)
    return run.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
