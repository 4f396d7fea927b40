"""Pruned widths against step time: does a width the CPU's vector units like (prune.round_to) turn the
MACs pruning removes into training-step time?

For the default config's `model` on its data: the base model, the pruned model at the authors' rule
(prune.round_to null) and at each valid round_to of --round-to: parameters, MACs per image
(pruning.macs_and_params), every layer's width (pruning.layer_widths), the seconds of one training
step (train_ddpm: forward, MSE, backward, clipping, Adam, EMA) at train_base.batch_size and of one
sampling forward pass (no grad) at the sampling batch (min(behaviour.batch_size,
behaviour.n_samples)), each the median over --repeats rounds after a warm-up. The models take turns
within every round, in an order rotated round by round, so a drift in the shared machine's load hits
them all alike. Beside each model: base/model MACs and base/model step time, and "MAC rate", its
MACs per second relative to the base model's (step ratio over MAC ratio): how well its widths use
the machine, whatever their count. One torch thread (a job's default).

Writes bench/out/prune_widths.json (with the CPU model and the commit).
Usage: python bench/prune_widths.py [--round-to 4 8 16] [--repeats 7] [--steps 10]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import time
from pathlib import Path

from machine import commit, cpu_model  # bench/machine.py: bench/ is on sys.path when a bench script runs

os.environ.setdefault("TQDM_DISABLE", "1")
ROOT = Path(__file__).resolve().parents[1]


def main() -> None:  # noqa: PLR0915  (one measurement, read top to bottom)
    import logging

    import torch
    import yaml

    from diffattr.core.atomic import write_json
    from diffattr.core.data import load_source
    from diffattr.core.settings import DataSource, Recipe
    from diffattr.modelling.models import ddpm_scheduler, initial_unet
    from diffattr.modelling.pruning import layer_widths, macs_and_params, prune_unet
    from diffattr.modelling.training import train_ddpm
    from diffattr.workflow.config_checks import round_to_problems

    ap = argparse.ArgumentParser()
    ap.add_argument("--round-to", type=int, nargs="*", default=[4, 8, 16])
    ap.add_argument("--repeats", type=int, default=7, help="rounds; each model's median over them")
    ap.add_argument("--steps", type=int, default=10, help="training steps per timing")
    ap.add_argument("--forwards", type=int, default=3, help="sampling forward passes per timing")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "bench/out/prune_widths.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    prune, train = cfg["prune"], cfg["train_base"]
    n_sample = int(min(cfg["behaviour"]["batch_size"], cfg["behaviour"]["n_samples"]))
    ds = load_source(DataSource.from_config(cfg["data"]))
    images = torch.from_numpy(ds.images)
    sched = ddpm_scheduler(cfg["scheduler"])
    log = logging.getLogger("prune_widths")
    log.addHandler(logging.NullHandler())
    log.propagate = False

    base = initial_unet(cfg["model"], ds.images, 0)
    models = {"base": (None, base)}
    skipped = {}
    for round_to in [None, *args.round_to]:
        problems = round_to_problems(cfg["model"], round_to) if round_to is not None else []
        if problems:
            skipped[round_to] = problems[0][1]
            continue
        torch.manual_seed(0)
        name = "authors" if round_to is None else f"round_to={round_to}"
        pruned = prune_unet(copy.deepcopy(base), float(prune["ratio"]), int(prune["importance_p"]), round_to=round_to)
        models[name] = (round_to, pruned)

    recipe = Recipe(
        steps=args.steps,
        batch_size=int(train["batch_size"]),
        lr=float(train["lr"]),
        grad_clip=float(train["grad_clip"]),
        ema_max_decay=float(train["ema_max_decay"]),
        ema_power=float(train["ema_power"]),
        seed=0,
    )
    x = torch.randn(n_sample, *images.shape[1:])
    t = torch.full((n_sample,), 500, dtype=torch.long)

    def train_step(model) -> tuple[float, float]:
        _, stats = train_ddpm(copy.deepcopy(model), images, recipe, sched, log)
        return stats["train_seconds"] / args.steps, stats["train_cpu_seconds"] / args.steps

    def sample_forward(model) -> tuple[float, float]:
        model.eval()
        with torch.no_grad():
            start, cpu = time.perf_counter(), time.process_time()
            for _ in range(args.forwards):
                model(x, t)
            return (time.perf_counter() - start) / args.forwards, (time.process_time() - cpu) / args.forwards

    names = list(models)
    for name in names:  # warm-up: allocator, kernels' first calls
        train_step(models[name][1])
        sample_forward(models[name][1])
    timings: dict[str, dict[str, list]] = {n: {"train": [], "sample": []} for n in names}
    for r in range(args.repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            timings[name]["train"].append(train_step(models[name][1]))
            timings[name]["sample"].append(sample_forward(models[name][1]))

    rows = {}
    for name in names:
        round_to, model = models[name]
        macs, params = macs_and_params(model)
        train_s = statistics.median(w for w, _ in timings[name]["train"])
        sample_s = statistics.median(w for w, _ in timings[name]["sample"])
        rows[name] = {
            "round_to": round_to,
            "params": params,
            "macs": macs,
            "widths": {k: list(v) for k, v in layer_widths(model).items()},
            "distinct_widths": sorted({n for w in layer_widths(model).values() for n in w}),
            "train_step_s": train_s,
            "train_step_cpu_s": statistics.median(c for _, c in timings[name]["train"]),
            "train_step_all_s": [w for w, _ in timings[name]["train"]],
            "sample_forward_s": sample_s,
            "sample_forward_cpu_s": statistics.median(c for _, c in timings[name]["sample"]),
            "sample_forward_all_s": [w for w, _ in timings[name]["sample"]],
        }
    b = rows["base"]
    for row in rows.values():
        row["mac_ratio"] = b["macs"] / row["macs"]
        row["train_step_ratio"] = b["train_step_s"] / row["train_step_s"]
        row["sample_forward_ratio"] = b["sample_forward_s"] / row["sample_forward_s"]
        # Forward MACs per second of step (x the batch): how well the widths use the machine, whatever
        # their count; the base model's is the reference.
        row["train_mac_rate_vs_base"] = row["train_step_ratio"] / row["mac_ratio"]
        row["sample_mac_rate_vs_base"] = row["sample_forward_ratio"] / row["mac_ratio"]
    result = {
        "what": "base vs pruned models of config.yaml's model: params, MACs, widths, train step and sampling forward",
        "cpu_model": cpu_model(),
        "commit": commit(),
        "torch": torch.__version__,
        "threads": args.threads,
        "model": cfg["model"],
        "ratio": prune["ratio"],
        "train_batch": recipe.batch_size,
        "sample_batch": n_sample,
        "steps_per_timing": args.steps,
        "forwards_per_timing": args.forwards,
        "repeats": args.repeats,
        "loadavg": [round(v, 2) for v in os.getloadavg()],
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "skipped": {str(k): v for k, v in skipped.items()},
        "rows": rows,
    }
    write_json(args.out, result)
    print(f"{result['cpu_model']}, commit {result['commit']}, load {result['loadavg']}")
    head = "| model | widths | params | MACs | MACs base/x | train step ms | step base/x | MAC rate | sample fwd ms "
    print(head + "| fwd base/x | MAC rate |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        widths = ", ".join(str(n) for n in r["distinct_widths"])
        print(
            f"| {name} | {widths} | {r['params']:,} | {r['macs'] / 1e6:.2f}M | {r['mac_ratio']:.2f} | "
            f"{r['train_step_s'] * 1e3:.1f} | {r['train_step_ratio']:.2f} | {r['train_mac_rate_vs_base']:.2f} | "
            f"{r['sample_forward_s'] * 1e3:.1f} | {r['sample_forward_ratio']:.2f} | "
            f"{r['sample_mac_rate_vs_base']:.2f} |"
        )
    print(json.dumps(result["skipped"]))


if __name__ == "__main__":
    main()
