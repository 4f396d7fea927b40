"""Stage unlearn: the method. Sparsified unlearning of a batch of subsets in one process: each subset
fine-tunes the pruned model on its own images (its own seed), one checkpoint per subset.

unlearn.concurrent > 1 trains that many subsets at once; a small pruned model leaves most of a GPU
idle between kernel launches. unlearn.concurrent_mode says how:
- "streams": each subset in its own thread and, on a GPU, its own CUDA stream. Every subset keeps its
  own seed and generator, so its model is the one the sequential run gives (bit-identical on the
  CPU; on a GPU up to its usual nondeterminism).
- "vmap": the subsets' models stacked and trained as one with torch.func
  (`batched_training.train_ddpm_batched`): one kernel launch serves them all. Same seeds and draws;
  the models equal the sequential ones up to floating-point rounding.
Models trained at once are each charged an equal share of their group's wall and CPU time
(`train_seconds`; the wall a model saw while sharing is kept as `shared_wall_seconds`), so the
per-model cost and Table 1's speed-up do not count the sharing k times.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.atomic import read_json, write_json
from ..core.jobs import job_timing
from ..core.settings import Job
from ..workflow.layout import in_batch

PathLike = str | os.PathLike
MODES = ("streams", "vmap")


@dataclass(frozen=True)
class Unlearning:
    """What every subset of a batch shares: the start model, the data, the settings, the output folder."""

    start: PathLike
    images: np.ndarray
    job: Job
    logger: logging.Logger
    compute: Any
    out: Path

    def images_of(self, sub: Mapping[str, Any]) -> np.ndarray:
        return self.images[np.asarray(sub["sample_indices"], dtype=np.int64)]

    def recipe_of(self, sub: Mapping[str, Any]):
        from ..core.hashing import derived_seed

        return dataclasses.replace(self.job.recipe, seed=derived_seed(self.job.recipe.seed, sub["id"]))

    def model(self, sub: Mapping[str, Any]) -> Path:
        return in_batch(self.out, "unlearn", "model", sub["id"])

    def record(self, sub: Mapping[str, Any]) -> Path:
        return in_batch(self.out, "unlearn", "train", sub["id"])


def unlearn_batch(
    *,
    start: PathLike,
    data: PathLike,
    subsets: PathLike,
    settings: Job,
    batch: PathLike,
    log: logging.Logger,
    startup: float | None = None,
    compute=None,
) -> dict:
    """Unlearn every subset of the subsets file `subsets` from the `start` model (on `data`, with the
    recipe and forward process of `settings`) into the batch folder `batch`; job.json there records
    the subsets, their train seconds and the start-up share."""
    from ..attribution.subsets import read_subsets
    from ..core.atomic import atomic_dir
    from ..core.data import load_dataset
    from ..modelling.compute import CPU

    concurrent, mode = settings.runtime.concurrent, settings.runtime.concurrent_mode
    if mode not in MODES:
        raise ValueError(f"unlearn.concurrent_mode: {mode!r}; use 'streams' or 'vmap'")
    job_start = time.perf_counter()
    records = list(read_subsets(subsets).values())
    with atomic_dir(batch) as tmp:
        run = Unlearning(start, load_dataset(data).images, settings, log, compute or CPU, tmp)
        if concurrent > 1 and len(records) > 1 and mode == "vmap":
            seconds = [s for i in range(0, len(records), concurrent) for s in stacked(run, records[i : i + concurrent])]
        elif concurrent > 1 and len(records) > 1:
            seconds = side_by_side(run, records, concurrent)
        else:
            seconds = [one(run, sub) for sub in records]
        per_subset = {sub["id"]: s for sub, s in zip(records, seconds)}
        record = {
            "subsets": list(per_subset),
            "train_seconds": per_subset,
            "concurrent": int(concurrent),
            "concurrent_mode": mode,
            **job_timing(job_start, startup),
        }
        if startup is not None:
            log.info(
                f"unlearn job: start-up {startup:.1f}s of {record['job_seconds']:.1f}s ({record['startup_share']:.1%})"
            )
        write_json(in_batch(tmp, "unlearn", "job"), record)
    return record


def one(run: Unlearning, sub: Mapping[str, Any], stream=None) -> float:
    """Unlearn one subset (on `stream` when given); its train seconds."""
    import torch

    from ..modelling.models import load_model
    from ..modelling.training import ModelOutput, TrainRun, train_and_save

    model = load_model(run.start)
    model.requires_grad_(True)
    with torch.cuda.stream(stream) if stream is not None else contextlib.nullcontext():
        stats = train_and_save(
            model,
            run.images_of(sub),
            run.recipe_of(sub),
            run.job.scheduler,
            run=TrainRun(run.job.runtime, run.logger, f"unlearn {sub['id']}", compute=run.compute),
            out=ModelOutput(run.model(sub), run.record(sub), whole_module=True),
        )
    return stats["train_seconds"]


def side_by_side(run: Unlearning, subsets: Sequence[Mapping[str, Any]], concurrent: int) -> list[float]:
    """`concurrent` subsets at a time in threads (each on its own CUDA stream on a GPU), each charged
    its share of the group's time."""
    from concurrent.futures import ThreadPoolExecutor

    import torch

    def on_own_stream(sub):
        return one(run, sub, torch.cuda.Stream(run.compute.device) if run.compute.is_cuda else None)

    group_start, cpu_start = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=concurrent) as pool:
        list(pool.map(on_own_stream, subsets))
    return charge_shares(
        [run.record(sub) for sub in subsets], time.perf_counter() - group_start, time.process_time() - cpu_start
    )


def stacked(run: Unlearning, group: Sequence[Mapping[str, Any]]) -> list[float]:
    """One group of subsets trained as one stacked model (torch.func.vmap)."""
    import torch

    from ..modelling.batched_training import train_ddpm_batched
    from ..modelling.models import ddpm_scheduler, load_model
    from ..modelling.training import ModelOutput, save_trained

    recipes = [run.recipe_of(sub) for sub in group]
    ids = ", ".join(sub["id"] for sub in group)
    run.logger.info(f"unlearn {ids}: stacked with torch.func, {recipes[0]}")
    trained = train_ddpm_batched(
        load_model(run.start),
        [torch.from_numpy(run.images_of(sub)) for sub in group],
        recipes,
        ddpm_scheduler(run.job.scheduler),
        run.logger,
        log_every=run.job.runtime.log_every,
        label=f"unlearn {ids}",
        compute=run.compute,
    )
    for sub, recipe, (ema_model, stats) in zip(group, recipes, trained):
        save_trained(
            ema_model,
            stats,
            recipe.seed,
            len(sub["sample_indices"]),
            ModelOutput(run.model(sub), run.record(sub), whole_module=True),
        )
    return [stats["train_seconds"] for _, stats in trained]


def charge_shares(train_jsons: Sequence[PathLike], wall: float, cpu: float) -> list[float]:
    """Charge each of n models trained side by side wall / n and cpu / n (their own timers each saw
    the whole shared stretch); rewrites their train.json, returns the shares."""
    share = wall / len(train_jsons)
    for path in train_jsons:
        stats = read_json(path)
        write_json(
            path,
            {
                **stats,
                "shared_wall_seconds": stats["train_seconds"],
                "train_seconds": share,
                "train_cpu_seconds": cpu / len(train_jsons),
            },
        )
    return [share] * len(train_jsons)
