"""Sampling under torch.no_grad (what ddim_sample does) against torch.inference_mode, at several batch
sizes (issue 23 item 3): seconds to draw the default behaviour's images with the default model, and
whether the images are bit-identical across modes and batch sizes (the shared noises make image j
independent of its batch; inference_mode should change no arithmetic).

The default config's `model` (untrained weights, seed 0: the arithmetic and its cost do not depend on
the values), its `scheduler` and `behaviour` (n_samples, ddim_steps, eta, seed); one torch thread (a
job's default). Each (mode, batch size) is timed --repeats times, the pairs taking turns within a round
in an order rotated round by round, so a drift in the machine's load hits them all alike; the median
is reported, with the ratio no_grad / inference_mode per batch size from the same rounds.

Writes bench/out/sampling_mode.json (with the CPU model and the commit).
Usage: python bench/sampling_mode.py [--batch-sizes 100 250 500 1000] [--repeats 3] [--n-samples N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import time
from pathlib import Path

import torch
import yaml
from machine import cpu_model  # bench/machine.py: bench/ is on sys.path when a bench script runs

from diffattr.models import build_unet, ddim_scheduler
from diffattr.sampling import ddim_sample

ROOT = Path(__file__).resolve().parents[1]
MODES = {"no_grad": torch.no_grad, "inference_mode": torch.inference_mode}


def _commit() -> str:
    run = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True)
    return run.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[100, 250, 500, 1000])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n-samples", type=int, default=None, help="default: config.yaml behaviour.n_samples")
    ap.add_argument("--out", default=str(ROOT / "bench/out/sampling_mode.json"))
    args = ap.parse_args()
    cfg = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    beh = cfg["behaviour"]
    n = args.n_samples or beh["n_samples"]
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build_unet(cfg["model"], 8, 1)  # the digits: 8 x 8, one channel
    pairs = [(mode, bs) for bs in args.batch_sizes for mode in MODES]
    seconds: dict[tuple[str, int], list[float]] = {pair: [] for pair in pairs}
    images: dict[tuple[str, int], torch.Tensor] = {}

    def draw(mode: str, bs: int) -> torch.Tensor:
        with MODES[mode]() if mode != "no_grad" else contextlib.nullcontext():  # ddim_sample is no_grad
            return ddim_sample(
                model, ddim_scheduler(cfg["scheduler"]), n, beh["ddim_steps"], beh["seed"], bs, eta=beh["eta"]
            )

    draw("no_grad", args.batch_sizes[0])  # warm-up
    for r in range(args.repeats):
        for mode, bs in pairs[r % len(pairs) :] + pairs[: r % len(pairs)]:
            start = time.perf_counter()
            images[(mode, bs)] = draw(mode, bs)
            seconds[(mode, bs)].append(time.perf_counter() - start)
    first = images[pairs[0]]
    rows = []
    for bs in args.batch_sizes:
        med = {mode: statistics.median(seconds[(mode, bs)]) for mode in MODES}
        rows.append(
            {
                "batch_size": bs,
                **{f"{mode}_seconds": round(s, 3) for mode, s in med.items()},
                "no_grad_over_inference_mode": round(med["no_grad"] / med["inference_mode"], 3),
                "images_per_second_no_grad": round(n / med["no_grad"], 1),
            }
        )
    out = {
        "cpu_model": cpu_model(),
        "commit": _commit(),
        "threads": 1,
        "n_samples": n,
        "ddim_steps": beh["ddim_steps"],
        "repeats": args.repeats,
        "bit_identical": all(torch.equal(first, img) for img in images.values()),
        "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
