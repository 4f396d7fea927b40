"""Attribution estimators over the mask/behaviour matrix, each on the subset family it needs.

Every estimator returns the change of the behaviour when a unit is included (the datamodel's
convention), so one LDS and one ranking code path serve them all, and says whether its fit
identifies the level of that change (its absolute sign) or only differences between units:
- ridge / lasso: linear datamodel on the alpha-sized `train` family (scikit-learn, CV on Spearman);
  the level is identified only where the fitted subsets' sizes vary, never on alpha-sized subsets;
- banzhaf: maximum sample reuse on the `uniform` family (Wang & Jia 2023): mean behaviour of the
  subsets holding the unit minus that of the subsets without it; identified on subsets of varying
  size (on equal-sized ones it, too, sums to 0);
- shapley: KernelSHAP on the `kernel` family, the least-squares fit constrained so that the values
  sum to v(full) - v(empty) (Lundberg & Lee 2017; Lu et al. 2025), v(full) from the model unlearned
  on every unit and v(empty) from the untrained model; the constraint identifies the level;
- loo: v(full) - v(all units but this one), one unlearned model per unit (group units only);
  absolute differences, identified.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from .baselines import BASELINES
from .datamodel import fit_datamodel, level_identified
from .matrix import Matrix

DATAMODELS = ("ridge", "lasso")
# The baselines (trak, dtrak, pixel, feature) fit on no model: their scores come from the baselines stage.
ESTIMATORS = ("ridge", "lasso", "banzhaf", "shapley", "loo", *BASELINES)
# The subset family each estimator is fitted on (full/empty rows are added where needed).
FAMILY_OF = {"ridge": "train", "lasso": "train", "banzhaf": "uniform", "shapley": "kernel", "loo": "loo",
             **{name: "none" for name in BASELINES}}
# Whether each estimator identifies the level of its values on its family as drawn (subsets.py):
# the train family is alpha-sized, so the datamodels do not; uniform subsets vary in size;
# Shapley's efficiency constraint and leave-one-out's differences from the full model pin it.
# Attribution.level_identified tests the fitted masks themselves; this table serves what must be
# fixed before any model exists (the report's labels), and the figures stage checks they agree.
LEVEL_BY_DESIGN = {"ridge": False, "lasso": False, "banzhaf": True, "shapley": True, "loo": True,
                   **{name: False for name in BASELINES}}


@dataclass(frozen=True)
class Attribution:
    estimator: str
    intercept: float
    coef: np.ndarray  # change of the behaviour when the unit is included
    n_models: int
    info: dict[str, Any] = field(default_factory=dict)
    # Whether the fit pins the absolute sign of a coefficient; if not, only differences between
    # units (ranks, scores relative to the average unit) mean anything. False unless shown.
    level_identified: bool = False

    def predict(self, masks: np.ndarray) -> np.ndarray:
        return self.intercept + masks.astype(np.float64) @ self.coef


def banzhaf_msr(masks: np.ndarray, y: np.ndarray) -> Attribution:
    """Banzhaf values by maximum sample reuse: every model informs every unit's estimate."""
    X = masks.astype(bool)
    y = np.asarray(y, np.float64)
    n_in = X.sum(0)
    n_out = len(y) - n_in
    if np.any(n_in == 0) or np.any(n_out == 0):
        bad = int(np.flatnonzero((n_in == 0) | (n_out == 0))[0])
        raise ValueError(f"banzhaf: unit {bad} is in every or in no uniform subset; raise subsets.n_uniform")
    coef = (X.T.astype(np.float64) @ y) / n_in - ((~X).T.astype(np.float64) @ y) / n_out
    intercept = float(y.mean() - X.mean(0) @ coef)
    return Attribution("banzhaf", intercept, coef, len(y), {"min_in": int(n_in.min()), "min_out": int(n_out.min())},
                       level_identified(X))


def kernel_shap(masks: np.ndarray, y: np.ndarray, v_full: float, v_empty: float) -> Attribution:
    """Constrained KernelSHAP on subsets whose sizes were drawn from the Shapley kernel (so the
    regression is unweighted): min ||Z phi - (y - v_empty)||^2 s.t. sum(phi) = v_full - v_empty,
    solved through its KKT system; with fewer models than units the minimum-norm solution."""
    Z = masks.astype(np.float64)
    r = np.asarray(y, np.float64) - v_empty
    n = Z.shape[1]
    kkt = np.zeros((n + 1, n + 1))
    kkt[:n, :n] = 2 * Z.T @ Z / len(r)
    kkt[:n, n] = kkt[n, :n] = 1.0
    rhs = np.concatenate([2 * Z.T @ r / len(r), [v_full - v_empty]])
    phi = np.linalg.lstsq(kkt, rhs, rcond=None)[0][:n]
    return Attribution("shapley", float(v_empty), phi, len(r),
                       {"v_full": float(v_full), "v_empty": float(v_empty), "sum": float(phi.sum())}, True)


def leave_one_out(masks: np.ndarray, y: np.ndarray, v_full: float) -> Attribution:
    """v(full) - v(full without unit i); rows must leave out exactly one unit each, every unit once."""
    X = masks.astype(bool)
    left_out = [np.flatnonzero(~row) for row in X]
    if any(len(lo) != 1 for lo in left_out):
        raise ValueError("loo: every leave-one-out subset must miss exactly one unit")
    idx = np.array([lo[0] for lo in left_out])
    if len(set(idx.tolist())) != len(idx) or len(idx) != X.shape[1]:
        missing = sorted(set(range(X.shape[1])) - set(idx.tolist()))
        raise ValueError(f"loo: units {missing[:5]} have no leave-one-out model (excluded or failed); rerun them")
    coef = np.empty(X.shape[1])
    coef[idx] = v_full - np.asarray(y, np.float64)
    return Attribution("loo", float(v_full - coef.sum()), coef, len(y), {"v_full": float(v_full)}, True)


def _one(m: Matrix, behaviour: np.ndarray, family: str, source: str = "unlearn") -> float:
    rows = m.rows(source, family)
    if len(rows) != 1:
        raise ValueError(f"matrix: expected one {family!r} model, found {len(rows)}; rerun the 'matrix' rule")
    return float(behaviour[rows[0]])


def fit_estimator(m: Matrix, target: str, name: str, alphas: Sequence[float], cv_folds: int, seed: int,
                  baselines: Mapping[str, Mapping[str, float]] | None = None) -> Attribution:
    """Fit one estimator on its family's rows of the matrix for behaviour `target`; a baseline takes
    its unit support from `baselines` (method -> {unit id: support}, the baselines stage's)."""
    if name in BASELINES:
        from .baselines.estimator import baseline_attribution

        return baseline_attribution(name, baselines, m.unit_ids, target)
    y = m.behaviour(target)
    rows = m.rows("unlearn", FAMILY_OF[name])
    if name in DATAMODELS:
        if len(rows) < 2:
            raise ValueError(f"{name}: only {len(rows)} unlearned train models; need at least 2")
        dm = fit_datamodel(m.masks[rows], y[rows], name, alphas, cv_folds, seed)
        return Attribution(name, dm.intercept, dm.coef, len(rows),
                           {"alpha": dm.alpha, "cv_spearman": dm.cv_spearman, "cv_signal": dm.cv_signal},
                           level_identified(m.masks[rows]))
    if name == "banzhaf":
        if len(rows) < 2:
            raise ValueError(f"banzhaf: only {len(rows)} uniform-subset models; raise subsets.n_uniform")
        return banzhaf_msr(m.masks[rows], y[rows])
    if name == "shapley":
        if len(rows) < 2:
            raise ValueError(f"shapley: only {len(rows)} kernel-subset models; raise subsets.n_kernel")
        return kernel_shap(m.masks[rows], y[rows], _one(m, y, "full"), _one(m, y, "empty", "init"))
    if name == "loo":
        return leave_one_out(m.masks[rows], y[rows], _one(m, y, "full"))
    raise ValueError(f"datamodel.estimators: unknown estimator {name!r}; use one of {list(ESTIMATORS)}")


def fit_estimators(m: Matrix, target: str, names: Sequence[str], cfg: Mapping[str, Any],
                   baselines: Mapping[str, Mapping[str, float]] | None = None) -> dict[str, Attribution]:
    return {name: fit_estimator(m, target, name, cfg["alphas"], int(cfg["cv_folds"]), int(cfg["seed"]), baselines)
            for name in names}
