"""What a run will cost before it starts: `python -m diffattr.plan` (`make plan`).

The jobs Snakemake would still run (a dry run's DAG: finished artifacts cost nothing), summarised per
stage (rule) with their models, training steps, images sampled and bytes written, and the wall and
CPU time they take locally on `--cores N` and on Slurm with `-j J` jobs at once, from a calibration
of this machine (`calibration.py`, cached in results/.calibration/) and each job's work
(`forecast.py`). Usage, from the workflow's root:

    python -m diffattr.plan [--configfile config/config.yaml overlay.yaml] [--cores N] [--jobs J] [--json]
    python -m diffattr.plan --calibrate-only   # on a cluster (GPU) node: writes its calibration
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from .attribution import power
from .core.atomic import read_json
from .core.preload import OWN_PROCESS_RULES, preloads
from .core.progress import duration
from .core.registry import RESOURCES_KEY
from .workflow import calibration
from .workflow.dag import Dag, Job, needed_jobs, schedule
from .workflow.forecast import Context, Cost, Work, cf_retrainings, context, cost, model_sizes, rule_work
from .workflow.layout import run_dir
from .workflow.slurm_limits import Limits, requested

# Per Slurm job: sbatch, queueing on an idle cluster and Snakemake starting inside the job
# (bench/slurm_overhead.py measured about 5 s); a queue's wait comes on top and is not estimated.
SLURM_JOB_OVERHEAD_S = 5.0
PROFILE = Path("profiles") / "slurm" / "config.yaml"


def pending_cf_jobs(dag: Dag) -> list[Job]:
    """The counterfactual retrainings that checkpoint cf_plan adds once it has run, at most
    forecast.cf_retrainings: each removal's record (rule cf_removal, a local job), their retraining
    batches (retrain.models_per_job models each) and their evaluation batches
    (unlearn.subsets_per_job models each)."""
    cf_plan = [j for j in dag.jobs if j.rule == "cf_plan"]
    if not cf_plan:
        return []
    n = cf_retrainings(dag.config)
    per_retrain = int(dag.config["retrain"]["models_per_job"])
    per_batch = int(dag.config["unlearn"]["subsets_per_job"])
    bhash = next(h for h, src in dag.globals["BEHAVIOUR_SOURCE"].items() if src == "retrain_cf")
    rule = "behaviour_retrained"
    res = {r: dag.globals["RESOURCES_OF"][r] for r in ("retrain_cf", rule)}
    threads = dag.globals["THREADS_OF"]
    consumers = [j for j in dag.jobs if j.rule == "counterfactual"]
    next_id = max(j.id for j in dag.jobs) + 1

    def job(name, wildcards, deps, rule_threads=1, resources=None):
        nonlocal next_id
        out = Job(next_id, name, wildcards, rule_threads, resources or {}, deps)
        out.pending = True
        next_id += 1
        return out

    # batch names no plan holds: the forecast takes the counterfactual batches' upper bounds
    records = [job("cf_removal", {"subset": f"cf-pending-{i}"}, [cf_plan[0].id]) for i in range(n)]
    retrains = [
        job(
            "retrain_cf",
            {"batch": f"cf-pending-{start}"},
            [r.id for r in records[start : start + per_retrain]],
            threads["retrain_cf"],
            res["retrain_cf"],
        )
        for start in range(0, n, per_retrain)
    ]
    behaves = []
    for start in range(0, n, per_batch):
        trained_by = sorted({retrains[i // per_retrain].id for i in range(start, min(n, start + per_batch))})
        behaves.append(
            job(rule, {"bhash": bhash, "batch": f"cf-pending-{start}"}, trained_by, threads[rule], res[rule])
        )
    for c in consumers:
        c.deps += [*(b.id for b in behaves), *(r.id for r in records)]
    return [*records, *retrains, *behaves]


def context_of(dag: Dag) -> Context:
    return context(dag.config, dag.globals["SUBSETS"], dag.globals["BEHAVIOUR_SOURCE"])


def scaled(c: Cost, factor: float) -> Cost:
    return Cost(wall=c.wall * factor, cpu=c.cpu * factor)


def slurm_overhead(job: Job, by_id: Mapping[int, Job], groups: Mapping[str, str]) -> float:
    """A job grouped with one of its dependencies runs inside that one's Slurm job (config `groups`)."""
    group = groups.get(job.rule)
    if group and any(groups.get(by_id[d].rule) == group for d in job.deps):
        return 0.0
    return SLURM_JOB_OVERHEAD_S


def local_work(rule: str, work: Work, forked: bool) -> Work:
    """A job's work on a local run: where the run forks its model jobs (`forked`: preload.preloads of
    its compute section) a model job starts as a light job does, not by importing torch. Slurm jobs
    keep the heavy start-up."""
    if work.startup == "heavy" and forked and rule not in OWN_PROCESS_RULES:
        return dataclasses.replace(work, startup="light")
    return work


def make_plan(
    dag: Dag,
    speeds: calibration.Speeds,
    cores: int,
    slurm_jobs: int,
    slurm_speeds: calibration.Speeds | None = None,
) -> dict[str, Any]:
    """The plan's numbers (what --json prints): per stage, in total, locally and on Slurm."""
    jobs = dag.jobs + pending_cf_jobs(dag)
    ctx = context_of(dag)
    work = {j.id: rule_work(j.rule, j.wildcards, ctx, model_sizes(speeds)) for j in jobs}
    forked = preloads(dag.config["compute"])  # once: it looks for a GPU's device files
    local = {j.id: cost(local_work(j.rule, work[j.id], forked), speeds) for j in jobs}
    slow = float(dag.config["slurm_limits"]["slowdown"])  # the nodes against their calibration
    remote = {j.id: scaled(cost(work[j.id], slurm_speeds or speeds), slow) for j in jobs}
    by_id = {j.id: j for j in jobs}
    groups = dag.config.get("groups") or {}
    stages: dict[str, dict[str, Any]] = defaultdict(
        lambda: {
            "jobs": 0,
            "pending_jobs": 0,
            "models": 0,
            "train_steps": 0,
            "images": 0,
            "bytes": 0,
            "wall_s": 0.0,
            "cpu_s": 0.0,
        }
    )
    for j in jobs:
        w, row = work[j.id], stages[j.rule]
        row["jobs"] += not j.pending
        row["pending_jobs"] += j.pending
        row["models"] += w.models
        row["train_steps"] += w.train_steps + w.pruned_steps
        row["images"] += w.images
        row["bytes"] += w.bytes
        row["wall_s"] += local[j.id].wall
        row["cpu_s"] += local[j.id].cpu
    totals = {k: sum(r.get(k, 0) for r in stages.values()) for k in ("jobs", "pending_jobs", "models", "train_steps")}
    totals.update({k: sum(r.get(k, 0) for r in stages.values()) for k in ("images", "bytes", "wall_s", "cpu_s")})
    local_wall = schedule(jobs, lambda j: local[j.id].wall, cores, lambda j: min(j.threads, cores))
    slurm_wall = schedule(jobs, lambda j: remote[j.id].wall + slurm_overhead(j, by_id, groups), slurm_jobs, lambda j: 1)
    limits, longest = slurm_limits_of(jobs, ctx, slurm_speeds or speeds), {}
    for j in jobs:
        asked = limits.get(j.rule, {}).get("runtime")
        if asked and remote[j.id].wall > 60 * asked:
            longest[j.rule] = max(longest.get(j.rule, 0.0), round(remote[j.id].wall / 60, 1))
    over = sorted(longest.items())
    return {
        "stages": {rule: stages[rule] for rule in sorted(stages)},
        "total": totals,
        "local": {"cores": cores, "wall_s": local_wall, "cpu_s": totals["cpu_s"]},
        "slurm": {
            "jobs": slurm_jobs,
            "wall_s": slurm_wall,
            "cpu_s": sum(c.cpu for c in remote.values()),
            "overhead_per_job_s": SLURM_JOB_OVERHEAD_S,
            "over_runtime": [{"rule": r, "minutes": m} for r, m in over],
            "limits": limits,
        },
    }


def slurm_limits_of(jobs: Sequence[Job], ctx: Context, speeds: calibration.Speeds) -> dict[str, dict[str, int]]:
    """Per rule, the largest runtime (minutes) and mem_mb one of its jobs asks Slurm for: derived from
    the job's forecast (slurm_limits.py) unless the rule's resources entry fixes them."""
    limits = Limits.from_config(ctx.config["slurm_limits"])
    out: dict[str, dict[str, int]] = {}
    for j in jobs:
        if j.rule not in RESOURCES_KEY:
            continue
        asked = requested(
            j.rule, j.wildcards, ctx=ctx, speeds=speeds, limits=limits, resources_cfg=ctx.config["resources"]
        )
        row = out.setdefault(j.rule, {"runtime": 0, "mem_mb": 0})
        for key in row:
            row[key] = max(row[key], int(asked[key]))
    return dict(sorted(out.items()))


def device_notes(
    dag: Dag, speeds: calibration.Speeds, slurm_calibrated: bool, argv_configs: Sequence[str]
) -> list[str]:
    """Where an estimate is for a device this machine does not have (so its timings are not the jobs')."""
    notes = []
    how = f"run `{calibration.calibrate_command(argv_configs)}` where the jobs run"
    if dag.config["compute"]["device"] == "cuda" and speeds.device == "cpu":
        notes.append(
            "compute.device is cuda but this machine has no GPU: the local estimate is for a device not "
            "present (this CPU's timings; a local run would stop at its first model job); " + how
        )
    gpu_jobs = any(j.resources.get("gpu") for j in dag.jobs)
    if (gpu_jobs or dag.config["compute"]["device"] == "cuda") and not slurm_calibrated:
        notes.append(
            "the Slurm estimate is for GPU jobs (resources.<rule>.gpu or compute.device cuda) but is "
            f"uncalibrated: it uses this machine's {speeds.device} timings; {how} (a GPU node) and pass "
            "the file it writes with --slurm-calibration (or set slurm_limits.calibration: it also sizes the jobs' "
            "time limits)"
        )
    return notes


def stated_calibration_notes(
    config: Mapping[str, Any], stated: str, slurm_speeds: calibration.Speeds | None, argv_configs: Sequence[str]
) -> list[str]:
    """Where the Slurm calibration file `stated` (--slurm-calibration, slurm_limits.calibration) lacks a
    timing this config needs or was timed for another config (calibration.stated_file_note)."""
    note = calibration.stated_file_note(config, stated, slurm_speeds, argv_configs) if slurm_speeds else None
    return [note] if note else []


def _cores(value: str) -> int:
    if value == "all":
        return os.cpu_count() or 1
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"--cores {value}: give a positive number of cores or 'all'")
    return int(value)


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def render(out: Mapping[str, Any]) -> str:
    cal = out["calibration"]
    lines = [
        f"{'stage':<18}{'jobs':>6}{'models':>8}{'train steps':>13}{'images':>10}{'bytes':>9}{'wall':>10}{'CPU':>10}"
    ]
    rows = list(out["stages"].items()) + [("total", out["total"])]
    for i, (rule, r) in enumerate(rows):
        if i == len(rows) - 1:
            lines.append("-" * len(lines[0]))
        jobs = f"{r['jobs']}" + (f"+{r['pending_jobs']}" if r["pending_jobs"] else "")
        lines.append(
            f"{rule:<18}{jobs:>6}{r['models']:>8}{r['train_steps']:>13}{r['images']:>10}"
            f"{_fmt_bytes(r['bytes']):>9}{duration(r['wall_s']):>10}{duration(r['cpu_s']):>10}"
        )
    loc, sl = out["local"], out["slurm"]
    lines += [
        "",
        f"local, --cores {loc['cores']}: about {duration(loc['wall_s'])} wall, {duration(loc['cpu_s'])} CPU",
        f"slurm, -j {sl['jobs']}: about {duration(sl['wall_s'])} wall (+ queueing), {duration(sl['cpu_s'])} CPU,"
        f" {sl['overhead_per_job_s']:.0f} s per Slurm job",
    ]
    if out["total"]["pending_jobs"]:
        lines.append(
            "+N: at most N more jobs, added by the checkpoint cf_plan once it has run (the counterfactual"
            " retrainings and their behaviours); counted in the times"
        )
    if sl["limits"]:
        lim = out["slurm_limits"]
        lines.append(
            f"slurm limits per job (forecast x {lim['safety']:g}, {lim['floor_minutes']}..{lim['cap_minutes']} min;"
            f" peak memory x {lim['mem_safety']:g}, at least {lim['mem_floor_mb']} MB):"
        )
        lines += [f"  {rule:<18}{r['runtime']:>6} min{r['mem_mb']:>8} MB" for rule, r in sl["limits"].items()]
    for o in sl["over_runtime"]:
        lines.append(f"warning: a {o['rule']} job needs about {o['minutes']} min, more than its Slurm runtime")
    lines.append(
        f"calibration: {cal['cpu_model']} ({cal['device']}, {cal['threads']} thread(s)), "
        f"{'cached' if cal['cached'] else 'measured now'} in {cal['file']}; load average then {cal['loadavg'][0]}"
    )
    if out.get("power"):
        lines += power.render(out["power"])
    lines += [f"note: {n}" for n in out["notes"]]
    return "\n".join(lines)


def power_section(dag: Dag, root: Path) -> dict[str, Any]:
    """How wide the LDS's interval will be with the configured test models and seeds, and the cheapest K x s
    for power.target_halfwidth; from this run_name's finished lds.json when there is one (a pilot)."""
    config = dag.config
    pilot_path = root / run_dir(config["run_name"]) / "lds.json"
    pilot = read_json(pilot_path) if pilot_path.is_file() else None  # corrupt: a ValueError naming it
    n_units = dag.globals["SUBSETS"].n_units
    section = power.summary(
        n_test=int(config["subsets"]["n_test"]),
        target_halfwidth=float(config["power"]["target_halfwidth"]),
        stated_lds=float(config["power"]["stated_lds"]),
        level=float(config["lds"]["ci_level"]),
        pilot=pilot,
        max_models=power.distinct_subsets(n_units, float(config["subsets"]["alpha"])),
        test_seeds=int(config["lds"].get("test_seeds", 1)),
    )
    return {**section, "pilot": str(pilot_path.relative_to(root)) if pilot else None}


def calibration_threads(config: Mapping[str, Any]) -> int:
    from .core.resources import one_rule_resources

    return one_rule_resources(config["resources"], "retrain")[0]


def config_files(work: Path, configfiles: Sequence[str], entries: Sequence[str]) -> list[str]:
    """The config files a plan reads: `configfiles` (relative to `work`), then the `--config` entries
    as the diffattr command's overlay (cli.write_overlay: dotted keys, values read as YAML; a plain
    key sets a top-level one). A missing file or a malformed entry: ValueError, one line each."""
    from .cli import UsageError, dotted_overlay, write_overlay

    problems = [
        f"--configfile {f}: no such file under {work}; give the path of an existing overlay"
        for f in configfiles
        if not (work / f).is_file()
    ]
    try:
        overlay, _ = dotted_overlay(entries, plain_keys=True)
    except UsageError as exc:
        problems += str(exc).splitlines()
    if problems:
        raise ValueError("; ".join(problems))
    return [*configfiles, str(write_overlay(overlay, work))] if overlay else list(configfiles)


def main(argv: Sequence[str] | None = None) -> int:
    # allow_abbrev off: `--config` must not be read as an abbreviation of `--configfile`
    ap = argparse.ArgumentParser(
        prog="python -m diffattr.plan", description=__doc__.split("\n\n")[0], allow_abbrev=False
    )
    ap.add_argument(
        "--configfile", nargs="+", action="extend", default=[], help="config files, as snakemake's --configfile"
    )
    ap.add_argument(
        "--config",
        nargs="+",
        action="extend",
        default=[],
        help="key=value entries over the config files, dotted keys as the diffattr command takes them",
    )
    ap.add_argument("--cores", default="all", help="cores of the local estimate (a number or 'all')")
    ap.add_argument("--jobs", "-j", type=int, default=None, help="Slurm jobs at once (default: the profile's)")
    ap.add_argument("--json", action="store_true", help="print the plan as JSON")
    ap.add_argument("--directory", default=".", help="the workflow's root (default: here)")
    ap.add_argument("--calibrate-only", action="store_true", help="calibrate this machine and exit")
    ap.add_argument("--recalibrate", action="store_true", help="time again even if cached")
    ap.add_argument(
        "--slurm-calibration",
        default=None,
        help="a calibration file written on the cluster's nodes (default: slurm_limits.calibration)",
    )
    args = ap.parse_args(argv)
    work = Path(args.directory).resolve()
    try:
        configfiles = config_files(work, args.configfile, args.config)
        cores = _cores(args.cores)
        dag = needed_jobs(work, configfiles, cores)
        threads = calibration_threads(dag.config)
        speeds, path, cached = calibration.load_or_measure(
            dag.config, threads, work / calibration.CACHE_DIR, force=args.recalibrate
        )
        if args.calibrate_only:
            print(f"calibration of {speeds.cpu_model} ({speeds.device}): {path} ({'cached' if cached else 'measured'})")
            return 0
        stated = args.slurm_calibration or dag.config["slurm_limits"]["calibration"]
        slurm_speeds = calibration.load_file(stated) if stated else None
        profile = work / PROFILE
        jobs = args.jobs or (yaml.safe_load(profile.read_text()).get("jobs", 1) if profile.is_file() else 1)
        out = make_plan(dag, speeds, cores, int(jobs), slurm_speeds)
        out["power"] = power_section(dag, work)
    except ValueError as exc:
        print(f"diffattr.plan: {exc}", file=sys.stderr)
        return 1
    out["calibration"] = {
        "file": str(path),
        "cached": cached,
        **{k: v for k, v in asdict(speeds).items() if k in ("cpu_model", "device", "threads", "loadavg")},
        "speeds": asdict(speeds),
    }
    out["slurm_limits"] = dict(dag.config["slurm_limits"])
    out["notes"] = device_notes(dag, speeds, slurm_speeds is not None, configfiles) + stated_calibration_notes(
        dag.config, stated, slurm_speeds, configfiles
    )
    print(json.dumps(out, indent=2) if args.json else render(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
