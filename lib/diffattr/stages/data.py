"""Stage data: the training tensor and its content hash."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..core.atomic import write_json
from ..core.data import load_source, save_dataset


def make_data(*, settings: Mapping[str, Any], data: str | os.PathLike, info: str | os.PathLike) -> dict:
    ds = load_source(settings)
    save_dataset(data, ds)
    record = {
        "kind": settings["kind"],
        "path": settings.get("path") or None,
        "n": int(len(ds.images)),
        "shape": list(ds.images.shape[1:]),
        "classes": list(ds.class_names),
        "content_sha256": ds.content_hash,
    }
    write_json(info, record)
    return record
