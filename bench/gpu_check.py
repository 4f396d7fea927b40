"""GPU check for the CIFAR-10 architecture (google/ddpm-cifar10-32's UNet, the paper's): train steps/s
of the base and the pruned model (the pruning speed-up), DDIM images/s, seconds per unlearned subset
at the paper's 4,000 steps, and whether the workflow's unlearn job with `unlearn.concurrent: k` beats
one subset after another, for both `unlearn.concurrent_mode`s: streams (a thread and CUDA stream per
subset) and vmap (the k models stacked with torch.func). Writes JSON.

Usage (on a machine with a GPU; bench/gpu_check.sh wraps it):
    python bench/gpu_check.py --out bench/out/gpu_check.json
`--quick` shrinks every size so the script can be checked on a CPU in a minute (the figures then
mean nothing).
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import platform
import sys
import time
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from diffattr.core.settings import Recipe  # noqa: E402
from diffattr.modelling.compute import Compute, resolve_compute  # noqa: E402
from diffattr.modelling.models import build_unet, count_params, ddim_scheduler, ddpm_scheduler  # noqa: E402
from diffattr.modelling.pruning import macs_and_params, prune_unet  # noqa: E402
from diffattr.modelling.sampling import ddim_sample  # noqa: E402
from diffattr.modelling.training import train_ddpm  # noqa: E402

CIFAR = {
    "block_out_channels": [128, 256, 256, 256],
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "attention": True,
    "dropout": 0.0,
}
# The paper's DDPM forward process: the embedded default's (config.yaml `scheduler`).
SCHED = yaml.safe_load((Path(__file__).resolve().parents[1] / "config" / "config.yaml").read_text())["scheduler"]
QUIET = logging.getLogger("gpu_check")
QUIET.addHandler(logging.NullHandler())
QUIET.propagate = False


def sync(compute: Compute) -> None:
    if compute.is_cuda:
        torch.cuda.synchronize()


def steps_per_second(model, images, compute: Compute, steps: int, warmup: int, batch: int) -> float:
    recipe = Recipe(
        steps=warmup, batch_size=batch, lr=1e-4, grad_clip=1.0, ema_max_decay=0.9999, ema_power=0.75, seed=0
    )
    train_ddpm(model, images, recipe, ddpm_scheduler(SCHED), QUIET, log_every=10**9, compute=compute)
    sync(compute)
    start = time.perf_counter()
    train_ddpm(
        model,
        images,
        Recipe(**{**recipe.__dict__, "steps": steps}),
        ddpm_scheduler(SCHED),
        QUIET,
        log_every=10**9,
        compute=compute,
    )
    sync(compute)
    return steps / (time.perf_counter() - start)


def images_per_second(model, compute: Compute, n: int, ddim_steps: int, batch: int) -> float:
    ddim_sample(model, ddim_scheduler(SCHED), min(n, batch), 2, 0, batch, compute=compute)  # warm-up
    start = time.perf_counter()
    ddim_sample(model, ddim_scheduler(SCHED), n, ddim_steps, 0, batch, compute=compute)
    return n / (time.perf_counter() - start)


def side_by_side(pruned, images, compute: Compute, k: int, steps: int, batch: int) -> dict:
    """The workflow's unlearn job (diffattr.stages.unlearn.unlearn_batch) on k subsets: one after another
    (unlearn.concurrent 1), then k at once as streams and as vmap, load and save included: which
    setting to use on this GPU."""
    import dataclasses
    import tempfile

    import numpy as np

    from diffattr.core.data import Dataset, save_dataset
    from diffattr.core.settings import Job, Recipe, UnlearnRuntime
    from diffattr.modelling.models import save_model
    from diffattr.stages.unlearn import unlearn_batch

    recipe = Recipe(
        steps=steps,
        batch_size=batch,
        lr=1e-4,
        grad_clip=1.0,
        ema_max_decay=0.9999,
        ema_power=0.75,
        seed=0,
        hflip=True,
        ema_warmup=False,
        batching="epoch",
    )
    settings = {"sequential": (1, "streams"), "streams": (k, "streams"), "vmap": (k, "vmap")}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        save_model(pruned, tmp / "pruned.pt")
        arr = images.numpy().astype(np.float32)
        save_dataset(tmp / "data.npz", Dataset(arr, np.zeros(len(arr), dtype=np.int64), ("all",)))
        rng = np.random.default_rng(0)
        subsets = {
            f"train-{i:04d}": {
                "id": f"train-{i:04d}",
                "sample_indices": sorted(rng.choice(len(arr), len(arr) // 2, replace=False).tolist()),
            }
            for i in range(k)
        }
        (tmp / "chunk.json").write_text(json.dumps({"subsets": subsets}))
        walls = {}
        for name, (concurrent, mode) in settings.items():
            # Warm-up (allocator, cuDNN autotuning, thread pool, vmap tracing) outside the timing.
            runtime = UnlearnRuntime(log_every=10**9, concurrent=concurrent, concurrent_mode=mode)
            unlearn_batch(
                start=tmp / "pruned.pt",
                data=tmp / "data.npz",
                subsets=tmp / "chunk.json",
                settings=Job(dataclasses.replace(recipe, steps=2), runtime, scheduler=SCHED),
                batch=tmp / f"warmup-{name}",
                log=QUIET,
                compute=compute,
            )
            sync(compute)
            start = time.perf_counter()
            unlearn_batch(
                start=tmp / "pruned.pt",
                data=tmp / "data.npz",
                subsets=tmp / "chunk.json",
                settings=Job(recipe, runtime, scheduler=SCHED),
                batch=tmp / f"out-{name}",
                log=QUIET,
                compute=compute,
            )
            sync(compute)
            walls[name] = time.perf_counter() - start
            print(json.dumps({"side_by_side": name, "seconds": walls[name]}), flush=True)
    return {
        "models": k,
        "steps_each": steps,
        **{f"{name}_seconds": w for name, w in walls.items()},
        "streams_speedup": walls["sequential"] / walls["streams"],
        "vmap_speedup": walls["sequential"] / walls["vmap"],
    }


def bare_step_rate(
    model, compute: Compute, *, steps: int, warmup: int, batch: int, channels_last: bool, compiled: bool
) -> dict:
    """steps/s of a bare training step (forward under compute's autocast, MSE, backward, clipping,
    Adam; no EMA or CPU draws, so only comparable with other bare steps) and the warm-up's seconds
    (the compile's, under torch.compile)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, 32, 32, generator=gen).to(compute.device)
    t = torch.randint(0, 1000, (batch,), generator=gen).to(compute.device)
    noise = torch.randn(batch, 3, 32, 32, generator=gen).to(compute.device)
    model = copy.deepcopy(model).to(compute.device).train()
    inp = x.contiguous(memory_format=torch.channels_last) if channels_last else x
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    fn = torch.compile(model) if compiled else model

    def step() -> None:
        with compute.autocast():
            pred = fn(inp, t).sample
        loss = torch.nn.functional.mse_loss(pred.float(), noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    first = time.perf_counter()
    for _ in range(warmup):
        step()
    sync(compute)
    warm_s = time.perf_counter() - first
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(compute)
    return {"steps_per_second": steps / (time.perf_counter() - start), "warmup_seconds": warm_s}


def layouts(base, pruned, compute: Compute, steps: int, warmup: int, batch: int) -> dict:
    """Issue 23's layout question on this device: bare training steps/s of the base and the pruned
    model in NCHW and in channels_last. torch.compile is measured apart (main), after these are
    saved, as a slow compiler may run into the section's time limit."""
    out: dict = {"precision": compute.precision, "batch": batch, "timed_steps": steps}
    for name, model in (("base", base), ("pruned", pruned)):
        for layout, channels_last in (("nchw", False), ("channels_last", True)):
            out[f"{name}_{layout}"] = bare_step_rate(
                model, compute, steps=steps, warmup=warmup, batch=batch, channels_last=channels_last, compiled=False
            )
    return out


def main() -> None:  # noqa: PLR0915  (one measurement, read top to bottom)
    started = time.perf_counter()
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench/out/gpu_check.json")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, to check the script on a CPU")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    q = args.quick
    # Sized from the H200 run of 2026-12-04 (fp32: 4.9 base / 6.3 pruned steps/s at batch 128, 15-22
    # DDIM-100 images/s), where 60 timed steps and 256 images per model ran past the section's limit
    # before TF32, bf16, the streams and the layouts were reached.
    batch, steps, warmup = (8, 2, 1) if q else (128, 30, 5)
    n_img, ddim_steps, sample_batch = (8, 2, 8) if q else (64, 100, 64)
    k, k_steps = (2, 2) if q else (4, 20)
    out: dict = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "quick": q,
        "sizes": {
            "batch": batch,
            "timed_steps": steps,
            "warmup_steps": warmup,
            "ddim_images": n_img,
            "ddim_steps": ddim_steps,
            "side_by_side_models": k,
            "side_by_side_steps": k_steps,
        },
    }
    compute = resolve_compute({"device": args.device})
    out["device"] = torch.cuda.get_device_name() if compute.is_cuda else platform.processor() or "cpu"
    torch.manual_seed(0)
    base = build_unet(CIFAR, 32, 3)
    macs0, params0 = macs_and_params(base)
    pruned = prune_unet(copy.deepcopy(base), 0.3)
    macs1, params1 = macs_and_params(pruned)
    # prune.round_to 32 beside the authors' rule (the paper preset's null): whether rounding every
    # pruned layer to a multiple of 32 pays on the GPU (item 2 of issue 23 leaves the paper preset
    # on the authors' rule unless a GPU measurement says otherwise).
    pruned32 = prune_unet(copy.deepcopy(base), 0.3, round_to=32)
    macs32, params32 = macs_and_params(pruned32)
    out["params"] = {"base": params0, "pruned": params1, "pruned_round_to_32": params32}
    out["macs"] = {"base": macs0, "pruned": macs1, "pruned_round_to_32": macs32}
    images = torch.rand(5000 if not q else 64, 3, 32, 32) * 2 - 1
    out["note"] = (
        f"seconds_per_unlearned_subset_4k_steps = 4000 / measured pruned steps/s (batch {batch}), the "
        f"training loop only; parameters: base {count_params(base)}, pruned {count_params(pruned)}; "
        "tf32 = fp32 weights with TF32 matmuls and convolutions (compute.tf32: true)"
    )
    out["complete"] = False
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:  # after every section, so a run cut short by its time limit keeps what it measured
        Path(args.out).write_text(json.dumps(out, indent=1))

    save()
    # (name, autocast precision, TF32): compute.precision and compute.tf32 of the config.
    for variant, precision, tf32 in (("fp32", "fp32", False), ("tf32", "fp32", True), ("bf16", "bf16", False)):
        c = Compute(compute.device, precision)
        if c.is_cuda:
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
        rates = {
            name: steps_per_second(m, images, c, steps, warmup, batch)
            for name, m in (
                ("base", copy.deepcopy(base)),
                ("pruned", copy.deepcopy(pruned)),
                ("pruned_round_to_32", copy.deepcopy(pruned32)),
            )
        }
        out[f"train_steps_per_second_{variant}"] = rates
        out[f"pruning_speedup_{variant}"] = rates["pruned"] / rates["base"]
        out[f"pruning_speedup_round_to_32_{variant}"] = rates["pruned_round_to_32"] / rates["base"]
        out[f"seconds_per_unlearned_subset_4k_steps_{variant}"] = 4000 / rates["pruned"]
        out[f"minutes_per_retraining_200k_steps_{variant}"] = 200000 / rates["base"] / 60
        save()
        out[f"ddim{ddim_steps}_images_per_second_{variant}"] = {
            name: images_per_second(m, c, n_img, ddim_steps, sample_batch)
            for name, m in (("base", base), ("pruned", pruned), ("pruned_round_to_32", pruned32))
        }
        save()
        print(json.dumps({k2: v for k2, v in out.items() if variant in k2}), flush=True)
        if variant == "fp32":  # which unlearn.concurrent setting to use: early, as it decides a config key
            out["side_by_side_fp32"] = side_by_side(pruned, images, Compute(compute.device), k, k_steps, batch)
            save()
    if compute.is_cuda:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    # Last, as the least sure to finish: bf16 where the device has it (the GPU), else fp32.
    c = Compute(compute.device, "bf16" if compute.is_cuda else "fp32")
    out["layouts"] = layouts(base, pruned, c, steps, warmup, batch)
    save()
    # torch.compile of the pruned model (the one unlearning trains 300 x 4k times), with the compile's
    # own seconds, only while the section (260 s in bench/gpu_session.py) can still hold a compile.
    if time.perf_counter() - started < 180:
        try:
            out["layouts"]["pruned_compiled"] = bare_step_rate(
                pruned, c, steps=steps, warmup=warmup, batch=batch, channels_last=False, compiled=True
            )
        except Exception as exc:  # noqa: BLE001  a compiler failure is a finding, not a crash
            out["layouts"]["pruned_compiled"] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    else:
        out["layouts"]["pruned_compiled"] = {"skipped": "no time left in the section"}
    out["complete"] = True
    save()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
