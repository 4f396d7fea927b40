"""Stage baselines: one cheap baseline's (TRAK, D-TRAK, pixel or feature similarity; the science in
lib/diffattr/attribution/baselines/) support per training image and per unit. One job per method, so each has
its own wall and CPU seconds (the budget stage charges them)."""

from __future__ import annotations

import dataclasses
import os
import time

import numpy as np

from ..attribution.baselines import BASELINES, GRADIENT, SUPPORT_CONVENTION
from ..attribution.baselines.aggregate import REDUCE, unit_support
from ..attribution.baselines.images import load_images
from ..core.atomic import atomic_path, write_json
from ..core.settings import Job, Units

PathLike = str | os.PathLike


def per_image_support(  # noqa: PLR0913  (every method's inputs; the tail keyword-only)
    method: str,
    images: np.ndarray,
    train_images: np.ndarray,
    *,
    job: Job,
    model_path: PathLike | None = None,
    reference_npz: PathLike | None = None,
    classifier_pt: PathLike | None = None,
    inception_weights: PathLike | None = None,
    feature_batch: int | None = None,
    compute=None,
    logger=None,
) -> np.ndarray:
    """One method's support per training image (mean over the generated images). `job`:
    settings.job_settings("baselines", ..., scheduler=...) (the gradient methods' forward process);
    `inception_weights`: the feature baseline's extractor (behaviour.features: inception), else the
    domain classifier's features; `feature_batch`: behaviour.feature_batch, as the reference's."""
    from ..modelling.compute import CPU

    compute = compute or CPU
    if method in GRADIENT:
        from ..attribution.baselines.gradient import gradient_support
        from ..modelling.models import ddpm_scheduler, load_model

        alphas_cumprod = ddpm_scheduler(job.scheduler).alphas_cumprod
        return gradient_support(
            load_model(model_path),
            train_images,
            images,
            method,
            dataclasses.asdict(job.recipe),
            alphas_cumprod,
            job.runtime.batch_size,
            compute.device,
            logger=logger,
        )
    if method == "pixel":
        from ..attribution.baselines.similarity import pixel_support

        return pixel_support(train_images, images)
    if method == "feature":
        import torch

        from ..attribution.baselines.similarity import feature_support
        from ..evaluation.behaviour import extract_features, load_statistics, make_extractor
        from ..modelling.sampling import to_uint8_rgb

        extractor = make_extractor(classifier_pt, inception_weights, compute.device)
        generated = extract_features(extractor, to_uint8_rgb(torch.from_numpy(images)), feature_batch).numpy()
        train = load_statistics(reference_npz)["features"]  # the training images' features, in data order
        if len(train) != len(train_images):
            raise ValueError(
                f"{reference_npz}: {len(train)} reference features for {len(train_images)} training "
                "images; rerun the 'reference' rule"
            )
        return feature_support(train, generated)
    raise ValueError(f"datamodel.estimators: unknown baseline {method!r}; use one of {list(BASELINES)}")


def make_scores(  # noqa: PLR0913  (its rule's input and output keys, the job's settings and run handles; keyword-only)
    *,
    method: str,
    images: PathLike,
    data: PathLike,
    units: Units,
    settings: Job,
    scores: PathLike,
    per_image: PathLike,
    model: PathLike | None = None,
    reference: PathLike | None = None,
    classifier: PathLike | None = None,
    inception_weights: PathLike | None = None,
    feature_batch: int | None = None,
    startup: float | None = None,
    compute=None,
    log=None,
) -> dict:
    """`scores` (scores.json: per-unit support, settings, seconds) and `per_image` (per_image.npy: per
    training image) for one baseline `method`, from the attributed `model`'s generated `images`."""
    from ..attribution.subsets import load_units

    start, cpu = time.perf_counter(), time.process_time()
    generated = load_images(images)
    unit = units.unit
    ds, units = load_units(data, unit, reference if unit == "kmeans" else None, units.kmeans, units.csv)
    image_support = per_image_support(
        method,
        generated,
        ds.images,
        job=settings,
        model_path=model,
        reference_npz=reference,
        classifier_pt=classifier,
        inception_weights=inception_weights,
        feature_batch=feature_batch,
        compute=compute,
        logger=log,
    )
    support = unit_support(image_support, units.members, method)
    with atomic_path(per_image, suffix=".npy") as tmp, open(tmp, "wb") as fh:
        np.save(fh, image_support.astype(np.float64))
    recipe = dataclasses.asdict(settings.recipe)
    # The similarity baselines read only the model's images: the gradient settings would mislead.
    recorded = recipe if method in GRADIENT else {"model": recipe["model"]}
    info = {
        "method": method,
        "unit": unit,
        "n_units": len(units),
        "n_train_images": int(len(ds.images)),
        "n_generated": int(len(generated)),
        "reduce_over_unit_images": REDUCE[method],
        "support": dict(zip(units.ids, support.tolist())),
        "settings": recorded,
        "convention": SUPPORT_CONVENTION,
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu,
        "startup_seconds": startup,
        "device": str(compute.device if compute is not None else "cpu"),
    }
    write_json(scores, info)
    return info
