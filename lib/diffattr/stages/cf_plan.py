"""Stage cf_plan: the counterfactual removal sets from the fitted attributions (a checkpoint: the
retrainings they need are known once it has run)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..attribution.counterfactual import removal_plan
from ..attribution.subsets import load_units, subset_record
from ..core.atomic import read_json, write_json
from ..core.families import CF
from ..core.settings import Counterfactual, Units

PathLike = str | os.PathLike


def make_cf_plan(
    *,
    datamodel: PathLike,
    data: PathLike,
    plan: PathLike,
    units: Units,
    settings: Counterfactual,
    reference: PathLike | None = None,
) -> dict[str, Any]:
    """The removal sets (`settings`: fractions, n_random, seed of the counterfactual section) from the
    fitted attributions (`datamodel`: its info JSON) and, for each, the subset record of the units kept
    (retrain reads it), written to `plan`."""
    unit = units.unit
    dm = read_json(datamodel)
    _, units = load_units(data, unit, reference, units.kmeans, units.csv)
    coefs = {name: est["coefficients"] for name, est in dm["estimators"].items()}
    removals = removal_plan(
        coefs,
        list(units.ids),
        bool(dm["lower_is_better"]),
        fractions=settings.fractions,
        n_random=settings.n_random,
        seed=settings.seed,
    )
    index = {u: i for i, u in enumerate(units.ids)}
    subsets = {}
    for r in removals["removals"]:
        kept = np.array(sorted(set(range(len(units))) - {index[u] for u in r["removed"]}))
        subsets[r["id"]] = subset_record(units, r["id"], CF, 0, unit, None, settings.seed, kept)
    out = {"target": dm["target"], "lower_is_better": dm["lower_is_better"], **removals, "subsets": subsets}
    write_json(plan, out)
    return out
