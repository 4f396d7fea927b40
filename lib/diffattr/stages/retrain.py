"""Stage retrain (and retrain_floor, retrain_cf): models trained from scratch, one per subset, with the
base recipe, the ground truth the LDS is measured against. One job trains a batch of them
(retrain.models_per_job; draws.SubsetPlan.retrain_batches) so interpreter start-up is paid once per
batch; each model still has its own seed, checkpoint and training record, {batch}/{subset}/."""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..core.settings import Job
from ..workflow.layout import batch_members, in_batch

PathLike = str | os.PathLike
# Every retraining stage lays out its batch folder alike (registry.FILES).
STAGE = "retrain"


def retrain_batch(  # noqa: PLR0913  (its rule's input and output keys, the job's settings and run handles; keyword-only)
    *,
    data: PathLike,
    subsets: PathLike | Sequence[PathLike],
    members: Sequence[str],
    settings: Job,
    batch: PathLike,
    log: logging.Logger,
    startup: float | None = None,
    resume: Mapping[str, PathLike] | None = None,
    compute=None,
) -> dict:
    """Retrain the architecture `settings.model` on the subset of each model id of `members` (read from
    the subsets files `subsets`) into the batch folder `batch`, each with the recipe and forward
    process of `settings` and its seed derived from (`settings.seed`, id); `resume`: model id -> where
    its resumable state lives. A test seed's id (families.seed_id, e.g. test-0003-seed3) trains on
    its subset (test-0003). A model that a finished batch of the same stage folder holds (a batch
    renamed because the config changed which models it trains) is copied from there, not retrained:
    the stage's hash and the id determine it. With `resume`, each finished model is also kept beside
    its resume state until the whole batch is in place, so a stopped or timed-out job's rerun takes
    the models it had finished and resumes the one in progress. job.json records the members, each
    one's train seconds, the copied ones and the start-up share."""
    from ..attribution.subsets import read_subsets
    from ..core.atomic import atomic_dir, write_json
    from ..core.data import load_dataset
    from ..core.families import base_id
    from ..core.jobs import job_timing

    job_start = time.perf_counter()
    records = read_subsets(subsets)
    missing = sorted({base_id(m) for m in members} - set(records))
    if missing:
        raise ValueError(f"{batch}: no subset {missing[:5]} in its subsets files; rerun the workflow")
    images = None
    seconds, reused = {}, {}
    # one model per job: its resume state is all a rerun needs
    kept = {sid: finished_keep(path) for sid, path in (resume or {}).items() if sid in members and len(members) > 1}
    with atomic_dir(batch) as tmp:
        for sid in members:
            source = finished_copy(batch, sid)
            if source is None and sid in kept and in_batch(kept[sid], STAGE, "job").is_file():
                source = kept[sid]
            if source is not None:
                copy_member(source, tmp, sid)
                reused[sid] = {kept.get(sid): STOPPED, Path(batch).parent: LEGACY}.get(source, source.name)
                seconds[sid] = read_train_seconds(in_batch(tmp, STAGE, "train", sid))
                log.info(f"retrain {sid}: copied, not retrained: finished in {reused[sid]}")
                continue
            if images is None:
                images = load_dataset(data).images
            seconds[sid] = one(
                images=images,
                sub=records[base_id(sid)],
                sid=sid,
                settings=settings,
                out=tmp,
                log=log,
                resume=(resume or {}).get(sid),
                compute=compute,
            )
            if sid in kept:
                keep_member(tmp, kept[sid], sid)
        record = {
            "subsets": list(members),
            "train_seconds": seconds,
            "reused": reused,
            **job_timing(job_start, startup),
        }
        if startup is not None:
            log.info(
                f"retrain job: start-up {startup:.1f}s of {record['job_seconds']:.1f}s ({record['startup_share']:.1%})"
            )
        write_json(in_batch(tmp, STAGE, "job"), record)
    for path in kept.values():  # the batch is in place: its finished models need no keeping
        shutil.rmtree(path, ignore_errors=True)
    return record


def one(
    *,
    images,
    sub: Mapping,
    sid: str,
    settings: Job,
    out: Path,
    log: logging.Logger,
    resume: PathLike | None,
    compute,
) -> float:
    """Retrain model `sid` on its subset `sub` into the batch folder `out`; its train seconds."""
    import numpy as np

    from ..core.hashing import derived_seed
    from ..modelling.models import initial_unet
    from ..modelling.training import ModelOutput, TrainRun, train_and_save

    own = images[np.asarray(sub["sample_indices"], dtype=np.int64)]
    recipe = dataclasses.replace(settings.recipe, seed=derived_seed(settings.seed, sid))
    stats = train_and_save(
        initial_unet(settings.model, own, recipe.seed),
        own,
        recipe,
        settings.scheduler,
        run=TrainRun(settings.runtime, log, f"retrain {sid}", resume_path=resume, compute=compute),
        out=ModelOutput(in_batch(out, STAGE, "model", sid), in_batch(out, STAGE, "train", sid)),
    )
    return stats["train_seconds"]


def finished_copy(batch: PathLike, sid: str) -> Path | None:
    """A finished batch folder beside `batch` (its job record written, so complete: atomic_dir moves
    a batch into place whole) that holds model `sid`; or the stage folder itself where it holds the
    model in the layout of one model per job ({subset}/model and train.json, written last), which a
    store made before the batches has; or None."""
    here = Path(batch)
    if not here.parent.is_dir():
        return None
    if in_batch(here.parent, STAGE, "train", sid).is_file() and in_batch(here.parent, STAGE, "model", sid).is_dir():
        return here.parent
    for other in sorted(here.parent.iterdir()):
        if other.name.startswith(".") or other == here or not in_batch(other, STAGE, "job").is_file():
            continue
        if sid in batch_members(other, STAGE) and in_batch(other, STAGE, "train", sid).is_file():
            return other
    return None


# What job.json's `reused` says of a model a stopped run of the same job had finished, and the log of
# one a store of one model per job holds.
STOPPED = "an earlier run of this job, stopped before its batch was finished"
LEGACY = "the stage folder's one-model-per-job layout"


def finished_keep(resume: PathLike) -> Path:
    """Where a model finished inside a batch is kept until the batch is in place: a folder beside its
    resume state (<resume>.finished/), laid out as a one-model batch."""
    return Path(f"{resume}.finished")


def keep_member(out: Path, keep: Path, sid: str) -> None:
    """Keep model `sid`, just trained into the batch folder `out`, at `keep` (whole: atomic_dir), with
    a job record naming it, so a rerun of a stopped job finds it."""
    from ..core.atomic import atomic_dir, write_json

    with atomic_dir(keep) as tmp:
        copy_member(out, tmp, sid)
        write_json(in_batch(tmp, STAGE, "job"), {"subsets": [sid]})


def copy_member(source: Path, out: Path, sid: str) -> None:
    """Model `sid`'s checkpoint and training record from the batch folder `source` into `out`."""
    model = in_batch(out, STAGE, "model", sid)
    model.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(in_batch(source, STAGE, "model", sid), model)
    shutil.copy2(in_batch(source, STAGE, "train", sid), in_batch(out, STAGE, "train", sid))


def read_train_seconds(train_json: PathLike) -> float:
    from ..core.atomic import read_json

    return float(read_json(train_json)["train_seconds"])
