"""Stage init: the model trained on nothing (train_base's initial weights), v(empty) for KernelSHAP."""

from __future__ import annotations

import os

from ..core.atomic import write_json
from ..core.settings import BaseModel


def init_model(
    *,
    data: str | os.PathLike,
    settings: BaseModel,
    model: str | os.PathLike,
    info: str | os.PathLike,
) -> dict:
    """The architecture `settings.model` at the initial weights of `settings.seed` (train_base's),
    saved untrained (`model`) with its record (`info`)."""
    from ..core.data import load_dataset
    from ..modelling.models import count_params, initial_unet, save_model

    ds = load_dataset(data)
    seed = int(settings.seed)
    unet = initial_unet(settings.model, ds.images, seed)  # train_base's initial weights
    save_model(unet, model)
    stats = {
        "steps": 0,
        "train_seconds": 0.0,
        "train_cpu_seconds": 0.0,
        "seed": int(seed),
        "n_images": 0,
        "params": count_params(unet),
    }
    write_json(info, stats)
    return stats
