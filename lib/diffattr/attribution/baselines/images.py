"""The generated images the cheap baselines score against: one .npz file, written by stage
baseline_images and read by stage baselines (one owner of its format)."""

from __future__ import annotations

import os

import numpy as np

from ...core.atomic import atomic_path

PathLike = str | os.PathLike


def save_images(images: np.ndarray, out_npz: PathLike) -> None:
    """The images as float32 under the key `images`, written atomically."""
    with atomic_path(out_npz, suffix=".npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, images=images.astype(np.float32))


def load_images(path: PathLike) -> np.ndarray:
    """The generated images of stage baseline_images, for the baselines stage."""
    try:
        with np.load(path) as z:
            return z["images"]
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: generated images missing; rerun the 'baseline_images' rule") from None
