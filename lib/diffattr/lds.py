"""Linear datamodeling score: Spearman between predicted and actual behaviour of retrained models."""

from __future__ import annotations

import numpy as np

from .datamodel import spearman


def lds(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Spearman(predicted behaviour, actual behaviour) over test models.

    Both are the behaviour itself (e.g. FID), not a 'goodness', so a good datamodel scores near +1
    whatever the behaviour's direction."""
    return spearman(np.asarray(predicted, float), np.asarray(actual, float))


def bootstrap_ci(predicted: np.ndarray, actual: np.ndarray, n_boot: int, level: float, seed: int) -> tuple[float, float]:
    """Percentile bootstrap over test models; resamples with a constant side are dropped."""
    predicted, actual = np.asarray(predicted, float), np.asarray(actual, float)
    rng = np.random.default_rng(seed)
    stats = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(actual), len(actual))
        value = spearman(predicted[idx], actual[idx])
        if not np.isnan(value):
            stats.append(value)
    if not stats:
        return float("nan"), float("nan")
    lo, hi = np.quantile(stats, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def paired_gap_ci(pred_a: np.ndarray, pred_b: np.ndarray, actual: np.ndarray, n_boot: int, level: float,
                  seed: int) -> tuple[float, float]:
    """Percentile bootstrap CI of LDS(a) - LDS(b), resampling the test models jointly: both LDS are
    measured on the same models, so their separate CIs overlap far more than their difference varies."""
    pred_a, pred_b, actual = (np.asarray(v, float) for v in (pred_a, pred_b, actual))
    rng = np.random.default_rng(seed)
    gaps = []
    for _ in range(n_boot):
        idx = rng.integers(0, len(actual), len(actual))
        gap = spearman(pred_a[idx], actual[idx]) - spearman(pred_b[idx], actual[idx])
        if not np.isnan(gap):
            gaps.append(gap)
    if not gaps:
        return float("nan"), float("nan")
    lo, hi = np.quantile(gaps, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)
