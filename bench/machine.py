"""What the benchmarks name a machine by: its CPU model, because floating-point results and timings
differ across CPUs of one machine kind. The same name keys `make plan`'s calibration cache, so the
library's function is the one used (lib/ goes on sys.path for bench scripts run from anywhere)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from diffattr.calibration import cpu_model  # noqa: E402

__all__ = ["cpu_model"]
