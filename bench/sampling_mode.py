"""Sampling under torch.no_grad (what ddim_sample does) against torch.inference_mode, at several batch
sizes, and at the default batch size three other ways of running it (issue 23 item 3): the weights in
channels_last, bf16 autocast (compute.precision: bf16) and torch.compile (inductor; its compilation
timed apart). Seconds to draw the default behaviour's images with the default model, and each way's
largest difference from no_grad's images at the same batch size (the shared noises make image j
independent of its batch; inference_mode and channels_last should change no arithmetic).

The default config's `model` (untrained weights, seed 0: the arithmetic and its cost do not depend on
the values), its `scheduler` and `behaviour` (n_samples, ddim_steps, eta, seed); one torch thread (a
job's default). Each (mode, batch size) is timed --repeats times, the pairs taking turns within a round
in an order rotated round by round, so a drift in the machine's load hits them all alike; the median
is reported, with the ratio no_grad / this way at the same batch size from the same rounds.

Writes bench/out/sampling_mode.json (with the CPU model and the commit).
Usage: python bench/sampling_mode.py [--batch-sizes 100 250 500 1000] [--repeats 3] [--n-samples N]
       [--ways channels_last bf16 compile]
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

from diffattr.modelling.compute import CPU, Compute
from diffattr.modelling.models import build_unet, ddim_scheduler
from diffattr.modelling.sampling import ddim_sample

ROOT = Path(__file__).resolve().parents[1]
MODES = ("no_grad", "inference_mode")
WAYS = ("channels_last", "bf16", "compile")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[100, 250, 500, 1000])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n-samples", type=int, default=None, help="default: config.yaml behaviour.n_samples")
    ap.add_argument("--ways", nargs="*", choices=WAYS, default=list(WAYS), help="at behaviour.batch_size")
    ap.add_argument("--out", default=str(ROOT / "bench/out/sampling_mode.json"))
    args = ap.parse_args()
    cfg = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    beh = cfg["behaviour"]
    n = args.n_samples or beh["n_samples"]
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build_unet(cfg["model"], 8, 1)  # the digits: 8 x 8, one channel
    default_bs = beh["batch_size"]
    models = {"no_grad": model, "inference_mode": model}
    if "channels_last" in args.ways:
        models["channels_last"] = copy.deepcopy(model).to(memory_format=torch.channels_last)
    if "bf16" in args.ways:
        models["bf16"] = model
    compile_seconds = None
    if "compile" in args.ways:
        models["compile"] = torch.compile(copy.deepcopy(model))
    # the other ways are compared with no_grad at the default batch size
    batch_sizes = sorted(set(args.batch_sizes) | ({default_bs} if args.ways else set()))
    pairs = [(mode, bs) for bs in batch_sizes for mode in MODES]
    pairs += [(way, default_bs) for way in args.ways]
    seconds: dict[tuple[str, int], list[float]] = {pair: [] for pair in pairs}
    images: dict[tuple[str, int], torch.Tensor] = {}

    def draw(way: str, bs: int) -> torch.Tensor:
        # ddim_sample runs under no_grad; inference_mode around it wins (it is the stricter mode)
        with torch.inference_mode() if way == "inference_mode" else contextlib.nullcontext():
            return ddim_sample(
                models[way],
                ddim_scheduler(cfg["scheduler"]),
                n,
                beh["ddim_steps"],
                beh["seed"],
                bs,
                eta=beh["eta"],
                compute=Compute(CPU.device, "bf16") if way == "bf16" else CPU,
            )

    draw("no_grad", batch_sizes[0])  # warm-up
    if "compile" in args.ways:
        start = time.perf_counter()
        draw("compile", default_bs)  # compiles for the batch's shape
        compile_seconds = round(time.perf_counter() - start, 1)
    for r in range(args.repeats):
        for way, bs in pairs[r % len(pairs) :] + pairs[: r % len(pairs)]:
            start = time.perf_counter()
            images[(way, bs)] = draw(way, bs)
            seconds[(way, bs)].append(time.perf_counter() - start)
    med = {pair: statistics.median(times) for pair, times in seconds.items()}
    rows = [
        {
            "way": way,
            "batch_size": bs,
            "seconds": round(med[(way, bs)], 3),
            "no_grad_over_this": round(med[("no_grad", bs)] / med[(way, bs)], 3),
            "images_per_second": round(n / med[(way, bs)], 1),
            "max_abs_diff_from_no_grad": float((images[(way, bs)] - images[("no_grad", bs)]).abs().max()),
        }
        for way, bs in pairs
    ]
    same_across_batches = all(torch.equal(images[("no_grad", bs)], images[pairs[0]]) for bs in batch_sizes)
    out = {
        "cpu_model": cpu_model(),
        "commit": commit(),
        "threads": 1,
        "n_samples": n,
        "ddim_steps": beh["ddim_steps"],
        "repeats": args.repeats,
        "no_grad_bit_identical_across_batch_sizes": same_across_batches,
        "compile_first_call_seconds": compile_seconds,
        "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
