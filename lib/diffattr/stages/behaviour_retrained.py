"""Stage behaviour (retrain, retrain_floor, retrain_cf): the behaviours of one evaluation batch of
retrained models (draws.evaluation_batches) in one job, as unlearned models' are: the start-up,
the feature extractor and the reference statistics are paid once per batch, not once per model."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence

from ..core.settings import Job
from ..workflow.layout import batch_files, in_batch

PathLike = str | os.PathLike


def evaluate_retrained(  # noqa: PLR0913  (its rule's input and output keys, the job's settings and run handles; keyword-only)
    *,
    retrained: Sequence[PathLike],
    classifier: PathLike,
    reference: PathLike,
    settings: Job,
    source: str,
    members: Sequence[str],
    behaviour: PathLike,
    log: logging.Logger,
    startup: float | None = None,
    compute=None,
) -> dict:
    """The behaviour of each retrained model of kind `source` (model ids `members`, their checkpoints
    and training records in the retraining batch folders `retrained`), one JSON each in the batch
    folder `behaviour`, plus the job's record with its start-up share."""
    from ..core.atomic import atomic_dir
    from ..evaluation.behaviour import Evaluator, evaluate_batch

    job_start = time.perf_counter()
    models = batch_files(retrained, source, "model", members)
    trains = batch_files(retrained, source, "train", members)
    evaluate = Evaluator(
        classifier, reference, settings.scheduler, settings.recipe, settings.runtime.batch_size, compute
    )
    stage = f"behaviour_{source}"
    with atomic_dir(behaviour) as tmp:
        return evaluate_batch(
            evaluate=evaluate,
            members=list(zip(members, models, trains)),
            source=source,
            behaviour_path=lambda sid: in_batch(tmp, stage, "behaviour", sid),
            job_path=in_batch(tmp, stage, "job"),
            log=log,
            job_start=job_start,
            startup=startup,
        )
