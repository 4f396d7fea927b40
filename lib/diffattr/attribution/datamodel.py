"""Linear datamodels g(1_S) = b0 + beta . 1_S fitted with scikit-learn, regularisation by CV."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.settings import DatamodelFit
from ..core.stats import spearman


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

    @property
    def ranked(self) -> bool:
        """Whether the fit ranks the units at all (see has_ranking)."""
        return has_ranking(self.coef)

    @property
    def no_ranking(self) -> str | None:
        """Why the fit ranks nothing, or None when it ranks the units."""
        if self.ranked:
            return None
        why = self.info.get("no_ranking") or "every unit's coefficient is the same"
        return f"no ranking: {why}"

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


def has_ranking(coef: np.ndarray) -> bool:
    """Whether coefficients rank the units: not all tied (e.g. lasso's all-zero fit). A tied fit
    predicts one value for every subset of a size, so it has no LDS, no top units and no ranks;
    breaking its ties by unit index would invent a ranking."""
    coef = np.asarray(coef, dtype=np.float64)
    if len(coef) < 2 or not np.all(np.isfinite(coef)):
        return False
    return bool(np.ptp(coef) > 1e-12 * max(1.0, float(np.abs(coef).max())))


def _estimator(name: str, alpha: float):
    from sklearn.linear_model import Lasso, Ridge

    if name == "ridge":
        return Ridge(alpha=alpha)
    if name == "lasso":
        return Lasso(alpha=alpha, max_iter=50_000)
    raise ValueError(f"datamodel.estimators: unknown estimator {name!r}; use 'ridge' or 'lasso'")


def held_out_spearman(model, X: np.ndarray, y: np.ndarray) -> float:
    """A fitted model's Spearman on held-out rows (a scikit-learn scorer). A constant prediction
    ranks nothing: 0, not NaN, so that it neither wins nor drops out of the mean over folds."""
    value = spearman(np.asarray(model.predict(X), np.float64), np.asarray(y, np.float64))
    return 0.0 if np.isnan(value) else value


def _cv_scores(X: np.ndarray, z: np.ndarray, estimator: str, alpha: float, kf) -> tuple[float, float]:
    """The mean over folds of the held-out Spearman, and its standard error over the folds. Each
    fold's predictions are scored on their own: pooling them across folds would rank fold-specific
    intercepts, which score even a constant predictor below 0 (each fold's intercept is the mean
    of the other folds, so it is low where the held-out fold is high)."""
    from sklearn.model_selection import cross_val_score

    per_fold = cross_val_score(_estimator(estimator, alpha), X, z, cv=kf, scoring=held_out_spearman)
    se = float(np.std(per_fold, ddof=1) / np.sqrt(len(per_fold))) if len(per_fold) >= 2 else float("inf")
    return float(np.mean(per_fold)), se


def choose_alpha(scores: Sequence[float], ses: Sequence[float], alphas: Sequence[float]) -> tuple[float, bool]:
    """The alpha with the best CV Spearman, unless that score is within one standard error of 0:
    then the largest alpha. Spearman ignores the scale of the predictions, so on pure noise every
    alpha ranks equally badly and the plain maximum picks the least regularised fit most of the
    time; without evidence of signal, the most regularised fit is the honest one."""
    best = int(np.argmax(scores))
    if scores[best] - ses[best] <= 0:
        return float(max(alphas)), False
    return float(alphas[best]), True


def lasso_alphas(X: np.ndarray, z: np.ndarray, n_alphas: int, eps: float) -> list[float]:
    """Lasso's grid, scikit-learn's: n_alphas from alpha_max (the smallest alpha at which every
    coefficient is 0) down to eps * alpha_max, log-spaced, on the centred data (the intercept is
    not penalised). A fixed grid would put most of its values above alpha_max, where every fit is
    identically 0; this one reaches non-zero fits wherever the data hold a signal."""
    from sklearn.linear_model import lasso_path

    Xc, zc = X - X.mean(axis=0), z - z.mean()
    if not np.any(Xc) or not np.any(zc):
        return [1.0]  # nothing varies: every alpha gives the all-zero fit
    alphas = lasso_path(Xc, zc, eps=float(eps), alphas=int(n_alphas), max_iter=50_000)[0]
    return [float(a) for a in alphas]


def fit_datamodel(masks: np.ndarray, y: np.ndarray, fit: DatamodelFit) -> Attribution:
    """Fit `fit.estimator` (ridge or lasso): pick alpha by `fit.cv_folds`-fold CV on the Spearman of
    held-out folds (as the authors did; see choose_alpha for the no-signal case), then refit on all
    rows. y is standardised first so one alpha grid fits every behaviour's scale: `fit.alphas` for
    ridge; lasso's grid comes from the data (`fit.lasso_path`: n_alphas, eps; see lasso_alphas).
    info: the alpha, its mean held-out Spearman over the folds and whether that stood one fold-SE
    above 0 (cv_signal); for a fit that ranks nothing (lasso's most regularised one is all 0), why."""
    from sklearn.model_selection import KFold

    X = masks.astype(np.float64)
    y = np.asarray(y, dtype=np.float64)
    if len(y) < 2 or not np.all(np.isfinite(y)):
        raise ValueError(
            f"datamodel: need >= 2 finite behaviours, got {len(y)} (non-finite: {int((~np.isfinite(y)).sum())})"
        )
    mu, sd = float(y.mean()), float(y.std()) or 1.0
    z = (y - mu) / sd
    estimator, alphas = fit.estimator, list(fit.alphas)
    if estimator == "lasso":
        if not fit.lasso_path:
            raise ValueError("config key datamodel.lasso_path: lasso needs its n_alphas and eps; add them")
        alphas = lasso_alphas(X, z, fit.lasso_path["n_alphas"], fit.lasso_path["eps"])
    folds = min(fit.cv_folds, len(y))
    best_alpha, score, signal = float(alphas[0]), float("nan"), False
    if folds >= 2:
        kf = KFold(folds, shuffle=True, random_state=fit.seed)
        scores, ses = zip(*(_cv_scores(X, z, estimator, alpha, kf) for alpha in alphas))
        best_alpha, signal = choose_alpha(scores, ses, alphas)
        score = float(scores[list(alphas).index(best_alpha)])
    model = _estimator(estimator, best_alpha).fit(X, z)
    coef = sd * np.asarray(model.coef_, dtype=np.float64)
    info: dict[str, Any] = {"alpha": best_alpha, "cv_spearman": score, "cv_signal": signal}
    if not has_ranking(coef):
        info["no_ranking"] = f"{estimator} at alpha {best_alpha:.3g} sets every coefficient to {coef[0]:.3g}" + (
            "" if signal else " (no evidence of signal in the CV: the most regularised fit was taken)"
        )
    return Attribution(estimator, mu + sd * float(model.intercept_), coef, len(y), info, level_identified(masks))


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
    """1 = most helpful; ties broken by position. Only for scores that rank (has_ranking): where
    all are tied, position alone would decide."""
    if not has_ranking(scores):
        raise ValueError("ranks: every score is the same; there is no ranking to report")
    order = np.argsort(-scores, kind="stable")
    r = np.empty(len(scores), dtype=np.int64)
    r[order] = np.arange(1, len(scores) + 1)
    return r
