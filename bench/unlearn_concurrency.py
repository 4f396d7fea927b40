"""The unlearn job on the embedded default's pruned architecture (digits, 8x8) on this machine: k
subsets one after another, as streams, and stacked with vmap (`unlearn.concurrent_mode`), through
gpu_check's side_by_side: the default's batch size, `--steps` steps each (gpu_check's lr and flips; only
the time is read). Writes JSON; the ratios are measured in one run.
bench/gpu_check.sh does the same for the CIFAR-10 architecture on a GPU.

Usage: python bench/unlearn_concurrency.py [--k 4] [--steps 100] [--out bench/out/unlearn_concurrency.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))
sys.path.insert(0, str(ROOT / "bench"))

from gpu_check import side_by_side  # noqa: E402

from diffattr.core.data import load_digits_dataset  # noqa: E402
from diffattr.modelling.compute import resolve_compute  # noqa: E402
from diffattr.modelling.models import build_unet, count_params  # noqa: E402
from diffattr.workflow.calibration import pruned_model  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--out", default="bench/out/unlearn_concurrency.json")
    args = ap.parse_args()
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    ds = load_digits_dataset()
    images = torch.from_numpy(ds.images)
    torch.manual_seed(0)
    pruned = pruned_model(build_unet(cfg["model"], images.shape[-1], images.shape[1]), cfg["prune"])
    compute = resolve_compute(cfg["compute"])
    result = side_by_side(pruned, images, compute, args.k, args.steps, int(cfg["unlearn"]["batch_size"]))
    out = {
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(compute.device),
        "torch": torch.__version__,
        "params": count_params(pruned),
        "batch_size": int(cfg["unlearn"]["batch_size"]),
        **result,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
