"""Linear datamodels g(1_S) = b0 + beta . 1_S fitted with scikit-learn, regularisation by CV."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


@dataclass(frozen=True)
class LinearDatamodel:
    estimator: str
    intercept: float
    coef: np.ndarray  # change of the behaviour when the unit is included
    alpha: float
    cv_spearman: float

    def predict(self, masks: np.ndarray) -> np.ndarray:
        return self.intercept + masks.astype(np.float64) @ self.coef


def _estimator(name: str, alpha: float):
    from sklearn.linear_model import Lasso, Ridge

    if name == "ridge":
        return Ridge(alpha=alpha)
    if name == "lasso":
        return Lasso(alpha=alpha, max_iter=50_000)
    raise ValueError(f"datamodel.estimators: unknown estimator {name!r}; use 'ridge' or 'lasso'")


def fit_datamodel(masks: np.ndarray, y: np.ndarray, estimator: str, alphas: Sequence[float],
                  cv_folds: int, seed: int) -> LinearDatamodel:
    """Pick alpha by K-fold CV maximising Spearman on held-out folds (as the authors did), then refit
    on all rows. y is standardised first so one alpha grid fits every behaviour's scale."""
    from sklearn.model_selection import KFold

    X = masks.astype(np.float64)
    y = np.asarray(y, dtype=np.float64)
    if len(y) < 2 or not np.all(np.isfinite(y)):
        raise ValueError(f"datamodel: need >= 2 finite behaviours, got {len(y)} (non-finite: {int((~np.isfinite(y)).sum())})")
    mu, sd = float(y.mean()), float(y.std()) or 1.0
    z = (y - mu) / sd
    folds = min(cv_folds, len(y))
    best_alpha, best_score = float(alphas[0]), -np.inf
    if folds >= 2:
        kf = KFold(folds, shuffle=True, random_state=seed)
        for alpha in alphas:
            pred = np.empty_like(z)
            for tr, te in kf.split(X):
                pred[te] = _estimator(estimator, alpha).fit(X[tr], z[tr]).predict(X[te])
            score = spearman(pred, z)
            score = -1.0 if np.isnan(score) else score
            if score > best_score:
                best_alpha, best_score = float(alpha), score
    model = _estimator(estimator, best_alpha).fit(X, z)
    return LinearDatamodel(estimator, mu + sd * float(model.intercept_), sd * np.asarray(model.coef_, dtype=np.float64),
                           best_alpha, float(best_score))


def helpfulness(coef: np.ndarray, lower_is_better: bool) -> np.ndarray:
    """Score with 'higher = the unit makes the model better' whatever the behaviour's direction."""
    return -coef if lower_is_better else coef.copy()


def ranks(scores: np.ndarray) -> np.ndarray:
    """1 = most helpful; ties broken by position."""
    order = np.argsort(-scores, kind="stable")
    r = np.empty(len(scores), dtype=np.int64)
    r[order] = np.arange(1, len(scores) + 1)
    return r
