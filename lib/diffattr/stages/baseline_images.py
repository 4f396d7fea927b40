"""Stage baseline_images: the images the cheap baselines score the training images against, those
the attributed model's (baselines.model) behaviour is computed on."""

from __future__ import annotations

import os
import time

from ..attribution.baselines.images import save_images
from ..core.atomic import write_json
from ..core.settings import Job

PathLike = str | os.PathLike


def make_images(
    *,
    model: PathLike,
    settings: Job,
    model_kind: str,
    images: PathLike,
    info: PathLike,
    startup: float | None = None,
    compute=None,
) -> dict:
    """behaviour.n_samples DDIM samples of the model, image j from the noise of (behaviour.seed, j),
    as the behaviour's Evaluator samples (`settings`: settings.job_settings("behaviour", ...)), into `images`
    with the record `info` (`model_kind`: the attributed model, base or prune)."""
    from ..evaluation.behaviour import generate

    start, cpu = time.perf_counter(), time.process_time()
    s = settings.recipe
    generated = generate(model, settings.scheduler, s, s.n_samples, settings.runtime.batch_size, compute).numpy()
    save_images(generated, images)
    record = {
        "model": model_kind,
        "n": int(len(generated)),
        "noise_seed": s.seed,
        "ddim_steps": s.ddim_steps,
        "eta": s.eta,
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu,
        "startup_seconds": startup,
    }
    write_json(info, record)
    return record
