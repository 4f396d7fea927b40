"""Attribution units and the random training/test subsets over them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Separate seed streams per family. train/test: exactly int(alpha*N) units (the datamodel and the
# LDS); uniform: each unit in with probability 1/2 (Banzhaf by maximum sample reuse); kernel: size
# drawn from the Shapley kernel (KernelSHAP); loo: all units but one (leave-one-out); full: all
# units; test25/test75: held-out test subsets at alpha 0.25 / 0.75.
FAMILIES = {"train": 1, "test": 2, "uniform": 3, "kernel": 4, "loo": 5, "full": 6, "test25": 7, "test75": 8}
FIXED_ALPHA = {"test25": 0.25, "test75": 0.75}


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


def make_units(labels: np.ndarray, class_names: tuple[str, ...], unit: str, features: np.ndarray | None = None,
               kmeans_k: int = 0, kmeans_seed: int = 0, csv_path: str | None = None) -> Units:
    """`sample`: each training image is a unit; `class`: each class; `kmeans`: k-means clusters of
    the training images' features (the FID feature extractor's); `csv`: the unit of every training
    index read from a file."""
    if unit == "sample":
        return Units(tuple(f"sample-{i}" for i in range(len(labels))), tuple(np.array([i]) for i in range(len(labels))))
    if unit == "class":
        present = np.unique(labels)
        return Units(
            tuple(f"class-{class_names[c]}" for c in present),
            tuple(np.flatnonzero(labels == c) for c in present),
        )
    if unit == "kmeans":
        return kmeans_units(features, kmeans_k, kmeans_seed)
    if unit == "csv":
        return csv_units(csv_path, len(labels))
    raise ValueError(f"attribution.unit: unknown unit {unit!r}; use 'sample', 'class', 'kmeans' or 'csv'")


def kmeans_units(features: np.ndarray | None, k: int, seed: int) -> Units:
    """Clusters of the feature extractor's embeddings (scikit-learn KMeans, 10 restarts)."""
    from sklearn.cluster import KMeans

    if features is None:
        raise ValueError("attribution.unit 'kmeans' needs the training images' features (the reference stage)")
    if not 2 <= k < len(features):
        raise ValueError(f"attribution.kmeans.k={k}: need 2 <= k < {len(features)} (the training images)")
    labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(np.asarray(features, np.float64))
    present = np.unique(labels)
    if len(present) < k:
        raise ValueError(f"attribution.kmeans.k={k}: only {len(present)} non-empty clusters; lower k")
    return Units(tuple(f"cluster-{c:03d}" for c in present), tuple(np.flatnonzero(labels == c) for c in present))


def csv_units(path: str | None, n_samples: int) -> Units:
    """Units from a CSV with a header `index,unit`: every training index 0..N-1 exactly once."""
    import csv

    if not path:
        raise ValueError("attribution.csv: unit 'csv' needs a path to a CSV with columns index,unit")
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        raise ValueError(f"attribution.csv: {path} not found; give a CSV with columns index,unit") from None
    if not rows or not {"index", "unit"} <= set(rows[0]):
        raise ValueError(f"attribution.csv: {path} needs a header with columns 'index' and 'unit'")
    unit_of: dict[int, str] = {}
    for line, row in enumerate(rows, start=2):
        raw = (row["index"] or "").strip()
        if not raw.isdigit() or int(raw) >= n_samples:
            raise ValueError(f"attribution.csv: {path} line {line}: index {raw!r} is not a training index "
                             f"(0..{n_samples - 1})")
        if int(raw) in unit_of:
            raise ValueError(f"attribution.csv: {path} line {line}: index {raw} assigned twice")
        uid = (row["unit"] or "").strip()
        if not uid:
            raise ValueError(f"attribution.csv: {path} line {line}: empty unit id")
        unit_of[int(raw)] = uid
    missing = sorted(set(range(n_samples)) - set(unit_of))
    if missing:
        raise ValueError(f"attribution.csv: {path}: {len(missing)} training indices have no unit "
                         f"(first {missing[:5]}); assign every index 0..{n_samples - 1}")
    ids = sorted(set(unit_of.values()))
    if len(ids) < 2:
        raise ValueError(f"attribution.csv: {path}: only {len(ids)} unit; need at least 2")
    owner = np.array([unit_of[i] for i in range(n_samples)], dtype=object)
    return Units(tuple(ids), tuple(np.flatnonzero(owner == u) for u in ids))


def subset_id(family: str, index: int) -> str:
    return f"{family}-{index:04d}"


def parse_subset_id(sid: str) -> tuple[str, int]:
    family, _, idx = sid.partition("-")
    if family not in FAMILIES or not idx.isdigit():
        raise ValueError(f"bad subset id {sid!r}; expected <family>-<index> with family in {sorted(FAMILIES)}")
    return family, int(idx)


def subset_size(n_units: int, alpha: float) -> int:
    size = int(alpha * n_units)
    if not 0 < size < n_units:
        raise ValueError(f"subsets.alpha={alpha} gives {size} of {n_units} units; choose alpha so 0 < alpha*N < N")
    return size


def draw_subset(n_units: int, alpha: float, seed: int, family: str, index: int) -> np.ndarray:
    """The sorted unit indices of subset `index` of `family`; a pure function of (seed, family, index).

    Each (family, index) gets its own SeedSequence, so families come from disjoint streams and
    subset i does not change when the number of subsets does. `alpha` sets the size of train and
    test subsets; the test25/test75 families use their own alpha.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown subset family {family!r}")
    if family == "full":
        return np.arange(n_units)
    if family == "loo":
        if not 0 <= index < n_units:
            raise ValueError(f"loo-{index:04d}: only {n_units} units to leave out")
        return np.delete(np.arange(n_units), index)
    entropy = np.random.SeedSequence([int(seed), FAMILIES[family], int(index)]).generate_state(1)[0]
    rs = np.random.RandomState(entropy)
    if family == "uniform":
        # Bernoulli(1/2) per unit; the empty and the full set are redrawn (nothing to fine-tune on /
        # no unit left out). That shifts each Banzhaf estimate by -1/(2^(N-1) - 1) of the other
        # units' total effect: 0.2 % at N = 10, 3 % at N = 6 (with so few units prefer shapley).
        while True:
            mask = rs.random_sample(n_units) < 0.5
            if 0 < mask.sum() < n_units:
                return np.flatnonzero(mask)
    if family == "kernel":
        size = rs.choice(np.arange(1, n_units), p=shapley_kernel_sizes(n_units))
        return np.sort(rs.permutation(n_units)[:size])
    perm = rs.permutation(n_units)
    return np.sort(perm[: subset_size(n_units, FIXED_ALPHA.get(family, alpha))])


def shapley_kernel_sizes(n_units: int) -> np.ndarray:
    """P(|S| = s) for s = 1..N-1 under the Shapley kernel, proportional to (N-1) / (s (N-s)):
    drawing sizes from it and then a uniform subset of that size makes the KernelSHAP regression
    unweighted (Lundberg & Lee 2017; Covert & Lee 2021)."""
    if n_units < 2:
        raise ValueError(f"KernelSHAP needs at least 2 units, got {n_units}")
    s = np.arange(1, n_units)
    w = (n_units - 1) / (s * (n_units - s))
    return w / w.sum()


def mask_of(unit_idx: np.ndarray, n_units: int) -> np.ndarray:
    mask = np.zeros(n_units, dtype=bool)
    mask[unit_idx] = True
    return mask
