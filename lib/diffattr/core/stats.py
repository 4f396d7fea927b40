"""The statistics every attribution stage reports: Spearman and Pearson, the linear datamodeling score,
percentile bootstrap CIs and p-values (Holm-adjusted where read together), the paired gap of two
predictions scored on the same test models, the LDS ceiling of two retrainings (or of two halves of
a seed-averaged target's seeds) and the proxy fidelity
of unlearned against retrained models. Plain arrays in, numbers out: the ground floor (numpy and scipy
only, nothing from diffattr), so datamodel, lds, budget, power and the baselines' cost all use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .settings import Bootstrap


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation; NaN when a side is constant (it ranks nothing)."""
    from scipy.stats import spearmanr

    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def lds(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Spearman(predicted behaviour, actual behaviour) over test models.

    Both are the behaviour itself (e.g. FID), not a 'goodness', so a good datamodel scores near +1
    whatever the behaviour's direction."""
    return spearman(np.asarray(predicted, float), np.asarray(actual, float))


def resamples(n: int, n_boot: int, seed: int) -> np.ndarray:
    """The bootstrap's resampled indices, n_boot rows of n draws from range(n): the stream of n_boot
    successive `rng.integers(0, n, n)` calls, drawn at once."""
    return np.random.default_rng(seed).integers(0, n, (n_boot, n))


def spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`spearman` of each row of `a` with the same row of `b` (n_rows x n), all rows at once; NaN
    where a row is constant on either side. The bootstrap's resamples cost one call instead of one
    spearmanr call each (about 1 ms apiece, 65 of the smoke estimators job's 72 s). It does what
    spearmanr does, on every row: average ranks (scipy's rankdata), then np.corrcoef's arithmetic
    (centre, cross-product, scale, divide by the two standard deviations in turn, clip). Ranks are
    whole or half numbers, so no step rounds differently in a batch, and each value is bit for bit
    spearmanr's (tests/test_datamodel_lds.py)."""
    from scipy.stats import rankdata

    a, b = np.asarray(a, float), np.asarray(b, float)
    constant = (np.ptp(a, axis=1) == 0) | (np.ptp(b, axis=1) == 0)
    x = np.stack([rankdata(a, axis=1), rankdata(b, axis=1)], axis=1)  # n_rows x 2 x n, as np.cov stacks
    x = x - x.mean(axis=2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.matmul(x, np.swapaxes(x, 1, 2)) * np.true_divide(1, a.shape[1] - 1)
        sd = np.sqrt(np.diagonal(c, axis1=1, axis2=2))
        c = c / sd[:, :, None]
        c = c / sd[:, None, :]
    r = np.clip(c[:, 1, 0], -1.0, 1.0)
    r[constant] = np.nan
    return r


def bootstrap_draws(statistic, n: int, n_boot: int, seed: int) -> np.ndarray:
    """statistic(idx) over the n_boot resamples of n items at once (`idx`: n_boot x n indices, one
    resample a row; the statistic returns one value per row); NaN draws (a resample with a constant
    side) are dropped."""
    draws = np.asarray(statistic(resamples(n, n_boot, seed)), dtype=np.float64)
    return draws[~np.isnan(draws)]


def _percentile(draws: np.ndarray, level: float) -> tuple[float, float]:
    if not len(draws):
        return float("nan"), float("nan")
    lo, hi = np.quantile(draws, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def percentile_bootstrap(statistic, n: int, n_boot: int, level: float, seed: int) -> tuple[float, float]:
    """Percentile CI of statistic(resampled indices) over n_boot resamples of n items (bootstrap_draws)."""
    return _percentile(bootstrap_draws(statistic, n, n_boot, seed), level)


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
    return percentile_bootstrap(
        lambda idx: spearman_rows(predicted[idx], actual[idx]), len(actual), n_boot, level, seed
    )


def paired_gap_test(
    pred_a: np.ndarray, pred_b: np.ndarray, actual: np.ndarray, n_boot: int, level: float, seed: int
) -> tuple[float, float, float]:
    """Percentile bootstrap CI of LDS(a) - LDS(b), resampling the test models jointly (both LDS are
    measured on the same models, so their separate CIs overlap far more than their difference
    varies), and the bootstrap p-value of 'no gap' from the same draws: (low, high, p)."""
    pred_a, pred_b, actual = (np.asarray(v, float) for v in (pred_a, pred_b, actual))
    draws = bootstrap_draws(
        lambda idx: spearman_rows(pred_a[idx], actual[idx]) - spearman_rows(pred_b[idx], actual[idx]),
        len(actual),
        n_boot,
        seed,
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
    s_ci = percentile_bootstrap(lambda idx: spearman_rows(u[idx], r[idx]), len(u), n_boot, level, seed)
    # np.corrcoef per resample: raw values (not ranks) round differently in a batch, and it is fast.
    p_ci = percentile_bootstrap(lambda idx: [pearson(u[i], r[i]) for i in idx], len(u), n_boot, level, seed)
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
        for v in percentile_bootstrap(lambda idx: spearman_rows(a[idx], b[idx]), len(a), n_boot, level, seed)
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


def seed_halves(n_seeds: int) -> tuple[int, int]:
    """How lds_ceiling_of_seeds splits s seeds: the first s // 2 against the other s - s // 2 (seed 1
    against seed 2 at two seeds, seed 1 against the rest's mean at three)."""
    if n_seeds < 2:
        raise ValueError(f"two halves need at least 2 seeds, got {n_seeds}")
    return n_seeds // 2, n_seeds - n_seeds // 2


def mean_reliability(agreement: float | None, a: int, b: int, seeds: int) -> float | None:
    """The reliability of an s-seed mean (the share of its variance across test models that is not
    seed noise), from `agreement`, the correlation between the means of two disjoint groups of a and b
    seeds. With one seed's reliability r, a k-seed mean's is R(k) = k r / (1 + (k - 1) r) (Spearman-Brown)
    and the groups correlate at sqrt(R(a) R(b)); solved for r, then R(s). 0 when they do not agree."""
    if agreement is None or not np.isfinite(agreement):
        return None
    if agreement <= 0:
        return 0.0
    if agreement >= 1:
        return 1.0

    def rel(k: int, r: float) -> float:
        return k * r / (1 + (k - 1) * r)

    lo, hi = 0.0, 1.0  # sqrt(R(a) R(b)) rises with r: bisect
    for _ in range(60):
        mid = (lo + hi) / 2
        if np.sqrt(rel(a, mid) * rel(b, mid)) < agreement:
            lo = mid
        else:
            hi = mid
    return float(rel(seeds, (lo + hi) / 2))


def lds_ceiling_of_seeds(seeds: np.ndarray, n_boot: int, level: float, seed: int) -> dict[str, Any]:
    """The LDS ceiling of a target averaged over s seeds (`seeds`: s x test subsets): the Spearman
    between the means of two disjoint halves of the seeds (seed_halves), with its bootstrap CI over the
    subsets. `bound`: the most a predictor of the expected behaviour can score against the s-seed mean,
    sqrt(R(s)) from the halves' agreement (mean_reliability); `noise_sd`: one retraining's seed noise,
    sd(half_a - half_b) / sqrt(1/a + 1/b); `noise_sd_target`: the s-seed mean's, noise_sd / sqrt(s)."""
    y = np.asarray(seeds, float)
    s = y.shape[0]
    a, b = seed_halves(s)
    first, second = y[:a].mean(axis=0), y[a:].mean(axis=0)
    out = lds_ceiling(first, second, n_boot, level, seed)

    def bound(v: float | None) -> float | None:
        r = mean_reliability(v, a, b, s)
        return None if r is None else float(np.sqrt(r))

    out["n_seeds"], out["halves"] = s, [a, b]
    if out["spearman"] is None:
        out["why"] = f"{out['n_subsets']} test subsets; need at least 3"
        return {**out, "noise_sd_target": None}
    noise = float(np.std(first - second, ddof=1) / np.sqrt(1 / a + 1 / b))
    return {
        **out,
        "bound": bound(out["spearman"]),
        "bound_ci95": [bound(v) for v in out["ci95"]],
        "noise_sd": noise,
        "noise_sd_target": noise / np.sqrt(s),
    }


def paired_gap(
    pred_unlearn: np.ndarray | None, pred_retrain: np.ndarray | None, test_y: np.ndarray, boot: Bootstrap
) -> dict[str, Any]:
    """LDS(unlearn) - LDS(retrain) with its paired bootstrap CI. The two LDS share their test models,
    so whether their separate CIs overlap says little; the CI of the difference decides."""
    if pred_unlearn is None or pred_retrain is None:
        return {"gap": None, "ci95": None, "excludes_zero": False, "why": "a method has no LDS at this budget"}
    gap = finite_or_none(lds(pred_unlearn, test_y) - lds(pred_retrain, test_y))
    lo, hi, p = paired_gap_test(pred_unlearn, pred_retrain, test_y, boot.n_bootstrap, boot.ci_level, boot.seed)
    lo, hi = finite_or_none(lo), finite_or_none(hi)
    excludes = gap is not None and lo is not None and hi is not None and (lo > 0 or hi < 0)
    return {"gap": gap, "ci95": [lo, hi], "excludes_zero": bool(excludes), "p": finite_or_none(p)}
