"""Linear datamodeling score: Spearman between predicted and actual behaviour of retrained models."""

from __future__ import annotations

import numpy as np

from .datamodel import spearman


def lds(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Spearman(predicted behaviour, actual behaviour) over test models.

    Both are the behaviour itself (e.g. FID), not a 'goodness', so a good datamodel scores near +1
    whatever the behaviour's direction."""
    return spearman(np.asarray(predicted, float), np.asarray(actual, float))


def _percentile_bootstrap(statistic, n: int, n_boot: int, level: float, seed: int) -> tuple[float, float]:
    """Percentile CI of statistic(resampled indices) over n_boot resamples of n items; NaN draws
    (a resample with a constant side) are dropped."""
    rng = np.random.default_rng(seed)
    draws = [statistic(rng.integers(0, n, n)) for _ in range(n_boot)]
    draws = [v for v in draws if not np.isnan(v)]
    if not draws:
        return float("nan"), float("nan")
    lo, hi = np.quantile(draws, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def bootstrap_ci(predicted: np.ndarray, actual: np.ndarray, n_boot: int, level: float, seed: int) -> tuple[float, float]:
    """Percentile bootstrap over test models; resamples with a constant side are dropped."""
    predicted, actual = np.asarray(predicted, float), np.asarray(actual, float)
    return _percentile_bootstrap(lambda idx: spearman(predicted[idx], actual[idx]), len(actual), n_boot, level, seed)


def paired_gap_ci(pred_a: np.ndarray, pred_b: np.ndarray, actual: np.ndarray, n_boot: int, level: float,
                  seed: int) -> tuple[float, float]:
    """Percentile bootstrap CI of LDS(a) - LDS(b), resampling the test models jointly: both LDS are
    measured on the same models, so their separate CIs overlap far more than their difference varies."""
    pred_a, pred_b, actual = (np.asarray(v, float) for v in (pred_a, pred_b, actual))
    return _percentile_bootstrap(
        lambda idx: spearman(pred_a[idx], actual[idx]) - spearman(pred_b[idx], actual[idx]),
        len(actual), n_boot, level, seed)
