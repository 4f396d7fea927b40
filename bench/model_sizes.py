"""Sizing `model` for a resolution: parameters, MACs and one training step's time of candidate
architectures at 16x16, 32x32 and 64x64 (docs/own-data.md's table).

Each model is built by the workflow's build_unet and trained by its train_ddpm (the real step:
forward, MSE, backward, gradient clipping, Adam, EMA) on random RGB images in [-1, 1], batch
--batch, fp32 on the CPU with --threads torch threads; one warm-up step, then --steps timed steps.
Writes bench/out/model_sizes.json. Usage: python bench/model_sizes.py [--batch 32] [--steps 2]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time

from machine import cpu_model  # bench/machine.py: bench/ is on sys.path when a bench script runs

os.environ.setdefault("TQDM_DISABLE", "1")

SMALL = {"layers_per_block": 1, "norm_num_groups": 8, "attention": False}
ATTN = {"layers_per_block": 2, "norm_num_groups": 32, "attention": True, "attention_head_dim": None, "dropout": 0.0}
CANDIDATES = [
    (16, "small", {**SMALL, "block_out_channels": [32, 64]}),
    (16, "medium", {**ATTN, "block_out_channels": [64, 128, 128]}),
    (32, "small", {**SMALL, "block_out_channels": [32, 64, 64]}),
    (32, "medium", {**ATTN, "block_out_channels": [64, 128, 128, 128]}),
    (32, "ddpm-cifar10-32", {**ATTN, "block_out_channels": [128, 256, 256, 256]}),
    (64, "medium", {**ATTN, "block_out_channels": [64, 128, 128, 256]}),
    (64, "large", {**ATTN, "block_out_channels": [128, 256, 256, 256]}),
]


def main() -> None:
    import torch
    import yaml

    from diffattr.core.atomic import write_json
    from diffattr.core.settings import Recipe
    from diffattr.modelling.models import build_unet, ddpm_scheduler
    from diffattr.modelling.pruning import macs_and_params
    from diffattr.modelling.training import train_ddpm

    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the jobs run with resources' threads)")
    ap.add_argument("--out", default="bench/out/model_sizes.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with open("config/config.yaml") as fh:
        cfg = yaml.safe_load(fh)
    scheduler = ddpm_scheduler(cfg["scheduler"])
    log = logging.getLogger("model_sizes")
    rows = []
    for side, name, model_cfg in CANDIDATES:
        model_cfg = {"dropout": 0.0, **model_cfg}
        torch.manual_seed(0)
        model = build_unet(model_cfg, side, 3)
        macs, params = macs_and_params(model)
        images = torch.rand(max(args.batch, 64), 3, side, side) * 2 - 1
        recipe = dict(batch_size=args.batch, lr=1e-4, grad_clip=1.0, ema_max_decay=0.9999, ema_power=0.75, seed=0)
        train_ddpm(model, images, Recipe(steps=1, **recipe), scheduler, log)  # warm-up (allocator, kernels)
        _, stats = train_ddpm(model, images, Recipe(steps=args.steps, **recipe), scheduler, log)
        row = {
            "side": side,
            "name": name,
            "model": model_cfg,
            "levels": len(model_cfg["block_out_channels"]),
            "bottom_side": side // 2 ** (len(model_cfg["block_out_channels"]) - 1),
            "params": params,
            "gmacs_per_image": macs / 1e9,
            "seconds_per_step": stats["train_seconds"] / args.steps,
            "cpu_seconds_per_step": stats["train_cpu_seconds"] / args.steps,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    write_json(
        args.out,
        {
            "what": "build_unet candidates: params, MACs per image, train_ddpm seconds per step (fp32, CPU)",
            "batch_size": args.batch,
            "steps_timed": args.steps,
            "threads": args.threads,
            "cpu_model": cpu_model(),
            "torch": torch.__version__,
            "measured_at": time.strftime("%Y-%m-%d %H:%M"),
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()
