"""Stage retrain (and retrain_floor, retrain_cf): a model trained from scratch on one subset with the
base recipe, the ground truth the LDS is measured against."""

from __future__ import annotations

import dataclasses
import logging
import os

from ..core.settings import Job

PathLike = str | os.PathLike


def retrain(  # noqa: PLR0913  (its rule's input and output keys, the job's settings and run handles; keyword-only)
    *,
    data: PathLike,
    subsets: PathLike,
    subset: str,
    settings: Job,
    model: PathLike,
    info: PathLike,
    log: logging.Logger,
    startup: float | None = None,
    resume: PathLike | None = None,
    compute=None,
) -> dict:
    """Retrain the architecture `settings.model` on subset `subset` of the subsets file `subsets` with
    the recipe and forward process of `settings`, its seed derived from (`settings.seed`, subset);
    `model`, `info`: the checkpoint and its training record. A test seed's id (families.seed_id, e.g.
    test-0003-seed3) trains on its subset (test-0003)."""
    import numpy as np

    from ..attribution.subsets import read_subsets
    from ..core.data import load_dataset
    from ..core.families import base_id
    from ..core.hashing import derived_seed
    from ..modelling.models import initial_unet
    from ..modelling.training import ModelOutput, TrainRun, train_and_save

    ds = load_dataset(data)
    sub = read_subsets(subsets)[base_id(subset)]
    images = ds.images[np.asarray(sub["sample_indices"], dtype=np.int64)]
    recipe = dataclasses.replace(settings.recipe, seed=derived_seed(settings.seed, subset))
    return train_and_save(
        initial_unet(settings.model, images, recipe.seed),
        images,
        recipe,
        settings.scheduler,
        run=TrainRun(settings.runtime, log, f"retrain {sub['id']}", startup, resume, compute),
        out=ModelOutput(model, info),
    )
