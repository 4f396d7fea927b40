"""Stage cf_plan: the counterfactual removal sets from the fitted attributions (a checkpoint: the
retrainings they need are known once it has run)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..atomic import read_json, write_json
from ..counterfactual import removal_plan
from ..families import CF
from ..subsets import load_units, subset_record

PathLike = str | os.PathLike


def make_cf_plan(
    datamodel_json: PathLike,
    data_npz: PathLike,
    unit: str,
    fractions: Sequence[float],
    n_random: int,
    seed: int,
    out_json: PathLike,
    reference_npz: PathLike | None = None,
    kmeans: Mapping[str, Any] | None = None,
    csv_path: str | None = None,
) -> dict[str, Any]:
    """The removal sets and, for each, the subset record of the units kept (retrain reads it)."""
    dm = read_json(datamodel_json)
    _, units = load_units(data_npz, unit, reference_npz, kmeans, csv_path)
    coefs = {name: est["coefficients"] for name, est in dm["estimators"].items()}
    plan = removal_plan(coefs, list(units.ids), bool(dm["lower_is_better"]), fractions, n_random, seed)
    index = {u: i for i, u in enumerate(units.ids)}
    subsets = {}
    for r in plan["removals"]:
        kept = np.array(sorted(set(range(len(units))) - {index[u] for u in r["removed"]}))
        subsets[r["id"]] = subset_record(units, r["id"], CF, 0, unit, None, seed, kept)
    out = {"target": dm["target"], "lower_is_better": dm["lower_is_better"], **plan, "subsets": subsets}
    write_json(out_json, out)
    return out
