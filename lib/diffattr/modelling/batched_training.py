"""Several DDPM trainings of one architecture as one: K models' weights stacked along a new leading
axis and run with `torch.func.vmap`, so each kernel launch serves all K. This is
`unlearn.concurrent_mode: vmap`; it keeps a GPU busy with a small pruned model where one model per
launch leaves it idle between kernels.

It is `training.train_ddpm` K times, not an approximation of it: each model draws its batches,
noise and timesteps from its own generator (same seed, same draws as alone), its loss is its own
mean, its gradient norm is clipped on its own, and Adam and the EMA act element by element, so the
stacked optimizer and EMA are K independent ones. Models agree with the one-at-a-time run up to
floating-point rounding (batched kernels sum in another order), not bit for bit.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import replace

import torch

from ..core.progress import StepLogger
from ..core.settings import Recipe
from .training import Draws, training_stats


def _same_recipe_but_seed(recipes: Sequence[Recipe]) -> None:
    for r in recipes[1:]:
        if replace(r, seed=recipes[0].seed) != recipes[0]:
            raise ValueError(f"batched training needs one recipe up to the seed; got {recipes[0]} and {r}")


def clip_grad_norms_(grads: Sequence[torch.Tensor], max_norm: float) -> torch.Tensor:
    """`torch.nn.utils.clip_grad_norm_` for each model of a stack: row k of every gradient is model
    k's, and model k's gradients are scaled by min(1, max_norm / (its total norm + 1e-6)) as torch
    does. Returns the K total norms (before clipping)."""
    k = grads[0].shape[0]
    norms = torch.stack([g.reshape(k, -1).norm(dim=1) for g in grads]).norm(dim=0)
    scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(scale.view(k, *([1] * (g.dim() - 1))))
    return norms


def train_ddpm_batched(
    model: torch.nn.Module,
    image_sets: Sequence[torch.Tensor],
    recipes: Sequence[Recipe],
    noise_scheduler,
    logger: logging.Logger,
    log_every: int = 100,
    label: str = "train",
    compute=None,
) -> list[tuple[torch.nn.Module, dict]]:
    """Train K copies of `model` at once, copy k on `image_sets[k]` with `recipes[k]` (recipes may
    differ only in the seed); return K (EMA model, stats) pairs as `train_ddpm` would. `model` itself
    is left as it was. Losses are read back only at log steps on a GPU (every step on the CPU), where
    a non-finite loss in any model stops the run naming it. Each model is charged its share of the
    stack's wall and CPU time (`train_seconds` = wall / K; `stack_train_seconds` is the whole).
    Dropout, if the model has any, draws different masks per model from the global generator
    (vmap's randomness="different")."""
    from diffusers.training_utils import EMAModel
    from torch.func import functional_call, vmap

    from .compute import CPU

    compute = compute or CPU
    dev = compute.device
    if len(image_sets) != len(recipes) or not recipes:
        raise ValueError(f"{label}: {len(image_sets)} image sets for {len(recipes)} recipes")
    _same_recipe_but_seed(recipes)
    for k, images in enumerate(image_sets):
        if len(images) == 0:
            raise ValueError(f"{label}: no training images for model {k} (empty subset?)")
    recipe, n = recipes[0], len(recipes)
    image_sets = [images.to(dev) for images in image_sets]
    draws = [Draws(r, len(images)) for r, images in zip(recipes, image_sets)]
    check_every = 1 if dev.type == "cpu" else max(1, int(log_every))
    shape = copy.deepcopy(model).to(dev).train()
    names = [name for name, _ in shape.named_parameters()]
    stacked = {
        name: p.detach().unsqueeze(0).repeat(n, *([1] * p.dim())).requires_grad_(True)
        for name, p in shape.named_parameters()
    }
    buffers = {name: b.unsqueeze(0).expand(n, *b.shape) for name, b in shape.named_buffers()}
    params = [stacked[name] for name in names]
    opt = torch.optim.Adam(params, lr=recipe.lr)
    ema = EMAModel(params, decay=recipe.ema_max_decay, use_ema_warmup=recipe.ema_warmup, power=recipe.ema_power)
    alphas = noise_scheduler.alphas_cumprod.to(torch.float32).to(dev)

    def forward(p, b, xt, t):
        return functional_call(shape, (p, b), (xt, t)).sample

    batched_forward = vmap(forward, randomness="different")
    progress = StepLogger(logger, recipe.steps, log_every, f"{label} ({n} models)")
    start, cpu_start = time.perf_counter(), time.process_time()
    losses = torch.full((n,), float("nan"))
    for step in range(recipe.steps):
        batches = [d.batch(images, step, alphas) for d, images in zip(draws, image_sets)]
        xt, t, noise = (torch.stack(parts) for parts in zip(*batches))
        with compute.autocast():
            pred = batched_forward(stacked, buffers, xt, t)
        per_model = (pred.float() - noise).pow(2).flatten(1).mean(dim=1)
        if (step + 1) % check_every == 0 or step + 1 == recipe.steps:
            losses = per_model.detach().cpu()
            bad = [k for k in range(n) if not math.isfinite(losses[k])]
            if bad:
                raise FloatingPointError(
                    f"{label}: loss of model {bad[0]} became {losses[bad[0]].item()} at step {step + 1}; lower the lr"
                )
        opt.zero_grad(set_to_none=True)
        per_model.sum().backward()
        clip_grad_norms_([p.grad for p in params], recipe.grad_clip)
        opt.step()
        ema.step(params)
        progress.step(step, float(losses.mean()))
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    out = []
    for k in range(n):
        ema_model = copy.deepcopy(model).to("cpu")
        with torch.no_grad():
            for p, shadow in zip(ema_model.parameters(), ema.shadow_params):
                p.copy_(shadow[k])
        stats = {
            **training_stats(recipe, 0, float(losses[k]), seconds / n, cpu_seconds / n, compute),
            "batched_models": n,
            "stack_train_seconds": seconds,
            "stack_train_cpu_seconds": cpu_seconds,
        }
        out.append((ema_model.eval(), stats))
    return out
