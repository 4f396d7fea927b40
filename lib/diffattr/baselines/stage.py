"""The baselines stage: the attributed model's generated images (one job), then each baseline's
per-image and per-unit support (one job per method, so each has its own wall and CPU seconds).

Layout under results/store/baselines/<hash>/: images.npz + images.json; <method>/scores.json
(per-unit support, settings, seconds) and <method>/per_image.npy (per training image, the mean over
generated images)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..atomic import atomic_path, read_json, write_json
from . import BASELINES, GRADIENT, SUPPORT_CONVENTION
from .aggregate import REDUCE, unit_support

PathLike = str | os.PathLike


def make_images(model_path: PathLike, sched_cfg: Mapping[str, Any], behaviour_cfg: Mapping[str, Any], model: str,
                out_npz: PathLike, out_json: PathLike, startup: float | None = None, compute=None) -> dict:
    """The images the behaviour of `model` is computed on: behaviour.n_samples DDIM samples, image j
    from the noise of (behaviour.seed, j) (pipeline.generate, as the Evaluator samples)."""
    from ..pipeline import generate

    start, cpu = time.perf_counter(), time.process_time()
    images = generate(model_path, sched_cfg, behaviour_cfg, int(behaviour_cfg["n_samples"]), compute).numpy()
    with atomic_path(out_npz, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, images=images.astype(np.float32))
    info = {"model": model, "n": int(len(images)), "noise_seed": int(behaviour_cfg["seed"]),
            "ddim_steps": int(behaviour_cfg["ddim_steps"]), "eta": float(behaviour_cfg["eta"]),
            "seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu, "startup_seconds": startup}
    write_json(out_json, info)
    return info


def load_images(path: PathLike) -> np.ndarray:
    try:
        with np.load(path) as z:
            return z["images"]
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: generated images missing; rerun the 'baseline_images' rule") from None


def per_image_support(method: str, images: np.ndarray, train_images: np.ndarray, cfg: Mapping[str, Any],
                      model_path: PathLike | None = None, sched_cfg: Mapping[str, Any] | None = None,
                      reference_npz: PathLike | None = None, classifier_pt: PathLike | None = None,
                      behaviour_cfg: Mapping[str, Any] | None = None, batch_size: int = 64, compute=None,
                      logger=None) -> np.ndarray:
    """One method's support per training image (mean over the generated images)."""
    from ..compute import CPU

    compute = compute or CPU
    if method in GRADIENT:
        from ..models import ddpm_scheduler, load_model
        from .gradient import gradient_support

        alphas_cumprod = ddpm_scheduler(sched_cfg).alphas_cumprod
        return gradient_support(load_model(model_path), train_images, images, method, cfg, alphas_cumprod, batch_size,
                                compute.device, logger=logger)
    if method == "pixel":
        from .similarity import pixel_support

        return pixel_support(train_images, images)
    if method == "feature":
        import torch

        from ..behaviour import extract_features, load_statistics, make_extractor
        from ..pipeline import inception_path
        from ..sampling import to_uint8_rgb
        from .similarity import feature_support

        extractor = make_extractor(classifier_pt, inception_path(behaviour_cfg or {}), compute.device)
        generated = extract_features(extractor, to_uint8_rgb(torch.from_numpy(images))).numpy()
        train = load_statistics(reference_npz)["features"]  # the training images' features, in data order
        if len(train) != len(train_images):
            raise ValueError(f"{reference_npz}: {len(train)} reference features for {len(train_images)} training "
                             "images; rerun the 'reference' rule")
        return feature_support(train, generated)
    raise ValueError(f"datamodel.estimators: unknown baseline {method!r}; use one of {list(BASELINES)}")


def make_scores(method: str, images_npz: PathLike, data_npz: PathLike, unit: str, cfg: Mapping[str, Any],
                out_json: PathLike, out_npy: PathLike, model_path: PathLike | None = None,
                sched_cfg: Mapping[str, Any] | None = None, reference_npz: PathLike | None = None,
                classifier_pt: PathLike | None = None, behaviour_cfg: Mapping[str, Any] | None = None,
                kmeans: Mapping[str, Any] | None = None, csv_path: str | None = None, batch_size: int = 64,
                startup: float | None = None, compute=None, logger=None) -> dict:
    """scores.json (per-unit support) and per_image.npy for one baseline."""
    from ..pipeline import load_units

    start, cpu = time.perf_counter(), time.process_time()
    images = load_images(images_npz)
    ds, units = load_units(data_npz, unit, reference_npz if unit == "kmeans" else None, kmeans, csv_path)
    per_image = per_image_support(method, images, ds.images, cfg, model_path, sched_cfg, reference_npz,
                                  classifier_pt, behaviour_cfg, batch_size, compute, logger)
    support = unit_support(per_image, units.members, method)
    with atomic_path(out_npy, suffix=".npy") as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, per_image.astype(np.float64))
    settings = ({k: cfg[k] for k in ("model", "timesteps", "proj_dim", "proj_type", "regularization", "seed")}
                if method in GRADIENT else {"model": cfg["model"]})
    info = {"method": method, "unit": unit, "n_units": len(units), "n_train_images": int(len(ds.images)),
            "n_generated": int(len(images)), "reduce_over_unit_images": REDUCE[method],
            "support": dict(zip(units.ids, support.tolist())), "settings": settings,
            "convention": SUPPORT_CONVENTION, "seconds": time.perf_counter() - start,
            "cpu_seconds": time.process_time() - cpu, "startup_seconds": startup,
            "device": str((compute.device if compute is not None else "cpu"))}
    write_json(out_json, info)
    return info


def read_supports(score_jsons: Sequence[PathLike] | PathLike) -> dict[str, dict[str, float]]:
    """Method -> {unit id: support}, from the baselines' scores.json files."""
    paths = [score_jsons] if isinstance(score_jsons, (str, Path)) else list(score_jsons)
    out = {}
    for p in paths:
        info = read_json(p)
        out[info["method"]] = dict(info["support"])
    return out
