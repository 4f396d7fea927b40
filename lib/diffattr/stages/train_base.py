"""Stage train_base: the base DDPM trained on all data, or a pretrained one imported instead."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from ..atomic import write_json
from ..settings import Job

PathLike = str | os.PathLike


def train_base(
    data_npz: PathLike,
    model_cfg: Mapping[str, Any],
    sched_cfg: Mapping[str, Any],
    job: Job,
    out_model: PathLike,
    out_json: PathLike,
    logger: logging.Logger,
    startup: float | None = None,
    resume_path: PathLike | None = None,
    compute=None,
) -> dict:
    """Train from train_base.seed's initial weights (the same init_model saves untrained)."""
    from ..data import load_dataset
    from ..models import initial_unet
    from ..training import ModelOutput, TrainRun, train_and_save

    ds = load_dataset(data_npz)
    return train_and_save(
        initial_unet(model_cfg, ds.images, job.recipe.seed),
        ds.images,
        job.recipe,
        sched_cfg,
        run=TrainRun(job.runtime, logger, "train_base", startup, resume_path, compute),
        out=ModelOutput(out_model, out_json),
    )


def import_base(
    pretrained: PathLike,
    data_npz: PathLike,
    model_cfg: Mapping[str, Any],
    out_model: PathLike,
    out_json: PathLike,
    logger: logging.Logger,
) -> dict:
    """Start from a pretrained UNet (base_model.path) instead of training one: checked, then copied
    into the store so every later stage reads it like a trained base model. train.json records the
    folder read and the files whose sha256 names the artifact."""
    from ..data import load_dataset
    from ..models import count_params, import_pretrained_unet, save_model
    from ..pretrained import locate, sha256

    ds = load_dataset(data_npz)
    model = import_pretrained_unet(pretrained, model_cfg, ds.images.shape[-1], ds.images.shape[1])
    save_model(model, out_model)
    found = locate(pretrained)
    stats = {
        "steps": 0,
        "train_seconds": 0.0,
        "train_cpu_seconds": 0.0,
        "pretrained": str(pretrained),
        "pretrained_unet": str(found.unet),
        "pretrained_sha256": sha256(pretrained),
        "pretrained_hashed": [str(f.relative_to(found.unet)) for f in found.files],
        "params": count_params(model),
        "n_images": int(len(ds.images)),
    }
    write_json(out_json, stats)
    logger.info(f"train_base: imported {found.unet} ({stats['params']} params) instead of training")
    return stats
