"""Attribution units and the random training/test subsets over them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FAMILIES = {"train": 1, "test": 2}  # separate seed streams per family


@dataclass(frozen=True)
class Units:
    ids: tuple[str, ...]  # one id per unit
    members: tuple[np.ndarray, ...]  # training indices of each unit

    def __len__(self) -> int:
        return len(self.ids)

    def indices(self, unit_idx: np.ndarray) -> np.ndarray:
        """Training-sample indices covered by the given units, sorted."""
        if len(unit_idx) == 0:
            return np.zeros(0, dtype=np.int64)
        return np.sort(np.concatenate([self.members[i] for i in unit_idx]))


def make_units(labels: np.ndarray, class_names: tuple[str, ...], unit: str) -> Units:
    """`sample`: each training image is a unit; `class`: each class is a unit."""
    if unit == "sample":
        return Units(tuple(f"sample-{i}" for i in range(len(labels))), tuple(np.array([i]) for i in range(len(labels))))
    if unit == "class":
        present = np.unique(labels)
        return Units(
            tuple(f"class-{class_names[c]}" for c in present),
            tuple(np.flatnonzero(labels == c) for c in present),
        )
    raise ValueError(f"attribution.unit: unknown unit {unit!r}; use 'sample' or 'class'")


def subset_id(family: str, index: int) -> str:
    return f"{family}-{index:04d}"


def parse_subset_id(sid: str) -> tuple[str, int]:
    family, _, idx = sid.partition("-")
    if family not in FAMILIES or not idx.isdigit():
        raise ValueError(f"bad subset id {sid!r}; expected e.g. 'train-0003' or 'test-0001'")
    return family, int(idx)


def subset_size(n_units: int, alpha: float) -> int:
    size = int(alpha * n_units)
    if not 0 < size < n_units:
        raise ValueError(f"subsets.alpha={alpha} gives {size} of {n_units} units; choose alpha so 0 < alpha*N < N")
    return size


def draw_subset(n_units: int, alpha: float, seed: int, family: str, index: int) -> np.ndarray:
    """Exactly int(alpha*N) unit indices, sorted; a pure function of (seed, family, index).

    Each (family, index) gets its own SeedSequence, so train and test subsets come from disjoint
    streams and subset i does not change when the number of subsets does.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown subset family {family!r}")
    entropy = np.random.SeedSequence([int(seed), FAMILIES[family], int(index)]).generate_state(1)[0]
    perm = np.random.RandomState(entropy).permutation(n_units)
    return np.sort(perm[: subset_size(n_units, alpha)])


def mask_of(unit_idx: np.ndarray, n_units: int) -> np.ndarray:
    mask = np.zeros(n_units, dtype=bool)
    mask[unit_idx] = True
    return mask
