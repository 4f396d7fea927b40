"""Stages after the models: the HDF5 matrix, the datamodels and the LDS (no torch import)."""

from __future__ import annotations

import csv
import io
import json
import os
import platform
from importlib import metadata
from typing import Any, Mapping, Sequence

import numpy as np

from .atomic import read_json, write_json, write_text
from .datamodel import helpfulness, ranks
from .estimators import FAMILY_OF, Attribution, fit_estimators
from .lds import bootstrap_ci, lds, paired_gap_ci
from .matrix import Matrix, read_matrix, write_matrix

PathLike = str | os.PathLike
PACKAGES = ("torch", "diffusers", "torch-fidelity", "torch-pruning", "numpy", "scikit-learn", "h5py", "snakemake")


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def build_matrix(rows: Sequence[tuple[str, Mapping[str, Any], PathLike]], out_h5: PathLike, config_hash: str,
                 subset_report: Mapping[str, Any] | None = None) -> Matrix:
    """rows: (source, subset record, behaviour JSON), one per model: the used subsets only.
    `subset_report` (plan.subset_report: per family the candidates, the ones skipped for equalling
    a test subset, redraws) is kept as the JSON attribute `subsets`, for lds.json and the manifest."""
    masks, behaviours, sids, sources, seconds = [], [], [], [], []
    names: list[str] | None = None
    for source, sub, behaviour_json in rows:
        beh = read_json(behaviour_json)
        if names is None:
            names = sorted(beh["metrics"])
        if sorted(beh["metrics"]) != names:
            raise ValueError(f"{behaviour_json}: metrics {sorted(beh['metrics'])} differ from {names}")
        mask = np.zeros(sub["n_units"], dtype=bool)
        mask[sub["unit_indices"]] = True
        masks.append(mask)
        behaviours.append([beh["metrics"][n] for n in names])
        sids.append(sub["id"])
        sources.append(source)
        seconds.append(float(beh.get("train_seconds") or np.nan))
    first_sub = rows[0][1]
    attrs = {"config_hash": config_hash, "unit": first_sub["unit"], "alpha": first_sub["alpha"],
             "package_versions": str(package_versions())}
    if subset_report is not None:
        attrs["subsets"] = json.dumps(subset_report, sort_keys=True)
    m = Matrix(np.array(masks), np.array(behaviours, dtype=np.float64), names or [], _unit_ids(rows),
               sids, sources, np.array(seconds), attrs)
    write_matrix(out_h5, m)
    return m


def _unit_ids(rows) -> list[str]:
    """Unit ids as named in the subset files (each names the units it holds; a unit that no subset
    holds keeps a positional name)."""
    names: dict[int, str] = {}
    n = 0
    for _, sub, _ in rows:
        n = sub["n_units"]
        names.update(zip(sub["unit_indices"], sub["unit_ids"]))
    return [names.get(i, f"unit-{i}") for i in range(n)]


def fit_all(matrix_h5: PathLike, target: str, estimators: Sequence[str], primary: str, cfg: Mapping[str, Any],
            lower_is_better: bool, out_csv: PathLike, out_json: PathLike, out_h5: PathLike) -> dict[str, Attribution]:
    """Fit each estimator on its subset family; attributions CSV for the primary one."""
    m = read_matrix(matrix_h5)
    fitted = fit_estimators(m, target, estimators, cfg)
    extra = {}
    for name, att in fitted.items():
        score = helpfulness(att.coef, lower_is_better)
        extra[f"attributions/{name}"] = {"unit_ids": np.array(m.unit_ids, dtype=object), "coefficient": att.coef,
                                         "score": score, "rank": ranks(score), "intercept": np.array(att.intercept)}
    write_matrix(out_h5, m, extra)
    att = fitted[primary]
    score = helpfulness(att.coef, lower_is_better)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["unit_id", "coefficient", "score", "rank"])
    for uid, c, s, r in sorted(zip(m.unit_ids, att.coef, score, ranks(score)), key=lambda t: t[3]):
        w.writerow([uid, f"{c:.6g}", f"{s:.6g}", r])
    write_text(out_csv, buf.getvalue())
    write_json(out_json, {
        "target": target, "primary": primary, "lower_is_better": lower_is_better,
        "n_train_models": int(fitted[primary].n_models),
        "score_convention": "score = -coefficient when lower is better (else coefficient): higher score = the unit "
                            "makes the model better; rank 1 = most helpful",
        "estimators": {name: {**a.info, "family": FAMILY_OF[name], "n_models": a.n_models, "intercept": a.intercept,
                              "coefficients": dict(zip(m.unit_ids, a.coef.tolist()))} for name, a in fitted.items()},
    })
    return fitted


def lds_of(att_coef: np.ndarray, intercept: float, masks: np.ndarray, actual: np.ndarray, n_boot: int, level: float,
           seed: int) -> dict[str, Any]:
    pred = intercept + masks.astype(float) @ att_coef
    lo, hi = bootstrap_ci(pred, actual, n_boot, level, seed)
    return {"lds": lds(pred, actual), "ci95": [lo, hi], "predicted": pred.tolist(), "n_test_models": int(len(actual))}


def evaluate_lds(datamodel_json: PathLike, matrix_h5: PathLike, n_boot: int, level: float, seed: int,
                 out_json: PathLike) -> dict[str, Any]:
    """LDS of every fitted estimator on the retrained test models, with a bootstrap CI; also on the
    alpha 0.25 / 0.75 test families when the matrix has them."""
    dm = read_json(datamodel_json)
    m = read_matrix(matrix_h5)
    rows = m.rows("retrain")
    if len(rows) < 3:
        raise ValueError(f"{matrix_h5}: only {len(rows)} retrained test models; the LDS needs at least 3")
    y = m.behaviour(dm["target"])
    actual = y[rows]
    per_est = {}
    for name, est in dm["estimators"].items():
        coef = np.array([est["coefficients"][u] for u in m.unit_ids])
        per_est[name] = lds_of(coef, est["intercept"], m.masks[rows], actual, n_boot, level, seed)
        for family in m.families("retrain"):
            extra_rows = m.rows("retrain", family)
            if family != "test" and len(extra_rows) >= 3:
                res = lds_of(coef, est["intercept"], m.masks[extra_rows], y[extra_rows], n_boot, level, seed)
                per_est[name].setdefault("other_alphas", {})[family] = {k: res[k] for k in ("lds", "ci95", "n_test_models")}
    primary = per_est[dm["primary"]]
    out = {"lds": primary["lds"], "ci95": primary["ci95"], "ci_level": level, "n_bootstrap": n_boot,
           "estimator": dm["primary"], "behaviour": dm["target"], "lower_is_better": dm["lower_is_better"],
           "n_train_models": dm["n_train_models"], "n_test_models": int(len(rows)),
           "sign_convention": "Spearman(predicted behaviour, actual behaviour) over models retrained from scratch on "
                              "held-out subsets; +1 = perfect ranking, whatever the behaviour's direction",
           "test_subsets": [m.subset_ids[i] for i in rows], "actual": actual.tolist(), "estimators": per_est,
           "subsets": subsets_drawn(m)}
    write_json(out_json, out)
    return out


def subsets_drawn(m: Matrix) -> dict[str, Any]:
    """Per family: candidates drawn, used, skipped for equalling a test subset (ids), redrawn for
    equalling an earlier subset of the family, kernel duplicates kept (empty for older matrices)."""
    return json.loads(m.attrs.get("subsets", "{}"))


TEST_ALPHA = {"test": None, "test25": 0.25, "test75": 0.75}


def estimator_table(matrix_h5: PathLike, estimators: Sequence[str], cfg: Mapping[str, Any], n_boot: int, level: float,
                    seed: int, out_csv: PathLike, out_json: PathLike) -> list[dict[str, Any]]:
    """Estimator x behaviour -> LDS (CI) on every test family of the matrix: each estimator is refitted
    for each behaviour the matrix holds, all on the same models. Per behaviour and test family, the
    estimator with the highest LDS is the winner; every other row carries its gap to the winner with
    a paired bootstrap CI (the winner's row: gap 0, no CI)."""
    m = read_matrix(matrix_h5)
    alpha = float(m.attrs.get("alpha", 0.5))
    rows_out = []
    for behaviour in m.behaviour_names:
        y = m.behaviour(behaviour)
        fitted = fit_estimators(m, behaviour, estimators, cfg)
        for family in m.families("retrain"):
            rows = m.rows("retrain", family)
            if len(rows) < 3:
                continue
            res = {name: lds_of(att.coef, att.intercept, m.masks[rows], y[rows], n_boot, level, seed)
                   for name, att in fitted.items()}
            best = max(res, key=lambda n: -np.inf if np.isnan(res[n]["lds"]) else res[n]["lds"])
            for name, att in fitted.items():
                r = res[name]
                gap_ci = (paired_gap_ci(res[best]["predicted"], r["predicted"], y[rows], n_boot, level, seed)
                          if name != best else (float("nan"), float("nan")))
                rows_out.append({"estimator": name, "behaviour": behaviour,
                                 "alpha": TEST_ALPHA.get(family) or alpha, "lds": r["lds"],
                                 "ci_low": r["ci95"][0], "ci_high": r["ci95"][1],
                                 "n_fit_models": att.n_models, "n_test_models": r["n_test_models"],
                                 "winner": best, "gap_to_winner": res[best]["lds"] - r["lds"],
                                 "gap_ci_low": gap_ci[0], "gap_ci_high": gap_ci[1]})
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["estimator", "behaviour", "alpha", "lds", "ci_low", "ci_high", "n_fit_models", "n_test_models",
                "gap_to_winner", "gap_ci_low", "gap_ci_high"])
    for r in rows_out:
        w.writerow([r["estimator"], r["behaviour"], f"{r['alpha']:g}", f"{r['lds']:.3f}", f"{r['ci_low']:.3f}",
                    f"{r['ci_high']:.3f}", r["n_fit_models"], r["n_test_models"], f"{r['gap_to_winner']:.3f}",
                    "" if np.isnan(r["gap_ci_low"]) else f"{r['gap_ci_low']:.3f}",
                    "" if np.isnan(r["gap_ci_high"]) else f"{r['gap_ci_high']:.3f}"])
    write_text(out_csv, buf.getvalue())
    write_json(out_json, {"ci_level": level, "n_bootstrap": n_boot, "rows": rows_out})
    return rows_out
