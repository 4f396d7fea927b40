"""Stage matrix: every family's models in one HDF5 mask/behaviour matrix (used subsets only)."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ..attribution.matrix import Matrix, write_matrix
from ..attribution.subsets import mask_of, read_subsets
from ..core.atomic import read_json
from ..core.families import EMPTY
from ..workflow.layout import batch_behaviours

PathLike = str | os.PathLike
PACKAGES = ("torch", "diffusers", "torch-fidelity", "torch-pruning", "numpy", "scikit-learn", "h5py", "snakemake")


def make_matrix(
    *,
    unlearn: Sequence[PathLike],
    unlearn_ids: Sequence[str],
    retrain: Sequence[PathLike],
    retrain_ids: Sequence[str],
    init: Sequence[PathLike],
    subsets: Sequence[PathLike],
    matrix: PathLike,
    config_hash: str,
    subset_report: Mapping[str, Any] | None = None,
) -> Matrix:
    """Rows: the unlearned models `unlearn_ids` and the retrained test models `retrain_ids` (each found
    in its behaviour batch folders, `unlearn` and `retrain`) and the untrained one (its subset is the
    empty set), each with its subset record."""
    records = with_empty(read_subsets(subsets))
    behaviours = {
        "unlearn": batch_behaviours(list(unlearn), list(unlearn_ids)),
        "retrain": batch_behaviours(list(retrain), list(retrain_ids)),
        "init": init,
    }
    return build_matrix(subset_rows(records, behaviours), matrix, config_hash, subset_report)


def subset_rows(
    subsets: Mapping[str, dict], behaviours: Mapping[str, Sequence[PathLike]]
) -> list[tuple[str, dict, str]]:
    """Pair each behaviour JSON (named <subset>.json) with its subset record: (source, subset, behaviour)."""
    rows = []
    for source, paths in behaviours.items():
        for p in paths:
            sid = Path(p).stem
            if sid not in subsets:
                raise ValueError(f"{p}: no subset record for {sid!r}")
            rows.append((source, subsets[sid], str(p)))
    return rows


def with_empty(subsets: Mapping[str, dict]) -> dict[str, dict]:
    """Add the record of the empty set (the untrained model's row) to subset records."""
    any_sub = next(iter(subsets.values()))
    empty = {
        **any_sub,
        "id": EMPTY,
        "family": EMPTY,
        "index": 0,
        "redraws": 0,
        "unit_indices": [],
        "unit_ids": [],
        "sample_indices": [],
    }
    return {**subsets, EMPTY: empty}


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def build_matrix(
    rows: Sequence[tuple[str, Mapping[str, Any], PathLike]],
    out_h5: PathLike,
    config_hash: str,
    subset_report: Mapping[str, Any] | None = None,
) -> Matrix:
    """rows: (source, subset record, behaviour JSON), one per model: the used subsets only.
    `subset_report` (draws.SubsetPlan.report: per family the candidates, the ones skipped for
    equalling a test subset, redraws) is kept as the JSON attribute `subsets`, for lds.json and the
    manifest."""
    masks, behaviours, sids, sources, seconds = [], [], [], [], []
    names: list[str] | None = None
    for source, sub, behaviour_json in rows:
        beh = read_json(behaviour_json)
        if names is None:
            names = sorted(beh["metrics"])
        if sorted(beh["metrics"]) != names:
            raise ValueError(f"{behaviour_json}: metrics {sorted(beh['metrics'])} differ from {names}")
        masks.append(mask_of(sub["unit_indices"], sub["n_units"]))
        behaviours.append([beh["metrics"][n] for n in names])
        sids.append(sub["id"])
        sources.append(source)
        seconds.append(float(beh.get("train_seconds") or np.nan))
    first_sub = rows[0][1]
    attrs = {
        "config_hash": config_hash,
        "unit": first_sub["unit"],
        "alpha": first_sub["alpha"],
        "package_versions": str(package_versions()),
    }
    if subset_report is not None:
        attrs["subsets"] = json.dumps(subset_report, sort_keys=True)
    m = Matrix(
        np.array(masks),
        np.array(behaviours, dtype=np.float64),
        names or [],
        _unit_ids(rows),
        sids,
        sources,
        np.array(seconds),
        attrs,
    )
    write_matrix(out_h5, m)
    return m


def _unit_ids(rows) -> list[str]:
    """Unit ids as named in the subset files (each names the units it holds; a unit that no subset
    holds keeps a positional name)."""
    names: dict[int, str] = {}
    n = 0
    for _, sub, _ in rows:
        n = sub["n_units"]
        names.update(zip(sub["unit_indices"], sub["unit_ids"]))
    return [names.get(i, f"unit-{i}") for i in range(n)]
