"""What the benchmarks name a machine by: its CPU model, because floating-point results and timings
differ across CPUs of one machine kind."""

import platform


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            return next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown"
