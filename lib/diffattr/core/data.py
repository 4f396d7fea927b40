"""Training data: loading, saving and hashing the image tensor and its group labels."""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .settings import DataSource


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


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
CIFAR10_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))


def _unpickle(path: Path) -> dict:
    import pickle

    if not path.is_file():
        raise ValueError(
            f"data.path: {path} missing; put CIFAR-10's python batches (the files of "
            f"cifar-10-batches-py: data_batch_1..5, batches.meta) in {path.parent}"
        )
    try:
        with open(path, "rb") as fh:
            return pickle.load(fh, encoding="bytes")
    except Exception as exc:  # truncated or not a pickle
        raise ValueError(
            f"data.path: {path} is corrupt ({type(exc).__name__}); replace it with the original CIFAR-10 python batch"
        ) from None


def cifar10_class_names(path: str | os.PathLike) -> tuple[str, ...]:
    meta = _unpickle(Path(path) / "batches.meta")
    return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in meta[b"label_names"])


def load_cifar10(path: str | os.PathLike) -> Dataset:
    """CIFAR-10's training set from the standard python pickle batches in a local directory."""
    root = Path(path)
    images, labels = [], []
    for name in CIFAR10_BATCHES:
        batch = _unpickle(root / name)
        try:
            data = np.asarray(batch[b"data"], dtype=np.uint8)
            lab = np.asarray(batch[b"labels"], dtype=np.int64)
        except KeyError as exc:
            raise ValueError(f"data.path: {root / name} lacks {exc}; is it a CIFAR-10 python batch?") from None
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(lab) != len(data):
            raise ValueError(
                f"data.path: {root / name} holds {data.shape} images and {len(lab)} labels; expected "
                "rows of 3072 bytes (3 x 32 x 32), one label each"
            )
        images.append(data.reshape(-1, 3, 32, 32))
        labels.append(lab)
    names = cifar10_class_names(root)
    labels_all = np.concatenate(labels)
    if labels_all.min() < 0 or labels_all.max() >= len(names):
        raise ValueError(f"data.path: labels outside 0..{len(names) - 1} in {root}")
    x = np.concatenate(images).astype(np.float32) / 127.5 - 1.0
    return Dataset(x, labels_all, names)


def imagefolder_class_names(path: str | os.PathLike) -> tuple[str, ...]:
    root = Path(path)
    if not root.is_dir():
        raise ValueError(f"data.path: {root} is not a directory; give a folder with one subfolder of images per class")
    names = tuple(sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")))
    if not names:
        raise ValueError(f"data.path: {root} has no class subfolders; put each class's images in its own subfolder")
    return names


def _class_files(root: Path, names: tuple[str, ...]) -> list[list[Path]]:
    out = []
    for name in names:
        files = sorted(f for f in (root / name).iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"data.path: class folder {root / name} has no images ({', '.join(IMAGE_SUFFIXES)})")
        out.append(files)
    return out


def imagefolder_files(path: str | os.PathLike) -> list[Path]:
    """The images of an image folder in training-index order (class folders sorted by name, then
    each folder's files by name): row i of attribution.csv's index column is file i."""
    root = Path(path)
    return [f for files in _class_files(root, imagefolder_class_names(root)) for f in files]


def load_imagefolder(path: str | os.PathLike, resolution: int = 0) -> Dataset:
    """A directory of images, one subfolder per class (the class is the image's group). Images are
    converted to RGB and resized to `resolution` (bicubic) when it is > 0; otherwise all must share
    one size."""
    from PIL import Image, UnidentifiedImageError

    root = Path(path)
    names = imagefolder_class_names(root)
    arrays, labels, size = [], [], None
    for c, files in enumerate(_class_files(root, names)):
        for f in files:
            try:
                with Image.open(f) as im:
                    im = im.convert("RGB")
                    if resolution:
                        im = im.resize((resolution, resolution), Image.BICUBIC)
                    arr = np.asarray(im, dtype=np.uint8)
            except (UnidentifiedImageError, OSError) as exc:
                raise ValueError(
                    f"data.path: {f} is not a readable image ({type(exc).__name__}); remove or replace it"
                ) from None
            if size is None:
                size = arr.shape
            elif arr.shape != size:
                raise ValueError(
                    f"data.path: {f} is {arr.shape[1]}x{arr.shape[0]}, others {size[1]}x{size[0]}; "
                    "set data.resolution to resize all images"
                )
            arrays.append(arr.transpose(2, 0, 1))
            labels.append(c)
    x = np.stack(arrays).astype(np.float32) / 127.5 - 1.0
    return Dataset(x, np.asarray(labels, dtype=np.int64), names)


def load_source(source: DataSource) -> Dataset:
    """The dataset named by `data.kind` (digits ships with scikit-learn; cifar10 and imagefolder
    read `data.path`)."""
    kind = source.kind
    if kind == "digits":
        return load_digits_dataset()
    if kind == "cifar10":
        return load_cifar10(source.path)
    if kind == "imagefolder":
        return load_imagefolder(source.path, source.resolution)
    raise ValueError(f"data.kind: unknown kind {kind!r}; use 'digits', 'cifar10' or 'imagefolder'")


def class_names_of(source: DataSource) -> tuple[str, ...]:
    """The class names of the configured dataset, cheaply (no images read), at workflow start-up."""
    if source.kind == "cifar10":
        return cifar10_class_names(source.path)
    if source.kind == "imagefolder":
        return imagefolder_class_names(source.path)
    if source.kind == "digits":
        return tuple(str(c) for c in np.unique(digits_targets()))
    return load_source(source).class_names


def sample_count(source: DataSource) -> int:
    """How many training images the configured dataset holds, at workflow start-up: digits from
    scikit-learn's bundled table, cifar10 from its batches' label lists, imagefolder by counting the
    image files of its class folders (nothing is decoded)."""
    kind = source.kind
    if kind == "cifar10":
        return _cifar10_count(source.path)
    if kind == "imagefolder":
        root = Path(source.path)
        total = 0
        for name in imagefolder_class_names(root):
            n = sum(1 for f in (root / name).iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
            if not n:
                raise ValueError(f"data.path: class folder {root / name} has no images ({', '.join(IMAGE_SUFFIXES)})")
            total += n
        return total
    if kind == "digits":
        return len(digits_targets())
    return len(load_source(source).labels)


@functools.lru_cache(maxsize=4)
def _cifar10_count(path: str) -> int:
    # Start-up asks twice (the config check's image count, the unit count of the subset draws), and
    # each answer unpickles all five batches: read them once per process.
    root = Path(path)
    cifar10_class_names(root)  # a clear error when batches.meta is missing
    counts = []
    for name in CIFAR10_BATCHES:
        try:
            counts.append(len(_unpickle(root / name)[b"labels"]))
        except KeyError:
            raise ValueError(f"data.path: {root / name} lacks b'labels'; is it a CIFAR-10 python batch?") from None
    return sum(counts)


def image_shape(source: DataSource) -> tuple[int, int, int]:
    """(channels, height, width) of the configured dataset's images, at workflow start-up: digits are
    1 x 8 x 8, CIFAR-10 3 x 32 x 32, an imagefolder 3 x resolution x resolution, or with resolution 0
    its first image's size (read from the file's header; load_imagefolder requires all to match)."""
    kind = source.kind
    if kind == "digits":
        return (1, 8, 8)
    if kind == "cifar10":
        return (3, 32, 32)
    if kind == "imagefolder":
        resolution = source.resolution
        if resolution:
            return (3, resolution, resolution)
        from PIL import Image, UnidentifiedImageError

        root = Path(source.path)
        name = imagefolder_class_names(root)[0]
        files = sorted(f for f in (root / name).iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"data.path: class folder {root / name} has no images ({', '.join(IMAGE_SUFFIXES)})")
        try:
            with Image.open(files[0]) as im:  # lazy: only the header is read
                width, height = im.size
        except (UnidentifiedImageError, OSError) as exc:
            raise ValueError(
                f"data.path: {files[0]} is not a readable image ({type(exc).__name__}); remove or replace it"
            ) from None
        return (3, height, width)
    raise ValueError(f"data.kind: unknown kind {kind!r}; use 'digits', 'cifar10' or 'imagefolder'")


def digits_targets() -> np.ndarray:
    """The digits' labels, read from scikit-learn's bundled table (the file load_digits reads)
    without importing scikit-learn, which takes ~1.5 s of every start-up; load_digits itself when
    the table is not where it was."""
    import gzip
    import importlib.util

    spec = importlib.util.find_spec("sklearn")  # locates the package without running it
    table = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz" if spec else None
    if table is None or not table.is_file():
        from sklearn.datasets import load_digits

        return load_digits().target
    with gzip.open(table, "rt") as fh:
        return np.array([int(float(line.rsplit(",", 1)[1])) for line in fh if line.strip()], dtype=np.int64)


def save_dataset(path: str | os.PathLike, ds: Dataset) -> None:
    with atomic_path(path, suffix=".npz") as tmp, open(tmp, "wb") as fh:
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
