"""The linear datamodeling score on a matrix's test models: an attribution's LDS with its CI, and the
proxy fidelity and LDS ceiling on the matrix's rows (the statistics themselves: stats.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .settings import Bootstrap
from .stats import bootstrap_ci, lds, lds_ceiling, proxy_fidelity


def lds_of(predicted: np.ndarray, actual: np.ndarray, boot: Bootstrap, no_ranking: str | None = None) -> dict[str, Any]:
    """The LDS of one prediction of the test models' behaviour, with its bootstrap CI. `no_ranking`
    (Attribution.no_ranking): the attribution ranks no unit, so it has no LDS (NaN) and says why."""
    base = {"predicted": np.asarray(predicted).tolist(), "n_test_models": int(len(actual))}
    if no_ranking:
        return {"lds": float("nan"), "ci95": [float("nan"), float("nan")], **base, "why": no_ranking}
    lo, hi = bootstrap_ci(predicted, actual, boot.n_bootstrap, boot.ci_level, boot.seed)
    return {"lds": lds(predicted, actual), "ci95": [lo, hi], **base}


def paired_rows(
    m, rows: np.ndarray, behaviour: str, other: Mapping[str, Mapping[str, float]]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A matrix's value of `behaviour` on `rows` against another model's on the same subsets (`other`:
    subset id -> behaviours), for the subsets both have, in matrix order."""
    y = m.behaviour(behaviour)
    both = [i for i in rows if m.subset_ids[i] in other]
    return (
        np.array([y[i] for i in both], dtype=np.float64),
        np.array([other[m.subset_ids[i]][behaviour] for i in both], dtype=np.float64),
        [m.subset_ids[i] for i in both],
    )


def proxy_fidelity_of(
    m, behaviour: str, retrained: Mapping[str, Mapping[str, float]], boot: Bootstrap
) -> dict[str, Any]:
    """Proxy fidelity on the baseline subsets: their unlearned models (train family of the matrix)
    against their models retrained from scratch (`retrained`: subset id -> behaviours)."""
    u, r, ids = paired_rows(m, m.rows("unlearn", "train"), behaviour, retrained)
    return {**proxy_fidelity(u, r, boot.n_bootstrap, boot.ci_level, boot.seed), "subsets": ids}


def ceiling_of(
    m,
    behaviour: str,
    family: str,
    second: Mapping[str, Mapping[str, float]] | None,
    boot: Bootstrap,
) -> dict[str, Any] | None:
    """LDS ceiling of one test family: its retrained models (the matrix) against a second retraining
    of the same subsets (`second`: subset id -> behaviours); None when no second retraining exists.
    Beside it, `spread_sd`: the sd of the behaviour over all the family's retrained models, and
    `noise_share` = noise_sd^2 / spread_sd^2, the share of that spread one retraining's noise
    accounts for (near or above 1: the test models' ranking is mostly noise)."""
    if second is None:
        return None
    rows = m.rows("retrain", family)
    first, again, ids = paired_rows(m, rows, behaviour, second)
    out = lds_ceiling(first, again, boot.n_bootstrap, boot.ci_level, boot.seed)
    spread = float(np.std(m.behaviour(behaviour)[rows], ddof=1)) if len(rows) >= 2 else None
    noise = out["noise_sd"]
    share = noise**2 / spread**2 if noise is not None and spread else None
    return {**out, "spread_sd": spread, "noise_share": share, "subsets": ids}


def brief(ceiling: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What stands beside each LDS: the ceiling without its subset list."""
    return None if ceiling is None else {k: v for k, v in ceiling.items() if k != "subsets"}
