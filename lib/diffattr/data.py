"""Training data: loading, saving and hashing the image tensor and its group labels."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_path


@dataclass(frozen=True)
class Dataset:
    images: np.ndarray  # float32, N x C x H x W, values in [-1, 1]
    labels: np.ndarray  # int64, N; the group (class) of each image
    class_names: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.dtype != np.float32:
            raise ValueError(f"images must be float32 N x C x H x W, got {self.images.dtype} {self.images.shape}")
        if len(self.labels) != len(self.images):
            raise ValueError(f"{len(self.labels)} labels for {len(self.images)} images")

    @property
    def content_hash(self) -> str:
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(self.images).tobytes())
        h.update(np.ascontiguousarray(self.labels).tobytes())
        h.update("\0".join(self.class_names).encode())
        return h.hexdigest()


def load_digits_dataset() -> Dataset:
    """scikit-learn's digits (1,797 8x8 images, 0..16) scaled to [-1, 1]; shipped, no download."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images.astype(np.float32) / 8.0 - 1.0)[:, None, :, :]
    return Dataset(images, bunch.target.astype(np.int64), tuple(str(n) for n in bunch.target_names))


def load_source(kind: str) -> Dataset:
    """The dataset named by `data.kind`."""
    if kind == "digits":
        return load_digits_dataset()
    raise ValueError(f"data.kind: unknown kind {kind!r}; use 'digits'")


def class_names_of(data_cfg) -> tuple[str, ...]:
    """The class names of the configured dataset, cheaply, at workflow start-up."""
    return load_source(data_cfg["kind"]).class_names


def save_dataset(path: str | os.PathLike, ds: Dataset) -> None:
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, images=ds.images, labels=ds.labels, class_names=np.array(ds.class_names))


def load_dataset(path: str | os.PathLike) -> Dataset:
    """Load a dataset written by save_dataset, naming the file when it is missing or corrupt."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: dataset missing; rerun the 'data' rule")
    try:
        with np.load(path) as z:
            return Dataset(z["images"], z["labels"], tuple(str(c) for c in z["class_names"]))
    except Exception as exc:  # zipfile/pickle/key errors all mean the same to the user
        raise ValueError(f"{path}: corrupt dataset ({exc}); delete it and rerun the 'data' rule") from None
