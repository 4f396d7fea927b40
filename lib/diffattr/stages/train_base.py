"""Stage train_base: the base DDPM trained on all data, or a pretrained one imported instead."""

from __future__ import annotations

import logging
import os

from ..core.atomic import write_json
from ..core.settings import BaseModel, Job

PathLike = str | os.PathLike


def train_base(
    *,
    data: PathLike,
    settings: Job,
    model: PathLike,
    info: PathLike,
    log: logging.Logger,
    startup: float | None = None,
    resume: PathLike | None = None,
    compute=None,
) -> dict:
    """Train the architecture `settings.model` from train_base.seed's initial weights (the same
    init_model saves untrained) with the recipe and forward process of `settings`."""
    from ..core.data import load_dataset
    from ..modelling.models import initial_unet
    from ..modelling.training import ModelOutput, TrainRun, train_and_save

    ds = load_dataset(data)
    return train_and_save(
        initial_unet(settings.model, ds.images, settings.recipe.seed),
        ds.images,
        settings.recipe,
        settings.scheduler,
        run=TrainRun(settings.runtime, log, "train_base", startup, resume, compute),
        out=ModelOutput(model, info),
    )


def import_base(
    *,
    data: PathLike,
    settings: BaseModel,
    model: PathLike,
    info: PathLike,
    log: logging.Logger,
) -> dict:
    """Start from a pretrained UNet (`settings.pretrained`: base_model.path, against the architecture
    `settings.model`) instead of training one: checked, then copied
    into the store so every later stage reads it like a trained base model. train.json records the
    folder read and the files whose sha256 names the artifact."""
    from ..core.data import load_dataset
    from ..core.pretrained import locate, sha256
    from ..modelling.models import count_params, import_pretrained_unet, save_model

    ds = load_dataset(data)
    pretrained = settings.pretrained
    unet = import_pretrained_unet(pretrained, settings.model, ds.images.shape[-1], ds.images.shape[1])
    save_model(unet, model)
    found = locate(pretrained)
    stats = {
        "steps": 0,
        "train_seconds": 0.0,
        "train_cpu_seconds": 0.0,
        "pretrained": str(pretrained),
        "pretrained_unet": str(found.unet),
        "pretrained_sha256": sha256(pretrained),
        "pretrained_hashed": [str(f.relative_to(found.unet)) for f in found.files],
        "params": count_params(unet),
        "n_images": int(len(ds.images)),
    }
    write_json(info, stats)
    log.info(f"train_base: imported {found.unet} ({stats['params']} params) instead of training")
    return stats
