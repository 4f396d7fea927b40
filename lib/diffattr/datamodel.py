"""Linear datamodels g(1_S) = b0 + beta . 1_S fitted with scikit-learn, regularisation by CV."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


@dataclass(frozen=True)
class Attribution:
    """A fitted attribution, the one type every estimator returns: behaviour ~ intercept + masks @ coef."""

    estimator: str
    intercept: float
    coef: np.ndarray  # change of the behaviour when the unit is included
    n_models: int
    info: dict[str, Any] = field(default_factory=dict)  # the estimator's own diagnostics (alpha, CV, ...)
    # Whether the fit pins the absolute sign of a coefficient; if not, only differences between
    # units (ranks, scores relative to the average unit) mean anything. False unless shown.
    level_identified: bool = False

    def predict(self, masks: np.ndarray) -> np.ndarray:
        return self.intercept + masks.astype(np.float64) @ self.coef

    @classmethod
    def from_record(cls, name: str, record: Mapping[str, Any], unit_ids: Sequence[str]) -> Attribution:
        """An estimator's entry in datamodel.json (coefficients by unit id), in `unit_ids` order."""
        coef = np.array([record["coefficients"][u] for u in unit_ids])
        return cls(
            name,
            record["intercept"],
            coef,
            int(record.get("n_models", 0)),
            level_identified=bool(record.get("level_identified", False)),
        )


def _estimator(name: str, alpha: float):
    from sklearn.linear_model import Lasso, Ridge

    if name == "ridge":
        return Ridge(alpha=alpha)
    if name == "lasso":
        return Lasso(alpha=alpha, max_iter=50_000)
    raise ValueError(f"datamodel.estimators: unknown estimator {name!r}; use 'ridge' or 'lasso'")


def _cv_scores(X: np.ndarray, z: np.ndarray, estimator: str, alpha: float, kf) -> tuple[float, float]:
    """Pooled out-of-fold Spearman and its standard error from the per-fold Spearmans."""
    pred = np.empty_like(z)
    per_fold = []
    for tr, te in kf.split(X):
        pred[te] = _estimator(estimator, alpha).fit(X[tr], z[tr]).predict(X[te])
        per_fold.append(spearman(pred[te], z[te]))
    score = spearman(pred, z)
    finite = [v for v in per_fold if np.isfinite(v)]
    se = float(np.std(finite, ddof=1) / np.sqrt(len(finite))) if len(finite) >= 2 else float("inf")
    return (-1.0 if np.isnan(score) else score), se


def choose_alpha(scores: Sequence[float], ses: Sequence[float], alphas: Sequence[float]) -> tuple[float, bool]:
    """The alpha with the best CV Spearman, unless that score is within one standard error of 0:
    then the largest alpha. Spearman ignores the scale of the predictions, so on pure noise every
    alpha ranks equally badly and the plain maximum picks the least regularised fit most of the
    time; without evidence of signal, the most regularised fit is the honest one."""
    best = int(np.argmax(scores))
    if scores[best] - ses[best] <= 0:
        return float(max(alphas)), False
    return float(alphas[best]), True


def fit_datamodel(
    masks: np.ndarray, y: np.ndarray, estimator: str, alphas: Sequence[float], cv_folds: int, seed: int
) -> Attribution:
    """Pick alpha by K-fold CV on the Spearman of held-out folds (as the authors did; see
    choose_alpha for the no-signal case), then refit on all rows. y is standardised first so one
    alpha grid fits every behaviour's scale. info: the alpha, its pooled out-of-fold Spearman and
    whether that stood one fold-SE above 0 (cv_signal)."""
    from sklearn.model_selection import KFold

    X = masks.astype(np.float64)
    y = np.asarray(y, dtype=np.float64)
    if len(y) < 2 or not np.all(np.isfinite(y)):
        raise ValueError(
            f"datamodel: need >= 2 finite behaviours, got {len(y)} (non-finite: {int((~np.isfinite(y)).sum())})"
        )
    mu, sd = float(y.mean()), float(y.std()) or 1.0
    z = (y - mu) / sd
    folds = min(cv_folds, len(y))
    best_alpha, score, signal = float(alphas[0]), float("nan"), False
    if folds >= 2:
        kf = KFold(folds, shuffle=True, random_state=seed)
        scores, ses = zip(*(_cv_scores(X, z, estimator, alpha, kf) for alpha in alphas))
        best_alpha, signal = choose_alpha(scores, ses, alphas)
        score = float(scores[list(alphas).index(best_alpha)])
    model = _estimator(estimator, best_alpha).fit(X, z)
    return Attribution(
        estimator,
        mu + sd * float(model.intercept_),
        sd * np.asarray(model.coef_, dtype=np.float64),
        len(y),
        {"alpha": best_alpha, "cv_spearman": score, "cv_signal": signal},
        level_identified(masks),
    )


def level_identified(masks: np.ndarray) -> bool:
    """Whether a fit of behaviour ~ intercept + masks identifies the level of the coefficients
    (their absolute sign). Only when the subsets' sizes vary: when every row holds the same number
    of units, adding a constant to every coefficient is absorbed by the intercept (ridge on such
    masks returns coefficients summing to 0, so about half come out positive whatever the truth)."""
    sizes = np.asarray(masks).sum(axis=1)
    return len(sizes) > 1 and bool(np.ptp(sizes) > 0)


def helpfulness(coef: np.ndarray, lower_is_better: bool) -> np.ndarray:
    """Score with 'higher = the unit makes the model better' whatever the behaviour's direction."""
    return -coef if lower_is_better else coef.copy()


def relative_scores(scores: np.ndarray) -> np.ndarray:
    """Scores relative to the average unit: what a fit that does not identify the level can say."""
    scores = np.asarray(scores, dtype=np.float64)
    return scores - scores.mean()


def unit_grids(scores: np.ndarray, identified: bool, top_k: int) -> dict[str, tuple[str, list[int]]]:
    """The report's two unit lists, {"top": (title, indices), "bottom": (title, indices)}.

    With an identified level: the most helpful units (positive score) and the most harmful ones
    (negative score). Without: the highest- and lowest-ranked units, which say nothing about a
    unit's absolute effect, so nothing is called harmful (or helpful)."""
    scores = np.asarray(scores, dtype=np.float64)
    order = [int(i) for i in np.argsort(-scores, kind="stable")]
    if identified:
        return {
            "top": ("most helpful", [i for i in order if scores[i] > 0][:top_k]),
            "bottom": ("most harmful", harmful_units(scores, identified)[:top_k]),
        }
    k = min(top_k, len(order) // 2)  # disjoint lists even with few units
    return {
        "top": ("highest-ranked", order[:k]),
        "bottom": ("lowest-ranked (relative to the average unit; not harmful in absolute terms)", order[::-1][:k]),
    }


def harmful_units(scores: np.ndarray, identified: bool) -> list[int]:
    """Units whose inclusion makes the model worse in absolute terms: none from a fit that does not
    identify the level."""
    if not identified:
        return []
    scores = np.asarray(scores, dtype=np.float64)
    return [int(i) for i in np.argsort(scores, kind="stable") if scores[i] < 0]


def ranks(scores: np.ndarray) -> np.ndarray:
    """1 = most helpful; ties broken by position."""
    order = np.argsort(-scores, kind="stable")
    r = np.empty(len(scores), dtype=np.int64)
    r[order] = np.arange(1, len(scores) + 1)
    return r
