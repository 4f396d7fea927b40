"""The linear datamodeling score on a matrix's test models: an attribution's LDS with its CI, and the
proxy fidelity and LDS ceiling on the matrix's rows (the statistics themselves: stats.py). The test
models' behaviour is the matrix's: with lds.test_seeds above 1 the mean over each subset's seeds."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core.atomic import read_json
from ..core.settings import Bootstrap
from ..core.stats import bootstrap_ci, lds, lds_ceiling, lds_ceiling_of_seeds, proxy_fidelity


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


def metrics_by_subset(behaviour_jsons: Sequence[str | os.PathLike]) -> dict[str, dict[str, float]]:
    """Subset id (the file's stem) -> the behaviours in its behaviour JSON."""
    return {Path(p).stem: dict(read_json(p)["metrics"]) for p in behaviour_jsons}


def mean_retrainings(
    first: Mapping[str, Mapping[str, float]], *more: Mapping[str, Mapping[str, float]]
) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Subset id -> each behaviour's mean over the retrainings that exist of it (`first` has every
    subset; each of `more` some), and the ids that had more than one."""
    out, averaged = {}, []
    for sid, metrics in first.items():
        runs = [metrics] + [m[sid] for m in more if sid in m]
        out[sid] = {name: float(np.mean([r[name] for r in runs])) for name in metrics}
        if len(runs) > 1:
            averaged.append(sid)
    return out, averaged


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
    """LDS ceiling of one test family. A matrix whose test models average several seeds
    (Matrix.seed_behaviours, lds.test_seeds): two disjoint halves of the seeds compared on every
    test model of the family (stats.lds_ceiling_of_seeds). Else its retrained models against a second
    retraining of the same subsets (`second`: subset id -> behaviours); None when none exists.
    Beside it, `spread_sd`: the sd of the target (the matrix's behaviour, the seeds' mean) over all
    the family's test models, and `noise_share` = noise_sd_target^2 / spread_sd^2, the share of that
    spread the target's own seed noise accounts for (one retraining's noise_sd^2 at one seed, divided
    by s at s seeds; near or above 1: the test models' ranking is mostly noise)."""
    rows = m.rows("retrain", family)
    seeds = m.seeds(behaviour)
    if seeds is not None:
        out = lds_ceiling_of_seeds(seeds[:, rows], boot.n_bootstrap, boot.ci_level, boot.seed)
        ids = [m.subset_ids[i] for i in rows]
        target_noise = out["noise_sd_target"]
    elif second is None:
        return None
    else:
        first, again, ids = paired_rows(m, rows, behaviour, second)
        out = lds_ceiling(first, again, boot.n_bootstrap, boot.ci_level, boot.seed)
        target_noise = out["noise_sd"]
    spread = float(np.std(m.behaviour(behaviour)[rows], ddof=1)) if len(rows) >= 2 else None
    share = target_noise**2 / spread**2 if target_noise is not None and spread else None
    return {**out, "spread_sd": spread, "noise_share": share, "subsets": ids}


def brief(ceiling: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What stands beside each LDS: the ceiling without its subset list."""
    return None if ceiling is None else {k: v for k, v in ceiling.items() if k != "subsets"}
