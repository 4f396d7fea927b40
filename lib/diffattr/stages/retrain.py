"""Stage retrain (and retrain_floor, retrain_cf): a model trained from scratch on one subset with the
base recipe, the ground truth the LDS is measured against."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from typing import Any

from ..settings import Job

PathLike = str | os.PathLike


def retrain(  # noqa: PLR0913
    data_npz: PathLike,
    chunk_json: PathLike,
    sid: str,
    model_cfg: Mapping[str, Any],
    sched_cfg: Mapping[str, Any],
    job: Job,
    retrain_seed: int,
    out_model: PathLike,
    out_json: PathLike,
    logger: logging.Logger,
    startup: float | None = None,
    resume_path: PathLike | None = None,
    compute=None,
) -> dict:
    """Subset `sid` of the subsets file `chunk_json`, its seed derived from (retrain_seed, sid); a test
    seed's id (families.seed_id, e.g. test-0003-seed3) trains on its subset (test-0003)."""
    import numpy as np

    from ..data import load_dataset
    from ..families import base_id
    from ..hashing import derived_seed
    from ..models import initial_unet
    from ..subsets import read_subsets
    from ..training import ModelOutput, TrainRun, train_and_save

    ds = load_dataset(data_npz)
    sub = read_subsets(chunk_json)[base_id(sid)]
    images = ds.images[np.asarray(sub["sample_indices"], dtype=np.int64)]
    recipe = dataclasses.replace(job.recipe, seed=derived_seed(retrain_seed, sid))
    return train_and_save(
        initial_unet(model_cfg, images, recipe.seed),
        images,
        recipe,
        sched_cfg,
        run=TrainRun(job.runtime, logger, f"retrain {sub['id']}", startup, resume_path, compute),
        out=ModelOutput(out_model, out_json),
    )
