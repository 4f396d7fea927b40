"""The counterfactual check: remove each estimator's most helpful units, retrain from scratch, and
compare the behaviour change with removing as many random units.

A removal set is named by the units it removes (cf-<hash>), so estimators that pick the same units
share one retraining and a rerun with the same attributions reuses it.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Mapping, Sequence

import numpy as np

from .atomic import read_json, write_json, write_text
from .datamodel import helpfulness

PathLike = str | os.PathLike


def removal_id(removed_unit_ids: Sequence[str]) -> str:
    return "cf-" + hashlib.sha256("\n".join(sorted(removed_unit_ids)).encode()).hexdigest()[:12]


def removal_count(fraction: float, n_units: int) -> int:
    k = int(round(fraction * n_units))
    if not 1 <= k < n_units:
        raise ValueError(f"counterfactual.fractions: {fraction} of {n_units} units removes {k}; "
                         f"choose fractions that remove between 1 and {n_units - 1} units")
    return k


def removal_plan(coefficients: Mapping[str, Mapping[str, float]], unit_ids: Sequence[str], lower_is_better: bool,
                 fractions: Sequence[float], n_random: int, seed: int) -> dict[str, Any]:
    """Which units each ranking removes at each fraction, plus the random removals.

    Returns {"removals": [{"kind": "top"|"random", "estimator"|"draw", "fraction", "k", "id", "removed"}]}."""
    n = len(unit_ids)
    removals = []
    for fraction in fractions:
        k = removal_count(float(fraction), n)
        for name, coefs in coefficients.items():
            score = helpfulness(np.array([coefs[u] for u in unit_ids]), lower_is_better)
            top = np.argsort(-score, kind="stable")[:k]
            removed = sorted(unit_ids[i] for i in top)
            removals.append({"kind": "top", "estimator": name, "fraction": float(fraction), "k": k,
                             "id": removal_id(removed), "removed": removed})
        for draw in range(n_random):
            rng = np.random.default_rng([int(seed), k, draw])
            removed = sorted(unit_ids[i] for i in rng.choice(n, size=k, replace=False))
            removals.append({"kind": "random", "draw": draw, "fraction": float(fraction), "k": k,
                             "id": removal_id(removed), "removed": removed})
    return {"removals": removals}


def make_cf_plan(datamodel_json: PathLike, data_npz: PathLike, unit: str, fractions: Sequence[float], n_random: int,
                 seed: int, out_json: PathLike, reference_npz: PathLike | None = None,
                 kmeans: Mapping[str, Any] | None = None, csv_path: str | None = None) -> dict[str, Any]:
    """The removal sets and, for each, the subset record of the units kept (retrain reads it)."""
    from .pipeline import load_units, subset_record

    dm = read_json(datamodel_json)
    _, units = load_units(data_npz, unit, reference_npz, kmeans, csv_path)
    coefs = {name: est["coefficients"] for name, est in dm["estimators"].items()}
    plan = removal_plan(coefs, list(units.ids), bool(dm["lower_is_better"]), fractions, n_random, seed)
    index = {u: i for i, u in enumerate(units.ids)}
    subsets = {}
    for r in plan["removals"]:
        kept = np.array(sorted(set(range(len(units))) - {index[u] for u in r["removed"]}))
        subsets[r["id"]] = subset_record(units, r["id"], "cf", 0, unit, None, seed, kept)
    out = {"target": dm["target"], "lower_is_better": dm["lower_is_better"], **plan, "subsets": subsets}
    write_json(out_json, out)
    return out


def counterfactual_table(plan_json: PathLike, behaviour_jsons: Sequence[PathLike], base_json: PathLike,
                         out_json: PathLike, out_csv: PathLike, out_png: PathLike) -> dict[str, Any]:
    """Behaviour change (removed - all data, both retrained from scratch with the base recipe) per
    ranking and fraction, against the mean and spread of the random removals."""
    from pathlib import Path

    from .figures import counterfactual_figure

    plan = read_json(plan_json)
    target = plan["target"]
    value = {Path(p).stem: float(read_json(p)["metrics"][target]) for p in behaviour_jsons}
    base = float(read_json(base_json)["metrics"][target])
    rows = []
    for fraction in sorted({r["fraction"] for r in plan["removals"]}):
        at = [r for r in plan["removals"] if r["fraction"] == fraction]
        rand = np.array([value[r["id"]] - base for r in at if r["kind"] == "random"])
        for r in at:
            if r["kind"] != "top":
                continue
            delta = value[r["id"]] - base
            # z-score against the random removals: how many random spreads the ranking beats them by.
            sd = float(rand.std(ddof=1)) if len(rand) > 1 else float("nan")
            rows.append({"estimator": r["estimator"], "fraction": fraction, "k": r["k"], "removed": r["removed"],
                         "behaviour": value[r["id"]], "change": delta, "random_mean_change": float(rand.mean()),
                         "random_sd_change": sd, "random_min_change": float(rand.min()),
                         "random_max_change": float(rand.max()),
                         "z_vs_random": (delta - float(rand.mean())) / sd if sd and np.isfinite(sd) else float("nan")})
    out = {"behaviour": target, "lower_is_better": plan["lower_is_better"], "all_data_behaviour": base,
           "reading": "change = behaviour after removing the units - behaviour with all data (both trained from "
                      "scratch with the base recipe); removing the most helpful units should move the behaviour the "
                      "bad way (up when lower is better) by more than removing random units",
           "rows": rows, "random": {str(f): [value[r["id"]] - base for r in plan["removals"]
                                             if r["kind"] == "random" and r["fraction"] == f]
                                   for f in sorted({r["fraction"] for r in plan["removals"]})}}
    write_json(out_json, out)
    lines = ["estimator,fraction,k,change,random_mean_change,random_sd_change,z_vs_random,removed"]
    for r in rows:
        lines.append(f"{r['estimator']},{r['fraction']:g},{r['k']},{r['change']:.4g},{r['random_mean_change']:.4g},"
                     f"{r['random_sd_change']:.4g},{r['z_vs_random']:.3g},{' '.join(r['removed'][:20])}")
    write_text(out_csv, "\n".join(lines) + "\n")
    counterfactual_figure(out, out_png)
    return out
