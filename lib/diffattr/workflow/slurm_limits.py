"""Each Slurm job's time limit and memory from the forecast of that job (forecast.py: its steps,
images sampled, their features and metrics, TRAK's gradients and models at the calibrated speed),
times a safety factor, between a floor and a cap.

A fixed per-rule limit sized for the paper's scale makes a lost job (its node crashed, Slurm still
lists it RUNNING) block a run until that limit, and keeps short jobs out of backfill; one sized for a
laptop kills long GPU trainings. A retry (Snakemake's `retries`) asks for `attempt` times as much, so
a job killed at its limit because the forecast was short gets twice, then three times the time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..core.registry import RESOURCES_KEY
from .calibration import Speeds
from .forecast import Context, cost, model_sizes, rule_work, work_memory

KEYS = ("runtime", "mem_mb")


@dataclass(frozen=True)
class Limits:
    """The config's `slurm_limits` section (run-time, not hashed); config.yaml holds the defaults."""

    safety: float
    floor_minutes: int
    cap_minutes: int
    slowdown: float
    calibration: str
    mem_safety: float
    mem_floor_mb: int

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> Limits:
        return cls(**{name: section[name] for name in cls.__dataclass_fields__})


def runtime_minutes(seconds: float, limits: Limits, attempt: int = 1) -> int:
    """Whole minutes (what sbatch's --time takes) for a job forecast at `seconds` on the calibrated
    machine: times slowdown and safety, at least the floor, at most the cap, times `attempt`."""
    wanted = math.ceil(seconds * limits.slowdown * limits.safety / 60)
    return min(max(wanted, limits.floor_minutes), limits.cap_minutes) * max(1, int(attempt))


def memory_mb(peak_bytes: float, limits: Limits, attempt: int = 1) -> int:
    """Megabytes for a job forecast to peak at `peak_bytes`: times mem_safety, at least the floor."""
    return max(math.ceil(peak_bytes * limits.mem_safety / 1e6), limits.mem_floor_mb) * max(1, int(attempt))


def derived(
    rule: str, wildcards: Mapping[str, str], ctx: Context, speeds: Speeds, limits: Limits, attempt: int = 1
) -> dict[str, int]:
    """{"runtime": minutes, "mem_mb": megabytes} one job of `rule` asks Slurm for."""
    work = rule_work(rule, wildcards, ctx, model_sizes(speeds))
    return {
        "runtime": runtime_minutes(cost(work, speeds).wall, limits, attempt),
        "mem_mb": memory_mb(work_memory(rule, work, ctx, speeds), limits, attempt),
    }


def fixed(resources_cfg: Mapping[str, Mapping[str, Any]], entry: str) -> dict[str, Any]:
    """The limits a rule's own `resources.<entry>` sets: they win over the derived ones."""
    own = resources_cfg.get(entry, {})
    return {key: own[key] for key in KEYS if key in own}


def requested(
    rule: str,
    wildcards: Mapping[str, str],
    *,
    ctx: Context,
    speeds: Speeds,
    limits: Limits,
    resources_cfg: Mapping[str, Mapping[str, Any]],
    attempt: int = 1,
) -> dict[str, int]:
    """What one job of `rule` asks Slurm for: the derived limits under the rule's own fixed ones
    (from its resources entry, registry.RESOURCES_KEY: behaviour_unlearn takes behaviour's)."""
    own = fixed(resources_cfg, RESOURCES_KEY.get(rule, rule))
    return {**derived(rule, wildcards, ctx, speeds, limits, attempt), **own}
