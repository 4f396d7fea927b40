"""Linear datamodeling score: Spearman between predicted and actual behaviour of retrained models."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from .datamodel import spearman


def lds(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Spearman(predicted behaviour, actual behaviour) over test models.

    Both are the behaviour itself (e.g. FID), not a 'goodness', so a good datamodel scores near +1
    whatever the behaviour's direction."""
    return spearman(np.asarray(predicted, float), np.asarray(actual, float))


def _bootstrap_draws(statistic, n: int, n_boot: int, seed: int) -> np.ndarray:
    """statistic(resampled indices) over n_boot resamples of n items; NaN draws (a resample with a
    constant side) are dropped."""
    rng = np.random.default_rng(seed)
    draws = np.array([statistic(rng.integers(0, n, n)) for _ in range(n_boot)], dtype=np.float64)
    return draws[~np.isnan(draws)]


def _percentile(draws: np.ndarray, level: float) -> tuple[float, float]:
    if not len(draws):
        return float("nan"), float("nan")
    lo, hi = np.quantile(draws, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def _percentile_bootstrap(statistic, n: int, n_boot: int, level: float, seed: int) -> tuple[float, float]:
    """Percentile CI of statistic(resampled indices) over n_boot resamples of n items."""
    return _percentile(_bootstrap_draws(statistic, n, n_boot, seed), level)


def bootstrap_p(draws: np.ndarray) -> float:
    """Two-sided bootstrap p-value of 'the statistic is 0': twice the share of draws on the far side
    of 0, at most 1. It is the dual of the percentile CI: the level-L CI excludes 0 exactly when
    p < 1 - L (up to draws equal to 0), so Holm can adjust what the CIs say one at a time."""
    if not len(draws):
        return float("nan")
    return float(min(1.0, 2 * min(np.mean(draws <= 0), np.mean(draws >= 0))))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of p-values read together (NaN stays NaN and does not count):
    rejecting where the adjusted p < 1 - level holds the family-wise error at 1 - level."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(len(p), np.nan)
    finite = np.flatnonzero(~np.isnan(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[i]))
        out[i] = running
    return out.tolist()


def bootstrap_ci(
    predicted: np.ndarray, actual: np.ndarray, n_boot: int, level: float, seed: int
) -> tuple[float, float]:
    """Percentile bootstrap over test models; resamples with a constant side are dropped."""
    predicted, actual = np.asarray(predicted, float), np.asarray(actual, float)
    return _percentile_bootstrap(lambda idx: spearman(predicted[idx], actual[idx]), len(actual), n_boot, level, seed)


def paired_gap_test(
    pred_a: np.ndarray, pred_b: np.ndarray, actual: np.ndarray, n_boot: int, level: float, seed: int
) -> tuple[float, float, float]:
    """Percentile bootstrap CI of LDS(a) - LDS(b), resampling the test models jointly (both LDS are
    measured on the same models, so their separate CIs overlap far more than their difference
    varies), and the bootstrap p-value of 'no gap' from the same draws: (low, high, p)."""
    pred_a, pred_b, actual = (np.asarray(v, float) for v in (pred_a, pred_b, actual))
    draws = _bootstrap_draws(
        lambda idx: spearman(pred_a[idx], actual[idx]) - spearman(pred_b[idx], actual[idx]), len(actual), n_boot, seed
    )
    return (*_percentile(draws, level), bootstrap_p(draws))


def paired_gap_ci(
    pred_a: np.ndarray, pred_b: np.ndarray, actual: np.ndarray, n_boot: int, level: float, seed: int
) -> tuple[float, float]:
    """The percentile bootstrap CI of LDS(a) - LDS(b) (paired_gap_test without its p-value)."""
    return paired_gap_test(pred_a, pred_b, actual, n_boot, level, seed)[:2]


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation; NaN when a side is constant (as `spearman`)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def finite_or_none(v: float | None) -> float | None:
    """A value for JSON: None where it is missing or not finite."""
    return float(v) if v is not None and np.isfinite(v) else None


def proxy_fidelity(
    unlearned: np.ndarray, retrained: np.ndarray, n_boot: int, level: float, seed: int
) -> dict[str, Any]:
    """How well the cheap model ranks subsets like the expensive one: Spearman and Pearson between
    the unlearned and the retrained model's behaviour on the same subsets, each with a percentile
    bootstrap CI over the subsets (resampled as pairs)."""
    u, r = np.asarray(unlearned, float), np.asarray(retrained, float)
    if len(u) != len(r):
        raise ValueError(f"proxy fidelity: {len(u)} unlearned against {len(r)} retrained behaviours")
    if len(u) < 3:
        return {
            "n_subsets": int(len(u)),
            "spearman": None,
            "spearman_ci95": None,
            "pearson": None,
            "pearson_ci95": None,
            "why": f"{len(u)} subsets have both models; need at least 3",
        }
    s_ci = _percentile_bootstrap(lambda idx: spearman(u[idx], r[idx]), len(u), n_boot, level, seed)
    p_ci = _percentile_bootstrap(lambda idx: pearson(u[idx], r[idx]), len(u), n_boot, level, seed)
    return {
        "n_subsets": int(len(u)),
        "spearman": finite_or_none(spearman(u, r)),
        "spearman_ci95": [finite_or_none(v) for v in s_ci],
        "pearson": finite_or_none(pearson(u, r)),
        "pearson_ci95": [finite_or_none(v) for v in p_ci],
    }


def noise_free_bound(agreement: float | None) -> float | None:
    """The highest LDS a predictor of the expected behaviour can reach against one retraining, when
    two retrainings agree at Spearman `agreement`: about its square root (the attenuation by
    independent retraining noise, Spearman 1904); 0 when they do not agree at all."""
    if agreement is None or not np.isfinite(agreement):
        return None
    return float(np.sqrt(max(agreement, 0.0)))


def lds_ceiling(first: np.ndarray, second: np.ndarray, n_boot: int, level: float, seed: int) -> dict[str, Any]:
    """Spearman between the behaviours of two retrainings (other seeds) of the same test subsets,
    with a percentile bootstrap CI over the subsets: the LDS that a second retraining scores as a
    predictor, so training noise alone keeps an attribution's LDS near or below it. A predictor of
    the expected behaviour (free of either retraining's noise) can exceed it, up to `bound`.
    `noise_sd` is one retraining's seed noise in the behaviour's units, sd(first - second) / sqrt(2)
    (independent noises of equal variance), which a Spearman over a few subsets cannot show."""
    a, b = np.asarray(first, float), np.asarray(second, float)
    if len(a) != len(b):
        raise ValueError(f"LDS ceiling: {len(a)} first against {len(b)} second retrainings")
    if len(a) < 3:
        return {
            "n_subsets": int(len(a)),
            "spearman": None,
            "ci95": None,
            "bound": None,
            "bound_ci95": None,
            "noise_sd": None,
            "why": f"{len(a)} test subsets were retrained twice; need at least 3",
        }
    ci = [
        finite_or_none(v)
        for v in _percentile_bootstrap(lambda idx: spearman(a[idx], b[idx]), len(a), n_boot, level, seed)
    ]
    value = finite_or_none(spearman(a, b))
    return {
        "n_subsets": int(len(a)),
        "spearman": value,
        "ci95": ci,
        "bound": noise_free_bound(value),
        "bound_ci95": [noise_free_bound(v) for v in ci],
        "noise_sd": float(np.std(a - b, ddof=1) / np.sqrt(2)),
    }


def lds_of(
    predicted: np.ndarray, actual: np.ndarray, n_boot: int, level: float, seed: int, no_ranking: str | None = None
) -> dict[str, Any]:
    """The LDS of one prediction of the test models' behaviour, with its bootstrap CI. `no_ranking`
    (Attribution.no_ranking): the attribution ranks no unit, so it has no LDS (NaN) and says why."""
    base = {"predicted": np.asarray(predicted).tolist(), "n_test_models": int(len(actual))}
    if no_ranking:
        return {"lds": float("nan"), "ci95": [float("nan"), float("nan")], **base, "why": no_ranking}
    lo, hi = bootstrap_ci(predicted, actual, n_boot, level, seed)
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
    m, behaviour: str, retrained: Mapping[str, Mapping[str, float]], n_boot: int, level: float, seed: int
) -> dict[str, Any]:
    """Proxy fidelity on the baseline subsets: their unlearned models (train family of the matrix)
    against their models retrained from scratch (`retrained`: subset id -> behaviours)."""
    u, r, ids = paired_rows(m, m.rows("unlearn", "train"), behaviour, retrained)
    return {**proxy_fidelity(u, r, n_boot, level, seed), "subsets": ids}


def ceiling_of(
    m,
    behaviour: str,
    family: str,
    second: Mapping[str, Mapping[str, float]] | None,
    n_boot: int,
    level: float,
    seed: int,
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
    out = lds_ceiling(first, again, n_boot, level, seed)
    spread = float(np.std(m.behaviour(behaviour)[rows], ddof=1)) if len(rows) >= 2 else None
    noise = out["noise_sd"]
    share = noise**2 / spread**2 if noise is not None and spread else None
    return {**out, "spread_sd": spread, "noise_share": share, "subsets": ids}


def brief(ceiling: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What stands beside each LDS: the ceiling without its subset list."""
    return None if ceiling is None else {k: v for k, v in ceiling.items() if k != "subsets"}
