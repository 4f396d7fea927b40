"""Stage data: the training tensor and its content hash."""

from __future__ import annotations

import os

from ..core.atomic import write_json
from ..core.data import load_source, save_dataset
from ..core.settings import DataSource


def make_data(*, settings: DataSource, data: str | os.PathLike, info: str | os.PathLike) -> dict:
    """The training set as one tensor file (`data`) and its record (`info`: kind, folder, count, image
    shape, class names, the content hash that names everything downstream)."""
    ds = load_source(settings)
    save_dataset(data, ds)
    record = {
        "kind": settings.kind,
        "path": settings.path or None,
        "n": int(len(ds.images)),
        "shape": list(ds.images.shape[1:]),
        "classes": list(ds.class_names),
        "content_sha256": ds.content_hash,
    }
    write_json(info, record)
    return record
