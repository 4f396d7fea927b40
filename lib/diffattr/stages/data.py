"""Stage data: the training tensor and its content hash."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..atomic import write_json
from ..data import load_source, save_dataset


def make_data(data_cfg: Mapping[str, Any], out_npz: str | os.PathLike, out_json: str | os.PathLike) -> dict:
    ds = load_source(data_cfg)
    save_dataset(out_npz, ds)
    info = {
        "kind": data_cfg["kind"],
        "path": data_cfg.get("path") or None,
        "n": int(len(ds.images)),
        "shape": list(ds.images.shape[1:]),
        "classes": list(ds.class_names),
        "content_sha256": ds.content_hash,
    }
    write_json(out_json, info)
    return info
