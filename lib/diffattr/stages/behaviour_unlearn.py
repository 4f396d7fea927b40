"""Stage behaviour_unlearn: the behaviours of every unlearned model of one batch (one job per batch,
like unlearning, keeps the job count and the start-up low)."""

from __future__ import annotations

import logging
import os
import time

from ..core.settings import Job
from ..workflow.layout import batch_members, in_batch

PathLike = str | os.PathLike


def evaluate_batch(
    *,
    batch: PathLike,
    classifier: PathLike,
    reference: PathLike,
    settings: Job,
    behaviour: PathLike,
    log: logging.Logger,
    startup: float | None = None,
    compute=None,
) -> dict:
    """One behaviour JSON per model of the unlearn batch folder `batch`, in the batch folder
    `behaviour`, plus the job's record with its start-up share."""
    from ..core.atomic import atomic_dir
    from ..evaluation.behaviour import Evaluator, evaluate_batch

    job_start = time.perf_counter()
    evaluate = Evaluator(
        classifier, reference, settings.scheduler, settings.recipe, settings.runtime.batch_size, compute
    )
    members = [
        (sid, in_batch(batch, "unlearn", "model", sid), in_batch(batch, "unlearn", "train", sid))
        for sid in batch_members(batch, "unlearn")
    ]
    with atomic_dir(behaviour) as tmp:
        return evaluate_batch(
            evaluate=evaluate,
            members=members,
            source="unlearn",
            behaviour_path=lambda sid: in_batch(tmp, "behaviour_unlearn", "behaviour", sid),
            job_path=in_batch(tmp, "behaviour_unlearn", "job"),
            log=log,
            job_start=job_start,
            startup=startup,
        )
