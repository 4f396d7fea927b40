"""TRAK/D-TRAK time against `baselines.batch_size` (images per per-sample-gradient batch, unhashed).

dattri computes per-sample gradients with torch.func (vmap over grad); on the CPU their cost per
image depends strongly on how many images one vmap call holds. This times `gradient_support` on the
configured model (random weights: the time does not depend on them) over N digits at each batch
size, in one process, and writes bench/out/baseline_batch.json: wall and CPU seconds per batch size,
the ratio of each to the fastest, the scores' largest relative difference to the first batch size
(batching must not change them beyond float rounding), the CPU model and torch's thread count.
Usage: python bench/baseline_batch.py [--images 256] [--sizes 4,8,16,32,64] [--config config/config.yaml
config/presets/smoke.yaml]
"""

from __future__ import annotations

import argparse
import json
import os
import time

from machine import cpu_model  # bench/machine.py: bench/ is on sys.path when a bench script runs

os.environ.setdefault("TQDM_DISABLE", "1")


def main() -> None:
    import numpy as np
    import torch
    import yaml
    from snakemake.utils import update_config

    from diffattr.attribution.baselines.gradient import gradient_support
    from diffattr.core.atomic import write_json
    from diffattr.core.data import load_source
    from diffattr.core.settings import DataSource
    from diffattr.modelling.models import build_unet, ddpm_scheduler

    ap = argparse.ArgumentParser()
    ap.add_argument("--config", nargs="+", default=["config/config.yaml"])
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--generated", type=int, default=20)
    ap.add_argument("--sizes", default="4,8,16,32,64")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the jobs run with resources' threads)")
    ap.add_argument("--out", default="bench/out/baseline_batch.json")
    args = ap.parse_args()
    cfg: dict = {}
    for path in args.config:
        with open(path) as fh:
            update_config(cfg, yaml.safe_load(fh))
    torch.set_num_threads(args.threads)
    ds = load_source(DataSource.from_config(cfg["data"]))
    train = ds.images[: args.images]
    generated = ds.images[-args.generated :]
    torch.manual_seed(0)
    model = build_unet(cfg["model"], ds.images.shape[-1], ds.images.shape[1])
    abar = ddpm_scheduler(cfg["scheduler"]).alphas_cumprod
    settings = {k: cfg["baselines"][k] for k in ("timesteps", "proj_dim", "proj_type", "regularization", "seed")}
    sizes = [int(s) for s in args.sizes.split(",")]
    gradient_support(model, train[:8], generated[:4], "trak", settings, abar, 8)  # warm-up (imports, allocator)
    rows, first = [], None
    for size in sizes:
        wall, cpu = time.perf_counter(), time.process_time()
        support = gradient_support(model, train, generated, "trak", settings, abar, size)
        row = {"batch_size": size, "wall_seconds": time.perf_counter() - wall, "cpu_seconds": time.process_time() - cpu}
        first = support if first is None else first
        row["max_relative_difference"] = float(np.abs(support - first).max() / np.abs(first).max())
        rows.append(row)
        print(json.dumps(row), flush=True)
    fastest = min(r["wall_seconds"] for r in rows)
    for r in rows:
        r["wall_ratio_to_fastest"] = r["wall_seconds"] / fastest
    out = {
        "what": "dattri TRAK kernel + scores of `images` digits against `generated` ones, per batch size",
        "images": args.images,
        "generated": args.generated,
        "settings": settings,
        "model": cfg["model"],
        "threads": args.threads,
        "cpu_model": cpu_model(),
        "torch": torch.__version__,
        "rows": rows,
    }
    write_json(args.out, out)


if __name__ == "__main__":
    main()
