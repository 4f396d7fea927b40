"""The counterfactual check: remove each estimator's most helpful units, retrain from scratch, and
compare the behaviour change with removing as many random units.

A removal set is named by the units it removes (cf-<hash>), so estimators that pick the same units
share one retraining, and a new plan (another datamodel or behaviour upstream) retrains only the
removals it adds: each removal's record is copied to a file named by the data and units alone (stage
cf_removal), which its retraining reads as ancient().
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..core.families import CF
from .datamodel import has_ranking, helpfulness

PathLike = str | os.PathLike


def removal_id(removed_unit_ids: Sequence[str]) -> str:
    return f"{CF}-" + hashlib.sha256("\n".join(sorted(removed_unit_ids)).encode()).hexdigest()[:12]


def removal_count(fraction: float, n_units: int) -> int:
    k = int(round(fraction * n_units))
    if not 1 <= k < n_units:
        raise ValueError(
            f"counterfactual.fractions: {fraction} of {n_units} units removes {k}; "
            f"choose fractions that remove between 1 and {n_units - 1} units"
        )
    return k


def removal_plan(
    coefficients: Mapping[str, Mapping[str, float]],
    unit_ids: Sequence[str],
    lower_is_better: bool,
    fractions: Sequence[float],
    n_random: int,
    seed: int,
) -> dict[str, Any]:
    """Which units each ranking removes at each fraction, plus the random removals. An estimator
    whose scores are all tied ranks nothing, so it removes nothing (its "top" units would be the
    first by index); it is listed under no_ranking.

    Returns {"removals": [{"kind": "top"|"random", "estimator"|"draw", "fraction", "k", "id", "removed"}],
    "no_ranking": [estimator, ...]}."""
    n = len(unit_ids)
    removals = []
    scores = {
        name: helpfulness(np.array([coefs[u] for u in unit_ids]), lower_is_better)
        for name, coefs in coefficients.items()
    }
    ranked = {name: score for name, score in scores.items() if has_ranking(score)}
    for fraction in fractions:
        k = removal_count(float(fraction), n)
        for name, score in ranked.items():
            top = np.argsort(-score, kind="stable")[:k]
            removed = sorted(unit_ids[i] for i in top)
            removals.append(
                {
                    "kind": "top",
                    "estimator": name,
                    "fraction": float(fraction),
                    "k": k,
                    "id": removal_id(removed),
                    "removed": removed,
                }
            )
        for draw in range(n_random):
            rng = np.random.default_rng([int(seed), k, draw])
            removed = sorted(unit_ids[i] for i in rng.choice(n, size=k, replace=False))
            removals.append(
                {
                    "kind": "random",
                    "draw": draw,
                    "fraction": float(fraction),
                    "k": k,
                    "id": removal_id(removed),
                    "removed": removed,
                }
            )
    return {"removals": removals, "no_ranking": sorted(set(scores) - set(ranked))}
