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
  absolute differences, identified;
- trak, dtrak, pixel, feature: the cheap baselines (lib/diffattr/attribution/baselines), fitted on no model:
  their unit support comes from the baselines stage, signed into this convention; not identified.

To add an estimator: write its fit (matrix rows of its family -> Attribution) and register it in
ESTIMATORS with the family it is fitted on and the families it also needs; add its name to
datamodel.estimators' enum in config/schema.yaml. Every stage after the matrix (datamodel, lds,
estimators, cf_plan, figures) then reports it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..core.families import EMPTY
from ..core.settings import DatamodelFit, Datamodels
from .baselines import BASELINES
from .datamodel import Attribution, fit_datamodel, level_identified
from .matrix import Matrix

# The family of an estimator fitted on no model (a baseline: its scores come from the baselines stage).
NO_FAMILY = "none"


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
    return Attribution(
        "banzhaf",
        intercept,
        coef,
        len(y),
        {"min_in": int(n_in.min()), "min_out": int(n_out.min())},
        level_identified(X),
    )


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
    return Attribution(
        "shapley",
        float(v_empty),
        phi,
        len(r),
        {"v_full": float(v_full), "v_empty": float(v_empty), "sum": float(phi.sum())},
        True,
    )


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


@dataclass(frozen=True)
class Fit:
    """What an estimator is fitted on: its family's masks and behaviours, the behaviour of the model
    unlearned on every unit and of the untrained one, and the fit's settings (its estimator's name)."""

    settings: DatamodelFit
    masks: np.ndarray
    y: np.ndarray
    v_full: Callable[[], float]
    v_empty: Callable[[], float]
    # For the baselines, which fit on no model: the behaviour, the matrix's units and each baseline's
    # unit support (method -> {unit id: support}, the baselines stage's scores).
    target: str = ""
    unit_ids: Sequence[str] = ()
    supports: Mapping[str, Mapping[str, float]] | None = None

    @property
    def name(self) -> str:
        return self.settings.estimator


def _datamodel(f: Fit) -> Attribution:
    if len(f.y) < 2:
        raise ValueError(f"{f.name}: only {len(f.y)} unlearned train models; need at least 2")
    return fit_datamodel(f.masks, f.y, f.settings)


def _banzhaf(f: Fit) -> Attribution:
    if len(f.y) < 2:
        raise ValueError(f"banzhaf: only {len(f.y)} uniform-subset models; raise subsets.n_uniform")
    return banzhaf_msr(f.masks, f.y)


def _shapley(f: Fit) -> Attribution:
    if len(f.y) < 2:
        raise ValueError(f"shapley: only {len(f.y)} kernel-subset models; raise subsets.n_kernel")
    return kernel_shap(f.masks, f.y, f.v_full(), f.v_empty())


def _loo(f: Fit) -> Attribution:
    return leave_one_out(f.masks, f.y, f.v_full())


def _baseline(f: Fit) -> Attribution:
    from .baselines.estimator import baseline_attribution

    return baseline_attribution(f.name, f.supports, f.unit_ids, f.target)


@dataclass(frozen=True)
class Estimator:
    family: str  # the subset family it is fitted on (families.FAMILIES)
    fit: Callable[[Fit], Attribution]
    # Whether it identifies the level of its values on its family as drawn (subsets.py): the train
    # family is alpha-sized, so the datamodels do not; uniform subsets vary in size; Shapley's
    # efficiency constraint and leave-one-out's differences from the full model pin it.
    # Attribution.level_identified tests the fitted masks themselves; this serves what must be fixed
    # before any model exists (the report's labels), and the figures stage checks they agree.
    level_by_design: bool
    needs: tuple[str, ...] = ()  # other rows it reads: "full" (unlearned on every unit), "empty" (untrained)


ESTIMATORS: dict[str, Estimator] = {
    "ridge": Estimator("train", _datamodel, False),
    "lasso": Estimator("train", _datamodel, False),
    "banzhaf": Estimator("uniform", _banzhaf, True),
    "shapley": Estimator("kernel", _shapley, True, needs=("full", EMPTY)),
    "loo": Estimator("loo", _loo, True, needs=("full",)),
    # The cheap baselines (lib/diffattr/attribution/baselines): their level is never identified, as no model was
    # trained without the unit.
    **{name: Estimator(NO_FAMILY, _baseline, False) for name in BASELINES},
}
# Linear datamodels fitted by regression (the paper's; the equal-compute comparison refits one).
DATAMODELS = tuple(name for name, e in ESTIMATORS.items() if e.fit is _datamodel)
FAMILY_OF = {name: e.family for name, e in ESTIMATORS.items()}
LEVEL_BY_DESIGN = {name: e.level_by_design for name, e in ESTIMATORS.items()}


def _one(m: Matrix, behaviour: np.ndarray, family: str, source: str = "unlearn") -> float:
    rows = m.rows(source, family)
    if len(rows) != 1:
        raise ValueError(f"matrix: expected one {family!r} model, found {len(rows)}; rerun the 'matrix' rule")
    return float(behaviour[rows[0]])


def fit_estimator(
    m: Matrix, target: str, fit: DatamodelFit, baselines: Mapping[str, Mapping[str, float]] | None = None
) -> Attribution:
    """Fit estimator `fit.estimator` on its family's rows of the matrix for behaviour `target`; a
    baseline takes its unit support from `baselines` (method -> {unit id: support}, the baselines
    stage's); ridge and lasso use the rest of `fit` (alphas, folds, seed, lasso's path)."""
    name = fit.estimator
    if name not in ESTIMATORS:
        raise ValueError(f"datamodel.estimators: unknown estimator {name!r}; use one of {list(ESTIMATORS)}")
    y = m.behaviour(target)
    rows = m.rows("unlearn", ESTIMATORS[name].family)
    return ESTIMATORS[name].fit(
        Fit(
            fit,
            m.masks[rows],
            y[rows],
            lambda: _one(m, y, "full"),
            lambda: _one(m, y, EMPTY, "init"),
            target=target,
            unit_ids=m.unit_ids,
            supports=baselines,
        )
    )


def fit_estimators(
    m: Matrix,
    target: str,
    datamodels: Datamodels,
    baselines: Mapping[str, Mapping[str, float]] | None = None,
) -> dict[str, Attribution]:
    """Every estimator of `datamodels` fitted for behaviour `target` with its fit (`datamodels.fit`),
    by name."""
    return {name: fit_estimator(m, target, datamodels.fit(name), baselines) for name in datamodels.estimators}
