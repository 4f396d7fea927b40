"""The HDF5 mask/behaviour matrix: one row per model, one column per unit (readable with h5py alone)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.families import EMPTY, family_of, split_seed_id

# The family each source's rows default to: the datamodel's training family for unlearned models,
# the alpha test family for retrained ones, the empty set for the untrained model.
DEFAULT_FAMILY = {"unlearn": "train", "retrain": "test", "init": EMPTY}


def _str_dtype():
    import h5py

    return h5py.string_dtype("utf-8")


@dataclass
class Matrix:
    masks: np.ndarray  # bool, models x units
    behaviours: np.ndarray  # float64, models x behaviours
    behaviour_names: list[str]
    unit_ids: list[str]
    subset_ids: list[str]
    source: list[str]  # per row: "unlearn", "retrain" or "init" (the untrained model)
    train_seconds: np.ndarray  # float64 per row
    attrs: dict[str, Any] = field(default_factory=dict)
    # Set by average_seeds (lds.test_seeds above 1): seeds x models x behaviours, each retrained test
    # model's behaviour under each seed (NaN on the other rows); `behaviours` holds their mean. None:
    # one retraining each (the matrix stage's, seed 1).
    seed_behaviours: np.ndarray | None = None

    def __post_init__(self) -> None:
        n, u = self.masks.shape
        if self.behaviours.shape != (n, len(self.behaviour_names)):
            raise ValueError(f"behaviours shape {self.behaviours.shape} != ({n}, {len(self.behaviour_names)})")
        if u != len(self.unit_ids) or not (len(self.subset_ids) == len(self.source) == len(self.train_seconds) == n):
            raise ValueError("matrix: row/column labels do not match the mask shape")
        if len(set(zip(self.source, self.subset_ids))) != n:
            raise ValueError("matrix: a (source, subset) row appears twice")
        if self.seed_behaviours is not None and self.seed_behaviours.shape[1:] != self.behaviours.shape:
            b = len(self.behaviour_names)
            raise ValueError(f"seed behaviours shape {self.seed_behaviours.shape} != (seeds, {n}, {b})")

    @property
    def n_seeds(self) -> int:
        """Retrainings per test subset that the test models' behaviours average (lds.test_seeds)."""
        return 1 if self.seed_behaviours is None else int(self.seed_behaviours.shape[0])

    def seeds(self, name: str) -> np.ndarray | None:
        """seeds x models: behaviour `name` of each seed's retraining (None: one retraining each)."""
        if self.seed_behaviours is None:
            return None
        return self.seed_behaviours[:, :, self.behaviour_names.index(self._known(name))]

    def rows(self, source: str, family: str | None = None) -> np.ndarray:
        """Rows of one source and subset family (the id's prefix, e.g. `uniform` in uniform-0003);
        by default the datamodel's training family for unlearned models and the alpha test family
        for retrained ones."""
        family = family or DEFAULT_FAMILY[source]
        return np.array(
            [
                i
                for i, (src, sid) in enumerate(zip(self.source, self.subset_ids))
                if src == source and family_of(sid) == family
            ],
            dtype=np.int64,
        )

    def families(self, source: str) -> list[str]:
        return sorted({family_of(sid) for src, sid in zip(self.source, self.subset_ids) if src == source})

    def _known(self, name: str) -> str:
        if name not in self.behaviour_names:
            raise KeyError(f"behaviour {name!r} not in the matrix (has {self.behaviour_names})")
        return name

    def behaviour(self, name: str) -> np.ndarray:
        return self.behaviours[:, self.behaviour_names.index(self._known(name))]


def average_seeds(m: Matrix, further: Mapping[str, Mapping[str, float]], test_seeds: int) -> Matrix:
    """The matrix with each retrained test model's behaviours the mean over its `test_seeds` seeds
    (lds.test_seeds): seed 1 the matrix's own row, seeds 2..s `further` (retrain_floor model id,
    families.seed_id -> behaviours); every seed's kept as seed_behaviours. A missing or surplus seed
    is an error naming the subset. The matrix stage stores seed 1 only, so that the datamodel and
    what follows it keep their names whatever the target averages."""
    import dataclasses

    rows = {m.subset_ids[i]: i for i in np.flatnonzero(np.array(m.source) == "retrain")}
    per_seed = np.full((test_seeds, *m.behaviours.shape), np.nan)
    per_seed[0, list(rows.values())] = m.behaviours[list(rows.values())]
    found = np.zeros((test_seeds, len(m.source)), bool)
    found[0, list(rows.values())] = True
    for model_id, metrics in further.items():
        sid, seed = split_seed_id(model_id)
        if sid not in rows or seed > test_seeds:
            raise ValueError(f"{model_id}: not one of seeds 2..{test_seeds} of a test model (lds.test_seeds)")
        per_seed[seed - 1, rows[sid]] = [metrics[name] for name in m.behaviour_names]
        found[seed - 1, rows[sid]] = True
    for sid, i in rows.items():
        if not found[:, i].all():
            missing = (np.flatnonzero(~found[:, i]) + 1).tolist()
            raise ValueError(f"test subset {sid}: no behaviour for seed(s) {missing} of lds.test_seeds {test_seeds}")
    behaviours = m.behaviours.copy()
    behaviours[list(rows.values())] = per_seed[:, list(rows.values())].mean(axis=0)
    return dataclasses.replace(m, behaviours=behaviours, seed_behaviours=per_seed)


def write_matrix(
    path: str | os.PathLike, m: Matrix, extra: Mapping[str, Mapping[str, np.ndarray]] | None = None
) -> None:
    """Write atomically; `extra` adds groups of datasets (e.g. attributions per estimator)."""
    import h5py

    from ..core.atomic import atomic_path

    s = _str_dtype()
    with atomic_path(path, suffix=".h5") as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("masks", data=m.masks.astype(bool))
        f.create_dataset("behaviours", data=m.behaviours.astype(np.float64))
        f.create_dataset("subset_ids", data=np.array(m.subset_ids, dtype=object), dtype=s)
        f.create_dataset("source", data=np.array(m.source, dtype=object), dtype=s)
        f.create_dataset("train_seconds", data=np.asarray(m.train_seconds, dtype=np.float64))
        if m.seed_behaviours is not None:
            f.create_dataset("seed_behaviours", data=np.asarray(m.seed_behaviours, dtype=np.float64))
        f.attrs["unit_ids"] = np.array(m.unit_ids, dtype=object)
        f.attrs["behaviour_names"] = np.array(m.behaviour_names, dtype=object)
        for key, value in m.attrs.items():
            f.attrs[key] = value
        for group, datasets in (extra or {}).items():
            g = f.create_group(group)
            for name, data in datasets.items():
                arr = np.asarray(data)
                if arr.dtype.kind in "UO":
                    g.create_dataset(name, data=arr.astype(object), dtype=s)
                else:
                    g.create_dataset(name, data=arr)


def read_matrix(path: str | os.PathLike) -> Matrix:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            dec = lambda a: [x.decode() if isinstance(x, bytes) else str(x) for x in a]  # noqa: E731
            attrs = {k: v for k, v in f.attrs.items() if k not in ("unit_ids", "behaviour_names")}
            return Matrix(
                masks=f["masks"][()].astype(bool),
                behaviours=f["behaviours"][()],
                behaviour_names=dec(f.attrs["behaviour_names"]),
                unit_ids=dec(f.attrs["unit_ids"]),
                subset_ids=dec(f["subset_ids"][()]),
                source=dec(f["source"][()]),
                train_seconds=f["train_seconds"][()],
                attrs=attrs,
                seed_behaviours=f["seed_behaviours"][()] if "seed_behaviours" in f else None,
            )
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: matrix missing; rerun the 'matrix' rule") from None
    except (OSError, KeyError) as exc:
        raise ValueError(f"{path}: corrupt matrix ({exc}); delete it and rerun the 'matrix' rule") from None


def read_groups(path: str | os.PathLike, group: str) -> dict[str, dict[str, np.ndarray]]:
    """The datasets of each subgroup of `group` that write_matrix's `extra` added (e.g. group
    "attributions": estimator -> unit_ids, coefficient, score, ...); strings decoded, scalars as 0-d arrays."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            if group not in f:
                raise KeyError(f"no group {group!r}")
            out = {}
            for name, g in f[group].items():
                out[name] = {
                    key: (ds.asstr()[()] if h5py.check_string_dtype(ds.dtype) else ds[()]) for key, ds in g.items()
                }
            return out
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: matrix missing; rerun the workflow") from None
    except (OSError, KeyError) as exc:
        raise ValueError(f"{path}: corrupt matrix ({exc}); delete it and rerun the workflow") from None
