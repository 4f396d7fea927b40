"""The DDPM training loop shared by base training, the pruned model's fine-tune, unlearning and
retraining: epsilon-prediction MSE, Adam, grad-norm clipping, an EMA (with or without warm-up), and
batches drawn with replacement or walked through a shuffled epoch."""

from __future__ import annotations

import copy
import hashlib
import logging
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..core.progress import StepLogger
from ..core.settings import Recipe

PathLike = str | os.PathLike


class EpochBatches:
    """Batches that walk through a fresh permutation of the images every epoch, as a shuffled
    DataLoader does: training sample k is perm_e[k mod n] with e = k // n, and epoch e's permutation
    comes from its own generator seeded by (seed, e). The batch of step s follows from s alone, so a
    resumed run continues it with no saved state. Batches run on across epoch boundaries."""

    def __init__(self, n_images: int, batch_size: int, seed: int):
        self.n, self.batch_size, self.seed = int(n_images), int(batch_size), int(seed)
        self._perms: dict[int, torch.Tensor] = {}

    def _perm(self, epoch: int) -> torch.Tensor:
        if epoch not in self._perms:
            self._perms = {e: p for e, p in self._perms.items() if e >= epoch - 1}
            gen = torch.Generator().manual_seed(
                int.from_bytes(hashlib.sha256(f"{self.seed}:epoch:{epoch}".encode()).digest()[:8], "little")
                & (2**63 - 1)
            )
            self._perms[epoch] = torch.randperm(self.n, generator=gen)
        return self._perms[epoch]

    def indices(self, step: int) -> torch.Tensor:
        pos = torch.arange(step * self.batch_size, (step + 1) * self.batch_size)
        out = torch.empty(self.batch_size, dtype=torch.int64)
        for epoch in range(int(pos[0]) // self.n, int(pos[-1]) // self.n + 1):
            sel = pos // self.n == epoch
            out[sel] = self._perm(epoch)[pos[sel] % self.n]
        return out


class Draws:
    """One model's training randomness: batch indices, flips, noise and timesteps, all drawn on the
    CPU (from one generator seeded with `recipe.seed`, plus the epoch permutations) and then moved to
    the images' device. So a model gets the same draws on every device, and every trainer (one model
    or a vmapped stack) draws through here in the same order."""

    def __init__(self, recipe: Recipe, n_images: int):
        self.recipe = recipe
        self.gen = torch.Generator().manual_seed(recipe.seed)
        self.epochs = EpochBatches(n_images, recipe.batch_size, recipe.seed) if recipe.batching == "epoch" else None

    def batch(
        self, images: torch.Tensor, step: int, alphas_cumprod: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Step `step`'s batch of `images` (flipped when the recipe says so), its timesteps and noise,
        and the noised batch x_t. Returns (x_t, t, noise) on the images' device."""
        dev, gen, bs = images.device, self.gen, self.recipe.batch_size
        idx = self.epochs.indices(step) if self.epochs else torch.randint(len(images), (bs,), generator=gen)
        x0 = images[_to(idx, dev)]
        if self.recipe.hflip:
            flip = torch.rand(bs, generator=gen) < 0.5
            x0 = torch.where(_to(flip, dev)[:, None, None, None], x0.flip(-1), x0)
        noise = _to(torch.randn(x0.shape, generator=gen), dev)
        t = _to(torch.randint(len(alphas_cumprod), (bs,), generator=gen), dev)
        a = alphas_cumprod[t].view(-1, 1, 1, 1)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise, t, noise


def _to(x: torch.Tensor, dev: torch.device) -> torch.Tensor:
    """CPU draws to the device without stalling the host: pinned memory allows an asynchronous copy."""
    if dev.type == "cpu":
        return x
    return x.pin_memory().to(dev, non_blocking=True)


def train_ddpm(
    model: torch.nn.Module,
    images: torch.Tensor,
    recipe: Recipe,
    noise_scheduler,
    logger: logging.Logger,
    log_every: int = 100,
    label: str = "train",
    resume_path: str | os.PathLike | None = None,
    checkpoint_every: int = 0,
    compute=None,
) -> tuple[torch.nn.Module, dict]:
    """Train `model` in place on `images` (N x C x H x W in [-1, 1]); return (EMA copy, stats).

    All randomness (batch indices, noise, timesteps, flips) is drawn on the CPU from `Draws`
    (seeded with `recipe.seed`), so a model gets the same draws on every device. With `resume_path` and
    `checkpoint_every`, the whole training state (weights, Adam, EMA, generator) is saved every `checkpoint_every` steps
    and a killed run resumes from it, losing at most that many steps; the result equals the
    uninterrupted one. The resume file is removed once training finishes.

    On a GPU (`compute`), the images, the model and the EMA live on the device, each step's draws
    are copied there asynchronously, and the loss is read back (a host sync) only at log steps, where
    a non-finite loss stops the run; the CPU checks every step. Results are bit-reproducible per
    device; across devices they differ only by floating-point rounding.
    """
    from diffusers.training_utils import EMAModel

    from .compute import CPU

    compute = compute or CPU
    dev = compute.device
    if len(images) == 0:
        raise ValueError(f"{label}: no training images (empty subset?)")
    images = images.to(dev)
    model.to(dev)
    draws = Draws(recipe, len(images))
    check_every = 1 if dev.type == "cpu" else max(1, int(log_every))
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    # Fresh EMA from the current weights: for unlearning this is "a fresh EMA from the loaded weights".
    ema = EMAModel(
        model.parameters(), decay=recipe.ema_max_decay, use_ema_warmup=recipe.ema_warmup, power=recipe.ema_power
    )
    alphas = noise_scheduler.alphas_cumprod.to(torch.float32).to(dev)
    progress = StepLogger(logger, recipe.steps, log_every, label)
    start, cpu_start = time.perf_counter(), time.process_time()
    loss_value = float("nan")
    first = 0
    resume = Path(resume_path) if resume_path else None
    if resume is not None and resume.exists():
        first, loss_value = load_resume_state(resume, recipe, model, opt, ema, draws.gen)
        ema.to(dev)
        logger.info(f"{label}: resumed from {resume} at step {first}")
    for step in range(first, recipe.steps):
        xt, t, noise = draws.batch(images, step, alphas)
        with compute.autocast():
            pred = model(xt, t).sample
        loss = torch.nn.functional.mse_loss(pred.float(), noise)
        if (step + 1) % check_every == 0 or step + 1 == recipe.steps:
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                raise FloatingPointError(f"{label}: loss became {loss_value} at step {step + 1}; lower the lr")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip)
        opt.step()
        ema.step(model.parameters())
        progress.step(step, loss_value)
        if resume is not None and checkpoint_every and (step + 1) % checkpoint_every == 0 and step + 1 < recipe.steps:
            save_resume_state(resume, recipe, step + 1, loss_value, model, opt, ema, draws.gen)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    ema_model = copy.deepcopy(model)
    ema.copy_to(ema_model.parameters())
    ema_model.eval().to("cpu")
    model.to("cpu")
    if resume is not None and resume.exists():
        resume.unlink()
    return ema_model, training_stats(recipe, first, loss_value, seconds, cpu_seconds, compute)


def training_stats(
    recipe: Recipe, resumed_from_step: int, final_loss: float, seconds: float, cpu_seconds: float, compute
) -> dict:
    """The stats a trainer returns beside its EMA model (written to the model's train.json)."""
    return {
        "steps": recipe.steps,
        "resumed_from_step": resumed_from_step,
        "final_loss": final_loss,
        "train_seconds": seconds,
        "device": str(compute.device),
        "precision": compute.precision,
        "train_cpu_seconds": cpu_seconds,
        "steps_per_second": recipe.steps / seconds if seconds > 0 else None,
    }


def save_resume_state(path: Path, recipe: Recipe, step: int, loss: float, model, opt, ema, gen) -> None:
    from ..core.atomic import atomic_path

    state = {
        "recipe": recipe.__dict__,
        "step": step,
        "loss": loss,
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "ema": ema.state_dict(),
        "generator": gen.get_state(),
    }
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(state, tmp)


def load_resume_state(path: Path, recipe: Recipe, model, opt, ema, gen) -> tuple[int, float]:
    """Restore a saved training state; a file from another recipe or a corrupt one is an error."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise ValueError(f"{path}: corrupt resume state ({exc}); delete it to restart this job from step 0") from None
    if state.get("recipe") != recipe.__dict__:
        raise ValueError(f"{path}: resume state of another recipe ({state.get('recipe')}); delete it to restart")
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    ema.load_state_dict(state["ema"])
    gen.set_state(state["generator"])
    return int(state["step"]), float(state["loss"])


@dataclass(frozen=True)
class ModelOutput:
    """What a model job writes: the EMA weights (`model`, what is sampled and evaluated), its training
    record (`record`, train.json), with `raw` also the raw weights (where unlearning starts, as in the
    authors' code); as whole modules (pruned and unlearned models) or as state dicts."""

    model: PathLike
    record: PathLike
    raw: PathLike | None = None
    whole_module: bool = False


@dataclass(frozen=True)
class TrainRun:
    """How one training runs, not what it produces: `runtime` (settings.TrainRuntime or UnlearnRuntime:
    log and checkpoint intervals), its log and label, where it keeps resumable state, its device
    (compute.Compute) and the job's start-up seconds to record."""

    runtime: Any
    logger: logging.Logger
    label: str
    startup: float | None = None
    resume_path: PathLike | None = None
    compute: Any = None


def train_and_save(
    model: torch.nn.Module,
    images,
    recipe: Recipe,
    sched_cfg: Mapping[str, Any],
    *,
    run: TrainRun,
    out: ModelOutput,
    extra: Mapping[str, Any] | None = None,
) -> dict:
    """Train `model` on `images` (numpy, N x C x H x W) and write it (`out`) with its training record
    (plus `extra`)."""
    from .models import count_params, ddpm_scheduler, save_model

    run.logger.info(f"{run.label}: {len(images)} images, {count_params(model)} params, {recipe}")
    ema_model, stats = train_ddpm(
        model,
        torch.from_numpy(images),
        recipe,
        ddpm_scheduler(sched_cfg),
        run.logger,
        log_every=run.runtime.log_every,
        label=run.label,
        resume_path=run.resume_path,
        checkpoint_every=run.runtime.checkpoint_every,
        compute=run.compute,
    )
    if out.raw is not None:
        save_model(model, out.raw, out.whole_module)
    return save_trained(ema_model, stats, recipe.seed, len(images), out, extra=extra, startup=run.startup)


def save_trained(
    ema_model: torch.nn.Module,
    stats: dict,
    seed: int,
    n_images: int,
    out: ModelOutput,
    *,
    extra: Mapping[str, Any] | None = None,
    startup: float | None = None,
) -> dict:
    """Write a trained model and its training record (train.json)."""
    from ..core.atomic import write_json
    from .models import count_params, save_model

    save_model(ema_model, out.model, out.whole_module)
    stats = {
        **stats,
        "seed": seed,
        "n_images": int(n_images),
        "params": count_params(ema_model),
        "startup_seconds": startup,
        **(extra or {}),
    }
    write_json(out.record, stats)
    return stats
