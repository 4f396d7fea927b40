"""Stage behaviour (behaviour_base, _prune, _retrain, _init, _retrain_cf, _retrain_floor): one model
sampled from the shared initial noises, and its behaviours."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..atomic import write_json
from ..settings import Job

PathLike = str | os.PathLike


def evaluate_model(  # noqa: PLR0913
    model: PathLike,
    train_json: PathLike,
    classifier_pt: PathLike,
    reference_npz: PathLike,
    sched_cfg: Mapping[str, Any],
    job: Job,
    source: str,
    subset: str,
    out_json: PathLike,
    startup: float | None = None,
    compute=None,
) -> dict:
    """One model's behaviour JSON (`source`: the model stage, `subset`: its subset id)."""
    from ..behaviour import Evaluator

    evaluate = Evaluator(classifier_pt, reference_npz, sched_cfg, job.recipe, job.runtime.batch_size, compute)
    out = evaluate(model, train_json, source, subset, startup)
    write_json(out_json, out)
    return out
