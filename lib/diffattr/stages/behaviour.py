"""Stage behaviour (behaviour_base, _prune, _retrain, _init, _retrain_cf, _retrain_floor): one model
sampled from the shared initial noises, and its behaviours."""

from __future__ import annotations

import os

from ..core.atomic import write_json
from ..core.settings import Job

PathLike = str | os.PathLike


def evaluate_model(  # noqa: PLR0913  (its rule's input and output keys, the job's settings and run handles; keyword-only)
    *,
    model: PathLike,
    train: PathLike,
    classifier: PathLike,
    reference: PathLike,
    settings: Job,
    source: str,
    subset: str,
    behaviour: PathLike,
    startup: float | None = None,
    compute=None,
) -> dict:
    """One model's behaviour JSON (`behaviour`) of its checkpoint `model` and training record `train`
    (`source`: the model stage, `subset`: its subset id)."""
    from ..evaluation.behaviour import Evaluator

    evaluate = Evaluator(
        classifier, reference, settings.scheduler, settings.recipe, settings.runtime.batch_size, compute
    )
    out = evaluate(model, train, source, subset, startup)
    write_json(behaviour, out)
    return out
