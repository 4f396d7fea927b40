"""How close each model stage of a finished run comes to what this machine can do with the model's own
layer shapes: a roofline in GFLOP/s.

Limit: every Conv2d and Linear layer call of one real forward (sampling) or forward + backward
(training) of the full and the pruned model (calibration.pruned_model: as the prune stage prunes it)
is recorded with its input shape and run again in isolation on 1 thread, as jobs run; the limit
is the model's layer FLOPs over the sum of those isolated times (fastest of `--repeats`), i.e. the
throughput the model would reach if it spent time only in its layers, each as fast as alone. The
in-process rate of the whole model (norms, activations, the Python between layers included) is
reported beside it.

FLOPs are counted, not guessed: torch.utils.flop_counter.FlopCounterMode over one real training step
(forward + loss + backward, per image) and one real sampling forward (per image) of each model; it counts
the matrix work (convolutions, matmuls, attention; 2 FLOPs per multiply-add), not elementwise ops.

Achieved: for each job of the run that trains or samples, the work comes from its own log (training
lines name the steps, batch and parameter count, i.e. which model; behaviour, pairs and samples lines
name the model kind, sized by behaviour.n_samples / report.n_images x behaviour.ddim_steps), its wall
from its Snakemake benchmark file and its start-up from its log's "start-up (interpreter + imports)"
line. Achieved GFLOP/s = FLOPs / (wall - start-up); start-up is reported separately. Behaviour jobs
also extract features and compute FID in their work time: their rate is of the whole evaluation.

Writes --out (bench/out/roofline.json) and prints the table.
Usage: python bench/roofline.py [--results /tmp/fresh/results] [--config config/config.yaml [overlay ...]]
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import torch
import yaml
from job_records import STARTUP, benchmark_seconds, job_logs  # bench/ is on sys.path when a bench script runs
from machine import cpu_model
from torch.utils.flop_counter import FlopCounterMode

from diffattr.core.atomic import write_json
from diffattr.core.data import load_source
from diffattr.core.settings import DataSource
from diffattr.modelling.models import count_params, initial_unet
from diffattr.workflow.calibration import pruned_model
from diffattr.workflow.forecast import BEHAVIOUR_MODEL, SAMPLES_MODEL

LAYERS = (torch.nn.Conv2d, torch.nn.Linear)
TRAIN = re.compile(r"^\S+ .*: (\d+) images, (\d+) params, Recipe\(steps=(\d+), batch_size=(\d+)")
BEHAVIOUR = re.compile(r"^\S+ (\S+) \S+: \{.*\} in [\d.]+s$")
SAMPLES = re.compile(r"^\S+ (\S+): (\d+) samples -> ")
PAIRS = re.compile(r"^\S+ \S+: FID2 unlearned-retrained")


def merged_config(paths: list[str]) -> dict:
    def merge(a: dict, b: dict) -> dict:
        out = dict(a)
        for k, v in b.items():
            out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        return out

    cfg: dict = {}
    for p in paths:
        cfg = merge(cfg, yaml.safe_load(Path(p).read_text()))
    return cfg


def _inputs(model: torch.nn.Module, batch: int, size: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn((batch, *size), generator=g), torch.randint(0, 1000, (batch,), generator=g)


def _train_step(model: torch.nn.Module, x: torch.Tensor, t: torch.Tensor) -> None:
    model.zero_grad(set_to_none=True)
    torch.nn.functional.mse_loss(model(x, t).sample, x).backward()


def _forward(model: torch.nn.Module, x: torch.Tensor, t: torch.Tensor) -> None:
    with torch.no_grad():
        model(x, t)


def _flops(fn) -> int:
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return int(counter.get_total_flops())


def _fastest(fn, repeats: int, min_seconds: float = 0.05) -> float:
    """CPU seconds of this thread per call (torch on 1 thread computes in the calling thread), the
    fastest of `repeats` timings of enough calls to last min_seconds: on a shared machine other
    processes take wall time by time-slicing, and only ever slow the CPU time down (shared caches)."""
    fn()
    t0 = time.thread_time()
    fn()
    calls = max(1, int(min_seconds / max(time.thread_time() - t0, 1e-4)))
    best = float("inf")
    for _ in range(repeats):
        t0 = time.thread_time()
        for _ in range(calls):
            fn()
        best = min(best, (time.thread_time() - t0) / calls)
    return best


def layer_calls(model: torch.nn.Module, x: torch.Tensor, t: torch.Tensor) -> list[tuple[torch.nn.Module, tuple]]:
    """Every Conv2d / Linear call of one forward of `model`, with (a copy of) its input."""
    calls: list = []
    hooks = [
        m.register_forward_hook(lambda mod, args, out: calls.append((mod, args[0].detach().clone())))
        for m in model.modules()
        if isinstance(m, LAYERS)
    ]
    try:
        _forward(model, x, t)
    finally:
        for h in hooks:
            h.remove()
    return calls


def layer_limit(model: torch.nn.Module, x: torch.Tensor, t: torch.Tensor, backward: bool, repeats: int) -> dict:
    """The model's layer shapes run alone: the best one's GFLOP/s (the limit: no part of the model
    computes faster on this machine) and all of them together (their FLOPs over their summed times)."""
    shapes: dict = defaultdict(lambda: {"count": 0})
    for mod, inp in layer_calls(model, x, t):
        key = (repr(mod), tuple(inp.shape))
        shapes[key]["count"] += 1
        shapes[key]["call"] = (mod, inp)
    rows, total_flops, total_seconds = [], 0, 0.0
    for (name, shape), entry in shapes.items():
        mod, inp = entry["call"]
        if backward:
            xin = inp.clone().requires_grad_(True)
            grad = torch.randn_like(mod(xin))

            def run(mod=mod, xin=xin, grad=grad) -> None:
                mod.zero_grad(set_to_none=True)
                xin.grad = None
                mod(xin).backward(grad)
        else:

            def run(mod=mod, inp=inp) -> None:
                with torch.no_grad():
                    mod(inp)

        flops, seconds = _flops(run), _fastest(run, repeats)
        n = entry["count"]
        total_flops += n * flops
        total_seconds += n * seconds
        rows.append({"layer": name, "input": list(shape), "calls": n, "gflops_per_s": flops / seconds / 1e9})
    return {
        "gflops_per_s": max(r["gflops_per_s"] for r in rows),
        "layers_alone_gflops_per_s": total_flops / total_seconds / 1e9,
        "layer_flops": total_flops,
        "layers": sorted(rows, key=lambda r: r["gflops_per_s"]),
    }


def model_side(model: torch.nn.Module, size: tuple[int, ...], train_batch: int, sample_batch: int, repeats: int):
    x, t = _inputs(model, train_batch, size)
    train_flops = _flops(lambda: _train_step(model, x, t))
    train_seconds = _fastest(lambda: _train_step(model, x, t), repeats)
    train = {
        "batch": train_batch,
        "flops_per_image": train_flops / train_batch,
        "model_gflops_per_s": train_flops / train_seconds / 1e9,
        **layer_limit(model, x, t, backward=True, repeats=repeats),
    }
    xs, ts = _inputs(model, sample_batch, size)
    fwd_flops = _flops(lambda: _forward(model, xs, ts))
    fwd_seconds = _fastest(lambda: _forward(model, xs, ts), repeats)
    sample = {
        "batch": sample_batch,
        "flops_per_image": fwd_flops / sample_batch,
        "model_gflops_per_s": fwd_flops / fwd_seconds / 1e9,
        **layer_limit(model, xs, ts, backward=False, repeats=repeats),
    }
    return {"params": count_params(model), "train": train, "sample": sample}


def job_work(log: Path, cfg: dict, kinds: dict[int, str]) -> tuple[float | None, list[tuple[str, str, int]]]:
    """(start-up seconds, [(model kind, train|sample, images or image-steps)]) from a job's log."""
    beh = cfg["behaviour"]
    n, ddim = int(beh["n_samples"]), int(beh["ddim_steps"])
    startup, work = None, []
    for line in log.read_text().splitlines():
        if (m := STARTUP.search(line)) and startup is None:
            startup = float(m.group(1))
        elif m := TRAIN.match(line):
            params = int(m.group(2))
            if params not in kinds:
                raise SystemExit(
                    f"{log}: a model of {params:,} parameters, neither of the {sorted(kinds)} this config builds; "
                    "pass the run's config with --config (a store pruned by the authors' rule: an overlay "
                    "with prune: {round_to: null})"
                )
            work.append((kinds[params], "train", int(m.group(3)) * int(m.group(4))))
        elif m := BEHAVIOUR.match(line):
            work.append((BEHAVIOUR_MODEL[m.group(1)], "sample", n * ddim))
        elif m := SAMPLES.match(line):
            work.append((SAMPLES_MODEL[m.group(1)], "sample", int(m.group(2)) * ddim))
        elif PAIRS.match(line):
            # the unlearned model against its retraining and the retraining's second run
            work += [("pruned", "sample", n * ddim), ("full", "sample", 2 * n * ddim)]
    return startup, work


def stages(results: Path, cfg: dict, models: dict) -> list[dict]:
    kinds = {m["params"]: kind for kind, m in models.items()}
    groups: dict = defaultdict(lambda: defaultdict(float))
    for stage, rel, log in job_logs(results):
        startup, work = job_work(log, cfg, kinds)
        if not work:
            continue
        wall = benchmark_seconds(results / "store", stage, rel)
        kind_set = sorted({(k, w) for k, w, _ in work})
        label = f"{stage} ({'+'.join(f'{k} {w}' for k, w in kind_set)})"
        g = groups[label]
        g["jobs"] += 1
        if wall is None or startup is None:
            g["jobs_without_benchmark"] += 1
            continue
        flops = sum(units * models[k][w]["flops_per_image"] for k, w, units in work)
        # the limit of a mixed job (pairs: two kinds) is its FLOP-weighted harmonic mean
        limit_seconds = sum(
            units * models[k][w]["flops_per_image"] / (models[k][w]["gflops_per_s"] * 1e9) for k, w, units in work
        )
        g["flops"] += flops
        g["wall"] += wall
        g["startup"] += startup
        g["limit_seconds"] += limit_seconds
    total: dict = defaultdict(float)
    for g in groups.values():
        for k, v in g.items():
            total[k] += v
    groups["all counted jobs"] = total
    rows = []
    for label, g in groups.items():
        work_s = g["wall"] - g["startup"]
        if work_s <= 0:
            continue
        achieved = g["flops"] / work_s / 1e9
        limit = g["flops"] / g["limit_seconds"] / 1e9
        rows.append(
            {
                "stage": label,
                "jobs": int(g["jobs"]),
                "jobs_without_benchmark": int(g["jobs_without_benchmark"]),
                "tflop": g["flops"] / 1e12,
                "wall_s": g["wall"],
                "startup_s": g["startup"],
                "startup_share": g["startup"] / g["wall"],
                "achieved_gflops_per_s": achieved,
                "limit_gflops_per_s": limit,
                "ratio": achieved / limit,
            }
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", default="/tmp/fresh/results", help="a finished run's results/ (read only)")
    ap.add_argument("--config", nargs="+", default=["config/config.yaml"], help="the run's config and overlays")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default="bench/out/roofline.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = merged_config(args.config)
    ds = load_source(DataSource.from_config(cfg["data"]))
    full = initial_unet(cfg["model"], ds.images, 0)
    pruned = pruned_model(copy.deepcopy(full), cfg["prune"])
    size = tuple(ds.images.shape[1:])
    train_batch = int(cfg["train_base"]["batch_size"])
    sample_batch = int(min(cfg["behaviour"]["batch_size"], cfg["behaviour"]["n_samples"]))
    load_before = os.getloadavg()
    models = {
        kind: model_side(m, size, train_batch, sample_batch, args.repeats)
        for kind, m in (("full", full), ("pruned", pruned))
    }
    rows = stages(Path(args.results), cfg, models)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    out = {
        "cpu_model": cpu_model(),
        "commit": commit,
        "threads": torch.get_num_threads(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "results": str(args.results),
        "config": args.config,
        "models": models,
        "stages": rows,
    }
    write_json(args.out, out)
    print(f"{out['cpu_model']}, commit {commit}, 1 thread, load {out['loadavg_before']} -> {out['loadavg_after']}")
    print(f"{'model':8} {'side':7} {'batch':>5} {'MFLOP/img':>10} {'limit':>7} {'all layers':>10} {'in-process':>10}")
    for kind, m in models.items():
        for side in ("train", "sample"):
            s = m[side]
            print(
                f"{kind:8} {side:7} {s['batch']:5d} {s['flops_per_image'] / 1e6:10.2f} {s['gflops_per_s']:7.1f}"
                f" {s['layers_alone_gflops_per_s']:10.1f} {s['model_gflops_per_s']:10.1f}"
            )
    print(
        f"\n{'stage':40} {'jobs':>4} {'TFLOP':>6} {'wall s':>7} {'start':>6} {'GFLOP/s':>7} {'limit':>6} {'ratio':>5}"
    )
    for r in rows:
        print(
            f"{r['stage']:40} {r['jobs']:4d} {r['tflop']:6.2f} {r['wall_s']:7.0f} {r['startup_share']:6.0%}"
            f" {r['achieved_gflops_per_s']:7.1f} {r['limit_gflops_per_s']:6.1f} {r['ratio']:5.2f}"
        )


if __name__ == "__main__":
    main()
