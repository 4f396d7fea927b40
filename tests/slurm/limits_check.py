"""The derived Slurm limits (lib/diffattr/workflow/slurm_limits.py) as the CI Slurm run must show them: a stated
calibration whose speeds put every job at the floor except the full-size model's trainings (their
limit then follows train_base.steps) and the gradient baselines, and whose peaks put the jobs that
train the full model above the memory floor; the limits each job asked for, read from the run's log
(the main process prints every submitted job's resources); and, for the Slurm jobs slurmctld still
lists, their TimeLimit against the sum over the rules they ran (a group job's)."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from diffattr.workflow.calibration import Speeds
from diffattr.workflow.forecast import Context, cf_retrainings
from diffattr.workflow.slurm_limits import Limits, derived

# One training step of the full model takes 3 s: a smoke retraining (60 steps) 3 min, a batch of 3
# 9 min + 5 s, so 28 min at safety 3; everything else (sampling, pruned steps, start-up, features,
# metrics) is seconds: the floor.
STATED = Speeds(
    train_step=(3.0, 3.0),
    pruned_step=(0.001, 0.001),
    full_image_step=(1e-6, 1e-6),
    pruned_image_step=(1e-6, 1e-6),
    classifier_epoch=(0.01, 0.01),
    startup_heavy=(5.0, 5.0),
    startup_light=(1.0, 1.0),
    params_full=1000,
    params_pruned=500,
    train_batch=64,
    pruned_batch=64,
    device="cpu",
    cpu_model="stated for the CI Slurm test",
    threads=1,
    loadavg=(0.0, 0.0, 0.0),
    peak_rss={"light": 10**8, "train_full": 2 * 10**9, "train_pruned": 10**8, "sample_full": 10**8},
    # a TRAK image's gradient 1 s: the gradient baselines' 1,897 images (smoke) over the floor
    grad_image=(1.0, 1.0),
    feature_image=(1e-6, 1e-6),
    score_model=(0.01, 0.01),
)
# Rules whose jobs train the full-size model from scratch: above both floors.
TRAINERS = {"train_base", "retrain", "retrain_floor", "retrain_cf"}
SUBMITTED = re.compile(r"^\s*(?:rule|checkpoint) (\w+):$")
WILDCARDS = re.compile(r"^\s+wildcards: (.*)$")
RESOURCES = re.compile(r"^\s+resources: (.*)$")


def write_stated(path: Path, key: Mapping[str, Any] | None = None) -> Path:
    """STATED as `--calibrate-only` writes a file; `key`, where given, the key it was timed under."""
    path.write_text(json.dumps({**({"key": key} if key else {}), "speeds": dataclasses.asdict(STATED)}))
    return path


# Rules whose forecast needs the run's subsets or behaviour sources (their wildcards name a batch, a
# behaviour hash or a grid): under STATED their jobs sit at both floors.
FLOORED = {"unlearn", "behaviour", "behaviour_unlearn", "behaviour_retrained", "samples"}


def expected(config: Mapping[str, Any], rule: str, wildcards: Mapping[str, str] | None = None) -> dict[str, int]:
    """What a job of `rule` must ask for under STATED."""
    from diffattr.core.data import image_shape, sample_count
    from diffattr.core.settings import DataSource

    limits = Limits.from_config({**config["slurm_limits"], "calibration": ""})
    if rule in FLOORED:
        return {"runtime": limits.floor_minutes, "mem_mb": limits.mem_floor_mb}
    from diffattr.workflow.draws import SubsetPlan

    source = DataSource.from_config(config["data"])
    c, h, w = image_shape(source)
    subsets = SubsetPlan(config)
    ctx = Context(
        config=config,
        chunks={},
        behaviour_source={},
        n_images=int(sample_count(source)),
        image_values=c * h * w,
        # a retraining job's time is its batch's models' (a counterfactual batch: the forecast's bound)
        retrain_batches={name: ids for kind in subsets.retrain_batches.values() for name, ids in kind.items()},
        cf_retrain_models=min(subsets.models_per_job, cf_retrainings(config)),
    )
    return derived(rule, wildcards or {}, ctx, STATED, limits)


def requested_in_log(text: str) -> list[tuple[str, dict[str, str], dict[str, int]]]:
    """(rule, wildcards, {runtime, mem_mb}) of every job the log shows with Slurm resources (a group's
    jobs are listed indented under it)."""
    out, rule, wildcards = [], None, {}
    for line in text.splitlines():
        if m := SUBMITTED.match(line):
            rule, wildcards = m.group(1), {}
        elif (m := WILDCARDS.match(line)) and rule:
            wildcards = dict(kv.split("=", 1) for kv in m.group(1).split(", "))
        elif (m := RESOURCES.match(line)) and rule and "runtime=" in m.group(1):
            fields = dict(kv.split("=", 1) for kv in m.group(1).split(", "))
            out.append((rule, wildcards, {"runtime": int(fields["runtime"]), "mem_mb": int(fields["mem_mb"])}))
            rule = None
    return out


def time_limits(slurm_logs: Path) -> dict[int, tuple[int, list[tuple[str, dict[str, str]]]]]:
    """Slurm job id -> (TimeLimit minutes, the rules it ran with their wildcards), for the jobs
    slurmctld still lists."""
    head = re.compile(r"^\s*(?:local)?(?:rule|checkpoint) (\w+):$")
    out = {}
    for log in slurm_logs.rglob("*.log"):
        if not log.stem.isdigit():
            continue
        show = subprocess.run(["scontrol", "show", "job", log.stem], capture_output=True, text=True).stdout
        m = re.search(r"TimeLimit=(?:(\d+)-)?(\d+):(\d+):(\d+)", show)
        if not m:
            continue  # older than MinJobAge: slurmctld has forgotten it
        days, hours, minutes = int(m.group(1) or 0), int(m.group(2)), int(m.group(3))
        rules, rule = [], None
        for line in log.read_text().splitlines():
            if h := head.match(line):
                rule = h.group(1)
                rules.append((rule, {}))
            elif (w := WILDCARDS.match(line)) and rule:
                rules[-1] = (rule, dict(kv.split("=", 1) for kv in w.group(1).split(", ")))
        # A group job's log lists its jobs, then each again as it runs them: count each job once.
        unique = list({(rule, tuple(sorted(w.items()))): (rule, w) for rule, w in rules}.values())
        out[int(log.stem)] = (days * 1440 + hours * 60 + minutes, unique)
    return out
