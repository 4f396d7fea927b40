"""Stage baseline_images: the images the cheap baselines score the training images against, those
the attributed model's (baselines.model) behaviour is computed on."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any

from ..atomic import write_json
from ..baselines.images import save_images
from ..settings import Job

PathLike = str | os.PathLike


def make_images(
    model_path: PathLike,
    sched_cfg: Mapping[str, Any],
    job: Job,
    model: str,
    out_npz: PathLike,
    out_json: PathLike,
    startup: float | None = None,
    compute=None,
) -> dict:
    """behaviour.n_samples DDIM samples of the model, image j from the noise of (behaviour.seed, j),
    as the behaviour's Evaluator samples (`job`: settings.job_settings("behaviour", ...))."""
    from ..behaviour import generate

    start, cpu = time.perf_counter(), time.process_time()
    s = job.recipe
    images = generate(model_path, sched_cfg, s, s.n_samples, job.runtime.batch_size, compute).numpy()
    save_images(images, out_npz)
    info = {
        "model": model,
        "n": int(len(images)),
        "noise_seed": s.seed,
        "ddim_steps": s.ddim_steps,
        "eta": s.eta,
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu,
        "startup_seconds": startup,
    }
    write_json(out_json, info)
    return info
