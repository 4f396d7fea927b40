"""A training step of the default's full and pruned model run other ways (issue 23 item 3, the
training side of bench/sampling_mode.py): as train_ddpm runs it (`eager`), with the weights and
inputs in channels_last, under bf16 autocast (compute.precision: bf16), compiled with torch.compile
(inductor; the first call timed apart, with its on-disk caches off under --cold), and with Adam, the
EMA and gradient clipping in their `foreach` forms. Milliseconds per step, each way's ratio to eager
from the same rounds, and whether its EMA weights (what train_ddpm saves) after the same steps are
eager's bit for bit (their largest difference if not).

The step is train_ddpm's: the library's `Draws` (batch, timesteps, noise), forward, MSE, the loss read
back (the CPU loop checks it every step), backward, clipping, Adam and diffusers' EMA with warm-up,
at train_base's recipe and batch. The default config's `model` (untrained weights, seed 0) and the
pruned model its `prune` section builds (prune.round_to included); one torch thread (a job's
default). Each way runs --steps steps per round, the ways taking turns in an order rotated round by
round, so a drift in the machine's load hits them all alike; the median round is reported.

Writes bench/out/train_step_mode.json (with the CPU model and the commit).
Usage: python bench/train_step_mode.py [--rounds 5] [--steps 20] [--ways channels_last bf16 compile foreach]
       [--cold]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import statistics
import time
from pathlib import Path

import torch
import yaml
from machine import commit, cpu_model  # bench/machine.py: bench/ is on sys.path when a bench script runs

from diffattr.core.atomic import write_json
from diffattr.core.data import load_source
from diffattr.core.settings import DataSource, Recipe
from diffattr.modelling.models import ddpm_scheduler, initial_unet
from diffattr.modelling.training import Draws
from diffattr.workflow.calibration import pruned_model

ROOT = Path(__file__).resolve().parents[1]
WAYS = ("channels_last", "bf16", "compile", "foreach")


def trainer(model: torch.nn.Module, way: str, recipe: Recipe, images: torch.Tensor, alphas: torch.Tensor):
    """(its EMA, one training step) for `way`; every way draws the same batches."""
    from diffusers.training_utils import EMAModel

    model = copy.deepcopy(model).train()
    if way == "channels_last":
        model = model.to(memory_format=torch.channels_last)
    forward = torch.compile(model) if way == "compile" else model
    foreach = True if way == "foreach" else None
    opt = torch.optim.Adam(model.parameters(), lr=recipe.lr, foreach=foreach)
    ema = EMAModel(
        model.parameters(),
        decay=recipe.ema_max_decay,
        use_ema_warmup=recipe.ema_warmup,
        power=recipe.ema_power,
        foreach=way == "foreach",
    )
    draws = Draws(recipe, len(images))
    done = [0]

    def step() -> None:
        xt, t, noise = draws.batch(images, done[0], alphas)
        if way == "channels_last":
            xt = xt.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16) if way == "bf16" else contextlib.nullcontext():
            pred = forward(xt, t).sample
        loss = torch.nn.functional.mse_loss(pred.float(), noise)
        loss.item()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip, foreach=foreach)
        opt.step()
        ema.step(model.parameters())
        done[0] += 1

    return ema, step


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20, help="steps per way and round")
    ap.add_argument("--ways", nargs="*", choices=WAYS, default=list(WAYS))
    ap.add_argument("--cold", action="store_true", help="compile without the inductor's on-disk caches")
    ap.add_argument("--out", default=str(ROOT / "bench/out/train_step_mode.json"))
    args = ap.parse_args()
    cfg = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    torch.set_num_threads(1)
    if args.cold:
        import torch._inductor.config as inductor

        inductor.force_disable_caches = True
    images = torch.from_numpy(load_source(DataSource.from_config(cfg["data"])).images)
    full = initial_unet(cfg["model"], images, 0)
    pruned = pruned_model(copy.deepcopy(full), cfg["prune"])
    recipe = Recipe.from_config(cfg["train_base"])
    alphas = ddpm_scheduler(cfg["scheduler"]).alphas_cumprod.to(torch.float32)
    ways = ["eager", *args.ways]
    out_rows, compile_seconds = [], {}
    for kind, base in (("full", full), ("pruned", pruned)):
        trainers = {way: trainer(base, way, recipe, images, alphas) for way in ways}
        for way, (_, step) in trainers.items():  # warm-up; compile's first call compiles
            start = time.perf_counter()
            step()
            if way == "compile":
                compile_seconds[kind] = round(time.perf_counter() - start, 1)
        ms: dict[str, list[float]] = {way: [] for way in ways}
        for r in range(args.rounds):
            for way in ways[r % len(ways) :] + ways[: r % len(ways)]:
                step = trainers[way][1]
                start = time.perf_counter()
                for _ in range(args.steps):
                    step()
                ms[way].append((time.perf_counter() - start) / args.steps * 1000)
        eager = trainers["eager"][0].shadow_params
        med = {way: statistics.median(times) for way, times in ms.items()}
        for way in ways:
            shadow = trainers[way][0].shadow_params
            out_rows.append(
                {
                    "model": kind,
                    "way": way,
                    "ms_per_step": round(med[way], 2),
                    "eager_over_this": round(med["eager"] / med[way], 3),
                    "ema_identical_to_eager": all(torch.equal(a, b) for a, b in zip(eager, shadow)),
                    "max_abs_ema_diff_from_eager": max(float((a - b).abs().max()) for a, b in zip(eager, shadow)),
                }
            )
    out = {
        "cpu_model": cpu_model(),
        "commit": commit(),
        "threads": 1,
        "batch_size": recipe.batch_size,
        "rounds": args.rounds,
        "steps_per_round": args.steps,
        "steps_each": 1 + args.rounds * args.steps,
        "compile_first_call_seconds": compile_seconds,
        "compile_caches": "off" if args.cold else "on",
        "rows": out_rows,
    }
    write_json(args.out, out)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
