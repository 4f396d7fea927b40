"""Stage prune: the base model magnitude-pruned, then fine-tuned on all data."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from ..settings import Job

PathLike = str | os.PathLike


def prune_and_finetune(  # noqa: PLR0913
    base_model: PathLike,
    data_npz: PathLike,
    ratio: float,
    importance_p: int,
    job: Job,
    sched_cfg: Mapping[str, Any],
    out_model: PathLike,
    out_json: PathLike,
    logger: logging.Logger,
    startup: float | None = None,
    resume_path: PathLike | None = None,
    compute=None,
    out_raw: PathLike | None = None,
) -> dict:
    """Prune, fine-tune on all data (job: the prune.finetune settings), save the EMA weights
    (`out_model`) and the raw ones (`out_raw`), both as whole modules."""
    from ..data import load_dataset
    from ..models import load_model
    from ..pruning import macs_and_params, prune_unet
    from ..training import ModelOutput, TrainRun, train_and_save

    ds = load_dataset(data_npz)
    model = load_model(base_model)
    macs0, params0 = macs_and_params(model)
    model = prune_unet(model, ratio, importance_p)
    macs1, params1 = macs_and_params(model)
    logger.info(
        f"prune: params {params0} -> {params1} ({params1 / params0:.1%}), MACs {macs0} -> {macs1} ({macs1 / macs0:.1%})"
    )
    extra = {
        "ratio": ratio,
        "params_before": params0,
        "params_after": params1,
        "macs_before": macs0,
        "macs_after": macs1,
    }
    return train_and_save(
        model,
        ds.images,
        job.recipe,
        sched_cfg,
        run=TrainRun(job.runtime, logger, "prune_finetune", startup, resume_path, compute),
        out=ModelOutput(out_model, out_json, raw=out_raw, whole_module=True),
        extra=extra,
    )
