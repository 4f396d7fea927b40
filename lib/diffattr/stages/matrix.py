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

from ..atomic import read_json
from ..families import EMPTY, split_seed_id
from ..layout import batch_behaviours
from ..matrix import Matrix, write_matrix
from ..subsets import mask_of, read_subsets

PathLike = str | os.PathLike
PACKAGES = ("torch", "diffusers", "torch-fidelity", "torch-pruning", "numpy", "scikit-learn", "h5py", "snakemake")


def make_matrix(
    unlearn_batches: Sequence[PathLike],
    unlearn_ids: Sequence[str],
    retrained: Sequence[PathLike],
    untrained: Sequence[PathLike],
    subsets_jsons: Sequence[PathLike],
    out_h5: PathLike,
    config_hash: str,
    subset_report: Mapping[str, Any] | None = None,
    test_seeds: int = 1,
    seed_retrained: Sequence[PathLike] = (),
) -> Matrix:
    """Rows: the unlearned models `unlearn_ids` (found in their behaviour batch folders), the retrained
    test models and the untrained one (its subset is the empty set), each with its subset record.
    With `test_seeds` s above 1, `seed_retrained` holds the behaviour JSONs of the test subsets'
    seeds 2..s (stage retrain_floor, named by families.seed_id) and each retrained test model's row
    is the mean over its s seeds."""
    subsets = with_empty(read_subsets(subsets_jsons))
    behaviours = {
        "unlearn": batch_behaviours(list(unlearn_batches), list(unlearn_ids)),
        "retrain": retrained,
        "init": untrained,
    }
    seeds = seed_metrics(retrained, seed_retrained, test_seeds) if test_seeds > 1 else None
    return build_matrix(subset_rows(subsets, behaviours), out_h5, config_hash, subset_report, seeds)


def seed_metrics(
    retrained: Sequence[PathLike], seed_retrained: Sequence[PathLike], test_seeds: int
) -> dict[str, list[dict[str, float]]]:
    """Test subset id -> its behaviours under seeds 1..test_seeds (seed 1: `retrained`, the rest:
    `seed_retrained`, each seed named by its file's stem); a missing or surplus seed is an error."""
    out: dict[str, dict[int, dict[str, float]]] = {Path(p).stem: {1: read_json(p)["metrics"]} for p in retrained}
    for p in seed_retrained:
        sid, seed = split_seed_id(Path(p).stem)
        if sid not in out or seed > test_seeds or seed in out[sid]:
            raise ValueError(f"{p}: not one of seeds 2..{test_seeds} of a retrained test subset (lds.test_seeds)")
        out[sid][seed] = read_json(p)["metrics"]
    for sid, by_seed in out.items():
        if len(by_seed) != test_seeds:
            missing = sorted(set(range(1, test_seeds + 1)) - set(by_seed))
            raise ValueError(f"test subset {sid}: no behaviour for seed(s) {missing} of lds.test_seeds {test_seeds}")
    return {sid: [by_seed[k] for k in range(1, test_seeds + 1)] for sid, by_seed in out.items()}


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
    seeds: Mapping[str, Sequence[Mapping[str, float]]] | None = None,
) -> Matrix:
    """rows: (source, subset record, behaviour JSON), one per model: the used subsets only.
    `subset_report` (draws.SubsetPlan.report: per family the candidates, the ones skipped for
    equalling a test subset, redraws) is kept as the JSON attribute `subsets`, for lds.json and the
    manifest. `seeds` (seed_metrics: test subset id -> behaviours per seed): each retrained row holds
    their mean, and the matrix every seed's (Matrix.seed_behaviours)."""
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
    if seeds is not None:
        _average_seeds(m, seeds)
    write_matrix(out_h5, m)
    return m


def _average_seeds(m: Matrix, seeds: Mapping[str, Sequence[Mapping[str, float]]]) -> None:
    """Each retrained row's behaviours: the mean over its seeds, which m.seed_behaviours keeps."""
    n_seeds = len(next(iter(seeds.values())))
    per_seed = np.full((n_seeds, *m.behaviours.shape), np.nan)
    for i, (src, sid) in enumerate(zip(m.source, m.subset_ids)):
        if src == "retrain":
            per_seed[:, i, :] = [[metrics[name] for name in m.behaviour_names] for metrics in seeds[sid]]
            m.behaviours[i] = per_seed[:, i, :].mean(axis=0)
    m.seed_behaviours = per_seed


def _unit_ids(rows) -> list[str]:
    """Unit ids as named in the subset files (each names the units it holds; a unit that no subset
    holds keeps a positional name)."""
    names: dict[int, str] = {}
    n = 0
    for _, sub, _ in rows:
        n = sub["n_units"]
        names.update(zip(sub["unit_indices"], sub["unit_ids"]))
    return [names.get(i, f"unit-{i}") for i in range(n)]
