"""Why does one estimator beat another on a finished matrix? Three measurements, no new models:
- split_half: fit each estimator on two disjoint random halves of its subset family and correlate
  the two coefficient vectors (Spearman; mean over repeats). Near 0 = the estimate is noise at
  this number of models;
- ridge_by_family: the ridge datamodel fitted on each family's models in turn (alpha-sized
  `train`, Bernoulli(1/2) `uniform`, Shapley-kernel `kernel`) and scored by the LDS on the same
  retrained test models: separates "wrong subset distribution" from "wrong estimator";
- behaviour_by_size: mean behaviour of the unlearned models by subset size (how far from linear
  the behaviour is in the number of units, which every linear estimator assumes);
- coef_spearman: Spearman correlation between the estimators' coefficient vectors.
Writes bench/out/estimator_diagnostics.json.
Usage: python bench/estimator_diagnostics.py MATRIX.h5 [--behaviour fid] [--repeats 20]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import yaml

from diffattr.attribution.datamodel import fit_datamodel
from diffattr.attribution.estimators import FAMILY_OF, banzhaf_msr, fit_estimator, kernel_shap
from diffattr.attribution.matrix import read_matrix
from diffattr.core.atomic import write_json
from diffattr.core.settings import DatamodelFit
from diffattr.core.stats import lds, spearman

# The default config's regularisation grid, so the refits here match the workflow's.
CONFIG = Path(__file__).resolve().parents[1] / "config" / "config.yaml"
ALPHAS = yaml.safe_load(CONFIG.read_text())["datamodel"]["alphas"]


def _half_fit(name: str, X: np.ndarray, y: np.ndarray, v_full: float, v_empty: float, seed: int) -> np.ndarray:
    if name in ("ridge", "lasso"):
        return fit_datamodel(X, y, DatamodelFit(name, ALPHAS, 5, seed)).coef
    if name == "banzhaf":
        return banzhaf_msr(X, y).coef
    return kernel_shap(X, y, v_full, v_empty).coef


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("matrix")
    ap.add_argument("--behaviour", default="fid")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--out", default="bench/out/estimator_diagnostics.json")
    args = ap.parse_args()

    m = read_matrix(args.matrix)
    y = m.behaviour(args.behaviour)
    test = m.rows("retrain", "test")
    families = m.families("unlearn")
    present = [e for e in ("ridge", "lasso", "banzhaf", "shapley", "loo") if FAMILY_OF[e] in families]
    fitted = {e: fit_estimator(m, args.behaviour, DatamodelFit(e, ALPHAS, 5, 0)) for e in present}
    out: dict = {
        "matrix": str(args.matrix),
        "behaviour": args.behaviour,
        "units": len(m.unit_ids),
        "n_test_models": len(test),
    }
    out["lds"] = {e: lds(a.predict(m.masks[test]), y[test]) for e, a in fitted.items()}

    v_full = float(y[m.rows("unlearn", "full")[0]]) if "full" in families else float("nan")
    empty = m.rows("init", "empty")
    v_empty = float(y[empty[0]]) if len(empty) else float("nan")
    rng = np.random.RandomState(0)
    split = {}
    for e in [e for e in present if e != "loo"]:
        rows = m.rows("unlearn", FAMILY_OF[e])
        rs = []
        for r in range(args.repeats):
            perm = rng.permutation(rows)
            a, b = perm[: len(perm) // 2], perm[len(perm) // 2 :]
            try:
                rs.append(
                    spearman(
                        _half_fit(e, m.masks[a], y[a], v_full, v_empty, r),
                        _half_fit(e, m.masks[b], y[b], v_full, v_empty, r),
                    )
                )
            except ValueError:  # a half where some unit is always in or out (Banzhaf)
                continue
        split[e] = {
            "mean_spearman": float(np.nanmean(rs)) if rs else None,
            "repeats": len(rs),
            "models_per_half": len(rows) // 2,
        }
    out["split_half"] = split

    out["ridge_by_family"] = {}
    for fam in [f for f in ("train", "uniform", "kernel") if f in families]:
        rows = m.rows("unlearn", fam)
        dm = fit_datamodel(m.masks[rows], y[rows], DatamodelFit("ridge", ALPHAS, 5, 0))
        out["ridge_by_family"][fam] = {"lds": lds(dm.predict(m.masks[test]), y[test]), "n_models": len(rows)}

    unl = np.concatenate([m.rows("unlearn", f) for f in families])
    sizes = m.masks[unl].sum(1)
    by_size = None
    if len(m.unit_ids) <= 50:  # group units; with samples nearly every model has its own size
        by_size = {
            int(s): {"mean": float(y[unl][sizes == s].mean()), "n": int((sizes == s).sum())} for s in np.unique(sizes)
        }
        if len(empty):
            by_size = {0: {"mean": v_empty, "n": 1}, **by_size}
    out["behaviour_by_size"] = by_size
    out["coef_spearman"] = {
        f"{a}~{b}": spearman(fitted[a].coef, fitted[b].coef) for i, a in enumerate(present) for b in present[i + 1 :]
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, out)
    print(args.out)


if __name__ == "__main__":
    main()
