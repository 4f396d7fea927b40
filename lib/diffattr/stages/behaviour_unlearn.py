"""Stage behaviour_unlearn: the behaviours of every unlearned model of one batch (one job per batch,
like unlearning, keeps the job count and the start-up low)."""

from __future__ import annotations

import logging
import os
import time

from ..core.atomic import write_json
from ..core.jobs import job_timing
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
    from ..evaluation.behaviour import Evaluator

    job_start = time.perf_counter()
    evaluate = Evaluator(
        classifier, reference, settings.scheduler, settings.recipe, settings.runtime.batch_size, compute
    )
    sids = batch_members(batch, "unlearn")
    with atomic_dir(behaviour) as tmp:
        for sid in sids:
            out = evaluate(
                in_batch(batch, "unlearn", "model", sid),
                in_batch(batch, "unlearn", "train", sid),
                "unlearn",
                sid,
            )
            write_json(in_batch(tmp, "behaviour_unlearn", "behaviour", sid), out)
            log.info(f"unlearn {sid}: {out['metrics']} in {out['eval_seconds']:.1f}s")
        record = {"subsets": sids, **job_timing(job_start, startup)}
        write_json(in_batch(tmp, "behaviour_unlearn", "job"), record)
    return record
