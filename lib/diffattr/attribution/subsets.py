"""Attribution units and the random training/test subsets over them."""

from __future__ import annotations

import itertools
import math
import os
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.families import FAMILIES, FIXED_ALPHA, REDRAWN, subset_id


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


def make_units(
    labels: np.ndarray,
    class_names: tuple[str, ...],
    unit: str,
    features: np.ndarray | None = None,
    kmeans_k: int = 0,
    kmeans_seed: int = 0,
    csv_path: str | None = None,
) -> Units:
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


def read_unit_csv(path: str | None, n_samples: int) -> tuple[dict[int, str], list[str]]:
    """The unit of every training index from a CSV with a header `index,unit` (every index 0..N-1
    exactly once), and every problem with the file, one line each naming the file and its line.
    Start-up reports all the problems; a job reading the file raises the first (csv_units)."""
    import csv

    if not path:
        return {}, ["attribution.csv: unit 'csv' needs a path to a CSV with columns index,unit"]
    try:
        # A spreadsheet's byte-order mark is no header; opened here (not in a with) so that a missing
        # file is one problem, not a traceback.
        fh = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115
    except (FileNotFoundError, IsADirectoryError):
        return {}, [f"attribution.csv: {path!r} not found; give a CSV with columns index,unit"]
    unit_of: dict[int, str] = {}
    first_line: dict[int, int] = {}  # index -> the first line naming it (valid or not)
    problems: list[str] = []
    with fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        if not {"index", "unit"} <= set(header):
            found = ",".join(header) if header else "an empty file"
            return {}, [
                f"attribution.csv: {path} line 1: needs a header with columns 'index' and 'unit', found "
                f"{found!r}; make the first line `index,unit`"
            ]
        for row in reader:
            line = reader.line_num  # the file's line, blank lines counted
            raw = (row["index"] or "").strip()
            uid = (row["unit"] or "").strip()
            if not raw.isdigit() or int(raw) >= n_samples:
                problems.append(
                    f"attribution.csv: {path} line {line}: index {raw!r} is not a training index (0..{n_samples - 1})"
                )
            elif int(raw) in first_line:
                problems.append(
                    f"attribution.csv: {path} line {line}: index {raw} assigned twice (also on line "
                    f"{first_line[int(raw)]}); keep one line per index"
                )
            else:
                first_line[int(raw)] = line
                if uid:
                    unit_of[int(raw)] = uid
                else:
                    problems.append(f"attribution.csv: {path} line {line}: empty unit id for index {raw}")
    # An index whose line had another problem is reported there, not again as missing.
    missing = sorted(set(range(n_samples)) - set(first_line))
    if missing:
        problems.append(
            f"attribution.csv: {path}: {len(missing)} training indices have no unit (first {missing[:5]}); "
            f"add a line `index,unit` for every index 0..{n_samples - 1}"
        )
    if not problems and len(set(unit_of.values())) < 2:
        problems.append(f"attribution.csv: {path}: only {len(set(unit_of.values()))} unit; need at least 2")
    return unit_of, problems


def csv_units(path: str | None, n_samples: int) -> Units:
    """Units from a CSV with a header `index,unit`: every training index 0..N-1 exactly once."""
    unit_of, problems = read_unit_csv(path, n_samples)
    if problems:
        raise ValueError(problems[0])
    ids = sorted(set(unit_of.values()))
    owner = np.array([unit_of[i] for i in range(n_samples)], dtype=object)
    return Units(tuple(ids), tuple(np.flatnonzero(owner == u) for u in ids))


def subset_size(n_units: int, alpha: float) -> int:
    size = int(alpha * n_units)
    if not 0 < size < n_units:
        raise ValueError(f"subsets.alpha={alpha} gives {size} of {n_units} units; choose alpha so 0 < alpha*N < N")
    return size


def draw_subset(n_units: int, alpha: float, seed: int, family: str, index: int) -> np.ndarray:
    """The first draw of subset `index` of `family`, sorted unit indices; a pure function of (seed,
    family, index), independent across indices (i.i.d.).

    Each (family, index) gets its own SeedSequence, so families come from disjoint streams and
    subset i does not change when the number of subsets does. `alpha` sets the size of train and
    test subsets; the test25/test75 families use their own alpha. The workflow's subsets are
    `family_subsets`, which redraws a first draw that repeats an earlier subset of its family.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown subset family {family!r}")
    if family == "full":
        return np.arange(n_units)
    if family == "loo":
        if not 0 <= index < n_units:
            raise ValueError(f"loo-{index:04d}: only {n_units} units to leave out")
        return np.delete(np.arange(n_units), index)
    rs = _stream(seed, family, index, 0)
    if family == "uniform":
        return _bernoulli_half(rs, n_units)
    if family == "kernel":
        size = rs.choice(np.arange(1, n_units), p=shapley_kernel_sizes(n_units))
        return np.sort(rs.permutation(n_units)[:size])
    perm = rs.permutation(n_units)
    return np.sort(perm[: subset_size(n_units, FIXED_ALPHA.get(family, alpha))])


_LOCAL = threading.local()


def _stream(seed: int, family: str, index: int, attempt: int) -> np.random.RandomState:
    # Attempt 0 keeps the entropy the first draws always had, so they did not change when redraws came.
    key = [int(seed), FAMILIES[family].stream, int(index)] + ([int(attempt)] if attempt else [])
    # Reseeding gives the stream RandomState(entropy) gives, ~70x faster than building one (which
    # first gathers OS entropy): start-up draws every subset.
    if not hasattr(_LOCAL, "rs"):
        _LOCAL.rs = np.random.RandomState()
    _LOCAL.rs.seed(np.random.SeedSequence(key).generate_state(1)[0])
    return _LOCAL.rs


def _bernoulli_half(rs: np.random.RandomState, n_units: int) -> np.ndarray:
    # Bernoulli(1/2) per unit; the empty and the full set are redrawn (nothing to fine-tune on /
    # no unit left out). That shifts each Banzhaf estimate by -1/(2^(N-1) - 1) of the other
    # units' total effect: 0.2 % at N = 10, 3 % at N = 6 (with so few units prefer shapley).
    while True:
        mask = rs.random_sample(n_units) < 0.5
        if 0 < mask.sum() < n_units:
            return np.flatnonzero(mask)


# families.REDRAWN: the families whose subset i is redrawn while it equals an earlier subset of the
# family. Not `kernel`: KernelSHAP's unweighted regression is consistent because coalitions are
# i.i.d. from the Shapley kernel; a repeated coalition is a second, independent unlearning of it
# (its own seed), which the least-squares fit averages. `loo` and `full` are defined sets.


def mask_key(unit_idx: np.ndarray, n_units: int) -> bytes:
    """A subset's mask as bytes, for exact set comparisons of subsets."""
    return np.packbits(mask_of(unit_idx, n_units)).tobytes()


def family_subsets(n_units: int, alpha: float, seed: int, family: str) -> Iterator[tuple[np.ndarray, int]]:
    """The workflow's subsets of `family` in index order: (sorted unit indices, redraws).

    Subset i is its first draw (`draw_subset`) unless that equals an earlier subset j < i of the
    family (REDRAWN families only); then it is redrawn with the same size from attempt streams
    SeedSequence([seed, family, i, attempt]), attempt = 1, 2, ..., until it is new. It depends only
    on (seed, family, i) and the family's earlier subsets, so raising the number of subsets never
    changes an existing one. A uniform subset whose size has no unused subset left is redrawn
    whole (Bernoulli(1/2) per unit) instead. Asking for more distinct subsets than exist raises.
    Kernel subsets are deliberately never redrawn (they stay i.i.d. draws from the Shapley kernel,
    as KernelSHAP's unweighted fit needs; see REDRAWN); loo and full are the defined sets.
    """
    if family in ("loo", "full"):
        for index in range(n_units if family == "loo" else 1):
            yield draw_subset(n_units, alpha, seed, family, index), 0
        return
    seen: set[bytes] = set()
    per_size: Counter[int] = Counter()
    for index in itertools.count():
        units, attempt = draw_subset(n_units, alpha, seed, family, index), 0
        if family in REDRAWN:
            key = mask_key(units, n_units)
            size = len(units)
            while key in seen:
                attempt += 1
                units = _redraw(n_units, seed, family, index, attempt, size, per_size, len(seen))
                key = mask_key(units, n_units)
            seen.add(key)
            per_size[len(units)] += 1
        yield units, attempt


def _redraw(
    n_units: int, seed: int, family: str, index: int, attempt: int, size: int, per_size: Counter, n_seen: int
) -> np.ndarray:
    rs = _stream(seed, family, index, attempt)
    if per_size[size] < math.comb(n_units, size):
        return np.sort(rs.permutation(n_units)[:size])
    if family == "uniform" and n_seen < 2**n_units - 2:
        return _bernoulli_half(rs, n_units)
    raise ValueError(
        f"{subset_id(family, index)}: every subset of {size} of {n_units} units is already one of "
        f"{family}-0000..{family}-{index - 1:04d}; ask for fewer {family} subsets"
    )


def subset_of(n_units: int, alpha: float, seed: int, family: str, index: int) -> tuple[np.ndarray, int]:
    """Subset `index` of `family` as the workflow draws it: (sorted unit indices, redraws)."""
    if family in ("loo", "full"):
        return draw_subset(n_units, alpha, seed, family, index), 0
    return next(itertools.islice(family_subsets(n_units, alpha, seed, family), index, None))


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


def load_units(
    data_npz: str | os.PathLike,
    unit: str,
    reference_npz: str | os.PathLike | None = None,
    kmeans: Mapping[str, Any] | None = None,
    csv_path: str | None = None,
):
    """The data set and its attribution units (k-means clusters the reference features)."""
    from ..core.data import load_dataset

    ds = load_dataset(data_npz)
    features = np.load(reference_npz)["features"] if reference_npz else None
    return ds, make_units(
        ds.labels,
        ds.class_names,
        unit,
        features=features,
        kmeans_k=int((kmeans or {}).get("k", 0)),
        kmeans_seed=int((kmeans or {}).get("seed", 0)),
        csv_path=csv_path,
    )


def subset_record(
    units: Units,
    sid: str,
    family: str,
    index: int,
    unit: str,
    alpha: float | None,
    seed: int,
    chosen: np.ndarray,
    redraws: int = 0,
) -> dict:
    """What a subsets file holds per subset: its units (indices and ids) and its training images."""
    return {
        "id": sid,
        "family": family,
        "index": index,
        "unit": unit,
        "alpha": alpha,
        "seed": seed,
        "n_units": len(units),
        "redraws": int(redraws),
        "unit_indices": [int(i) for i in chosen],
        "unit_ids": [units.ids[i] for i in chosen],
        "sample_indices": units.indices(chosen).tolist(),
    }


def read_subsets(chunk_jsons: Sequence[str | os.PathLike] | str | os.PathLike) -> dict[str, dict]:
    """Subset id -> subset record, from one or several subsets files."""
    from pathlib import Path

    from ..core.atomic import read_json

    paths = [chunk_jsons] if isinstance(chunk_jsons, (str, Path)) else list(chunk_jsons)
    out: dict[str, dict] = {}
    for p in paths:
        out.update(read_json(p)["subsets"])
    return out
