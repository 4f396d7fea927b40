"""Stage samples (samples_train_base, _prune, _unlearn, _retrain): a grid of one model's samples."""

from __future__ import annotations

import os

from ..core.settings import Job


def sample_grid(
    *,
    model: str | os.PathLike,
    settings: Job,
    n: int,
    title: str,
    grid: str | os.PathLike,
    compute=None,
) -> None:
    """The first n images of the behaviour samples (image j from the same initial noise as image j of
    every model's evaluation; `settings`: the behaviour's sampling and forward process), so the grids
    compare image by image."""
    from ..evaluation.behaviour import generate
    from ..reporting.figures import image_grid

    images = generate(model, settings.scheduler, settings.recipe, n, max(n, 1), compute)
    image_grid(((images.permute(0, 2, 3, 1) + 1) * 127.5).round().clamp(0, 255).byte().numpy(), grid, title)
