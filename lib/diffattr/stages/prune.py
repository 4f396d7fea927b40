"""Stage prune: the base model magnitude-pruned, then fine-tuned on all data."""

from __future__ import annotations

import logging
import os

from ..core.settings import Pruning

PathLike = str | os.PathLike


def prune_and_finetune(  # noqa: PLR0913  (its rule's input and output keys, the job's settings and run handles; keyword-only)
    *,
    base: PathLike,
    data: PathLike,
    settings: Pruning,
    model: PathLike,
    info: PathLike,
    log: logging.Logger,
    startup: float | None = None,
    resume: PathLike | None = None,
    compute=None,
    raw: PathLike | None = None,
) -> dict:
    """Prune the `base` model, fine-tune it on all `data` (`settings`: the prune section, its
    fine-tune's settings and forward process included), save the EMA weights (`model`) and the raw ones (`raw`), both as
    whole modules; `info`: the training record."""
    from ..core.data import load_dataset
    from ..modelling.models import load_model
    from ..modelling.pruning import macs_and_params, prune_unet
    from ..modelling.training import ModelOutput, TrainRun, train_and_save

    ds = load_dataset(data)
    unet = load_model(base)
    macs0, params0 = macs_and_params(unet)
    ratio, job = settings.ratio, settings.finetune
    unet = prune_unet(unet, ratio, settings.importance_p, round_to=settings.round_to)
    macs1, params1 = macs_and_params(unet)
    log.info(
        f"prune: params {params0} -> {params1} ({params1 / params0:.1%}), MACs {macs0} -> {macs1} ({macs1 / macs0:.1%})"
    )
    extra = {
        "ratio": ratio,
        "params_before": params0,
        "params_after": params1,
        "macs_before": macs0,
        "macs_after": macs1,
        # only when set, so the authors' rule writes the record it always wrote
        **({"round_to": settings.round_to} if settings.round_to is not None else {}),
    }
    return train_and_save(
        unet,
        ds.images,
        job.recipe,
        job.scheduler,
        run=TrainRun(job.runtime, log, "prune_finetune", startup, resume, compute),
        out=ModelOutput(model, info, raw=raw, whole_module=True),
        extra=extra,
    )
