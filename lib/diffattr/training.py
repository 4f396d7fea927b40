"""The DDPM training loop shared by base training, the pruned model's fine-tune, unlearning and
retraining: epsilon-prediction MSE, Adam, grad-norm clipping, EMA with warm-up."""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Mapping

import torch

from .progress import StepLogger


@dataclass(frozen=True)
class Recipe:
    steps: int
    batch_size: int
    lr: float
    grad_clip: float
    ema_max_decay: float
    ema_power: float
    seed: int
    hflip: bool = False

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], seed: int | None = None) -> "Recipe":
        return cls(
            steps=int(cfg["steps"]),
            batch_size=int(cfg["batch_size"]),
            lr=float(cfg["lr"]),
            grad_clip=float(cfg["grad_clip"]),
            ema_max_decay=float(cfg["ema_max_decay"]),
            ema_power=float(cfg["ema_power"]),
            seed=int(cfg["seed"] if seed is None else seed),
            hflip=bool(cfg.get("hflip", False)),
        )


def train_ddpm(
    model: torch.nn.Module,
    images: torch.Tensor,
    recipe: Recipe,
    noise_scheduler,
    logger: logging.Logger,
    log_every: int = 100,
    label: str = "train",
) -> tuple[torch.nn.Module, dict]:
    """Train `model` in place on `images` (N x C x H x W in [-1, 1]); return (EMA copy, stats).

    All randomness (batch indices, noise, timesteps, flips) comes from one generator seeded with
    `recipe.seed`, so a run is reproducible on the CPU.
    """
    from diffusers.training_utils import EMAModel

    if len(images) == 0:
        raise ValueError(f"{label}: no training images (empty subset?)")
    gen = torch.Generator().manual_seed(recipe.seed)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    # Fresh EMA from the current weights: for unlearning this is "a fresh EMA from the loaded weights".
    ema = EMAModel(model.parameters(), decay=recipe.ema_max_decay, use_ema_warmup=True, power=recipe.ema_power)
    alphas = noise_scheduler.alphas_cumprod.to(torch.float32)
    n_t = noise_scheduler.config.num_train_timesteps
    progress = StepLogger(logger, recipe.steps, log_every, label)
    start = time.perf_counter()
    loss_value = float("nan")
    for step in range(recipe.steps):
        idx = torch.randint(len(images), (recipe.batch_size,), generator=gen)
        x0 = images[idx]
        if recipe.hflip:
            flip = torch.rand(len(x0), generator=gen) < 0.5
            x0 = torch.where(flip[:, None, None, None], x0.flip(-1), x0)
        noise = torch.randn(x0.shape, generator=gen)
        t = torch.randint(n_t, (len(x0),), generator=gen)
        a = alphas[t].view(-1, 1, 1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        loss = torch.nn.functional.mse_loss(model(xt, t).sample, noise)
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            raise FloatingPointError(f"{label}: loss became {loss_value} at step {step + 1}; lower the lr")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip)
        opt.step()
        ema.step(model.parameters())
        progress.step(step, loss_value)
    seconds = time.perf_counter() - start
    ema_model = copy.deepcopy(model)
    ema.copy_to(ema_model.parameters())
    ema_model.eval()
    stats = {"steps": recipe.steps, "final_loss": loss_value, "train_seconds": seconds,
             "steps_per_second": recipe.steps / seconds if seconds > 0 else None}
    return ema_model, stats
