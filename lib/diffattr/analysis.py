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
from .datamodel import helpfulness, ranks, relative_scores
from .estimators import FAMILY_OF, Attribution, fit_estimators
from .lds import bootstrap_ci, lds, lds_ceiling, paired_gap_ci, proxy_fidelity
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
            lower_is_better: bool, out_csv: PathLike, out_json: PathLike, out_h5: PathLike,
            baselines: Mapping[str, Mapping[str, float]] | None = None) -> dict[str, Attribution]:
    """Fit each estimator on its subset family (a baseline: its support from `baselines`);
    attributions CSV for the primary one."""
    m = read_matrix(matrix_h5)
    fitted = fit_estimators(m, target, estimators, cfg, baselines)
    extra = {}
    for name, att in fitted.items():
        score = helpfulness(att.coef, lower_is_better)
        extra[f"attributions/{name}"] = {"unit_ids": np.array(m.unit_ids, dtype=object), "coefficient": att.coef,
                                         "score": score, "relative_score": relative_scores(score),
                                         "rank": ranks(score), "intercept": np.array(att.intercept),
                                         "level_identified": np.array(att.level_identified)}
    write_matrix(out_h5, m, extra)
    att = fitted[primary]
    score = helpfulness(att.coef, lower_is_better)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["unit_id", "coefficient", "score", "relative_score", "rank", "sign_identified"])
    rows = zip(m.unit_ids, att.coef, score, relative_scores(score), ranks(score))
    for uid, c, s, rel, r in sorted(rows, key=lambda t: t[4]):
        w.writerow([uid, f"{c:.6g}", f"{s:.6g}", f"{rel:.6g}", r, int(att.level_identified)])
    write_text(out_csv, buf.getvalue())
    write_json(out_json, {
        "target": target, "primary": primary, "lower_is_better": lower_is_better,
        "n_train_models": int(fitted[primary].n_models), "sign_identified": bool(att.level_identified),
        "score_convention": SCORE_CONVENTION,
        "estimators": {name: {**a.info, "family": FAMILY_OF[name], "n_models": a.n_models, "intercept": a.intercept,
                              "level_identified": bool(a.level_identified),
                              "coefficients": dict(zip(m.unit_ids, a.coef.tolist()))} for name, a in fitted.items()},
    })
    return fitted


SCORE_CONVENTION = (
    "coefficient = change of the behaviour when the unit is included; score = -coefficient when lower is better "
    "(else coefficient): higher score = the unit makes the model better; rank 1 = highest score. "
    "relative_score = score minus the mean score over units. sign_identified = 1 only when the fit pins the "
    "level (Shapley's efficiency constraint, leave-one-out, or fitted subsets of varying size); with 0 (ridge or "
    "lasso on alpha-sized subsets) only ranks and differences between units mean anything: a negative score "
    "is below the average unit, not harmful")


def metrics_by_subset(behaviour_jsons: Sequence[PathLike]) -> dict[str, dict[str, float]]:
    """Subset id (the file's stem) -> the behaviours in its behaviour JSON."""
    from pathlib import Path

    return {Path(p).stem: dict(read_json(p)["metrics"]) for p in behaviour_jsons}


def _paired(m: Matrix, rows: np.ndarray, behaviour: str, other: Mapping[str, Mapping[str, float]]
            ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The matrix's value of `behaviour` on `rows` against the other model's on the same subsets,
    for the subsets both have (in matrix order)."""
    y = m.behaviour(behaviour)
    both = [i for i in rows if m.subset_ids[i] in other]
    return (np.array([y[i] for i in both], dtype=np.float64),
            np.array([other[m.subset_ids[i]][behaviour] for i in both], dtype=np.float64),
            [m.subset_ids[i] for i in both])


def proxy_fidelity_of(m: Matrix, behaviour: str, retrained: Mapping[str, Mapping[str, float]], n_boot: int,
                      level: float, seed: int) -> dict[str, Any]:
    """Proxy fidelity on the baseline subsets: their unlearned models (train family of the matrix)
    against their models retrained from scratch (`retrained`: subset id -> behaviours)."""
    u, r, ids = _paired(m, m.rows("unlearn", "train"), behaviour, retrained)
    return {**proxy_fidelity(u, r, n_boot, level, seed), "subsets": ids}


def ceiling_of(m: Matrix, behaviour: str, family: str, second: Mapping[str, Mapping[str, float]] | None,
               n_boot: int, level: float, seed: int) -> dict[str, Any] | None:
    """LDS ceiling of one test family: its retrained models (the matrix) against a second retraining
    of the same subsets (`second`: subset id -> behaviours); None when no second retraining exists."""
    if second is None:
        return None
    first, again, ids = _paired(m, m.rows("retrain", family), behaviour, second)
    return {**lds_ceiling(first, again, n_boot, level, seed), "subsets": ids}


def _brief(ceiling: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What stands beside each LDS: the ceiling without its subset list."""
    return None if ceiling is None else {k: v for k, v in ceiling.items() if k != "subsets"}


def lds_of(att_coef: np.ndarray, intercept: float, masks: np.ndarray, actual: np.ndarray, n_boot: int, level: float,
           seed: int) -> dict[str, Any]:
    pred = intercept + masks.astype(float) @ att_coef
    lo, hi = bootstrap_ci(pred, actual, n_boot, level, seed)
    return {"lds": lds(pred, actual), "ci95": [lo, hi], "predicted": pred.tolist(), "n_test_models": int(len(actual))}


NOT_COMPUTED = "not computed: no second retraining of the test subsets"


def evaluate_lds(datamodel_json: PathLike, matrix_h5: PathLike, n_boot: int, level: float, seed: int,
                 out_json: PathLike, baseline: Mapping[str, Mapping[str, float]] | None = None,
                 second_retrain: Mapping[str, Mapping[str, float]] | None = None) -> dict[str, Any]:
    """LDS of every fitted estimator on the retrained test models, with a bootstrap CI; also on the
    alpha 0.25 / 0.75 test families when the matrix has them. `baseline` (subset id -> behaviours of
    the baseline subsets retrained from scratch) adds the proxy fidelity; `second_retrain` (subset id
    -> behaviours of a second retraining of test subsets) the LDS ceiling beside every LDS."""
    dm = read_json(datamodel_json)
    m = read_matrix(matrix_h5)
    rows = m.rows("retrain")
    if len(rows) < 3:
        raise ValueError(f"{matrix_h5}: only {len(rows)} retrained test models; the LDS needs at least 3")
    target = dm["target"]
    y = m.behaviour(target)
    actual = y[rows]
    ceilings = {family: ceiling_of(m, target, family, second_retrain, n_boot, level, seed)
                for family in m.families("retrain")}
    per_est = {}
    for name, est in dm["estimators"].items():
        coef = np.array([est["coefficients"][u] for u in m.unit_ids])
        per_est[name] = {**lds_of(coef, est["intercept"], m.masks[rows], actual, n_boot, level, seed),
                         "ceiling": _brief(ceilings.get("test"))}
        for family in m.families("retrain"):
            extra_rows = m.rows("retrain", family)
            if family != "test" and len(extra_rows) >= 3:
                res = lds_of(coef, est["intercept"], m.masks[extra_rows], y[extra_rows], n_boot, level, seed)
                per_est[name].setdefault("other_alphas", {})[family] = {
                    **{k: res[k] for k in ("lds", "ci95", "n_test_models")}, "ceiling": _brief(ceilings[family])}
    primary = per_est[dm["primary"]]
    fidelity = (proxy_fidelity_of(m, target, baseline, n_boot, level, seed) if baseline is not None
                else {"spearman": None, "why": "no baseline retrainings given"})
    out = {"lds": primary["lds"], "ci95": primary["ci95"], "ci_level": level, "n_bootstrap": n_boot,
           "estimator": dm["primary"], "behaviour": target, "lower_is_better": dm["lower_is_better"],
           "n_train_models": dm["n_train_models"], "n_test_models": int(len(rows)),
           "sign_convention": "Spearman(predicted behaviour, actual behaviour) over models retrained from scratch on "
                              "held-out subsets; +1 = perfect ranking, whatever the behaviour's direction",
           "ceiling": ceilings.get("test") or {"spearman": None, "why": NOT_COMPUTED},
           "ceiling_convention": "spearman: Spearman between two retrainings (other seeds) of the same test subsets, "
                                 "the LDS a second retraining scores; bound: about its square root, the most a "
                                 "noise-free predictor of the expected behaviour can score",
           "proxy_fidelity": fidelity,
           "proxy_fidelity_convention": "Spearman and Pearson between the unlearned and the retrained model's "
                                        "behaviour on the same (baseline) training subsets",
           "test_subsets": [m.subset_ids[i] for i in rows], "actual": actual.tolist(), "estimators": per_est,
           "subsets": subsets_drawn(m)}
    write_json(out_json, out)
    return out


def subsets_drawn(m: Matrix) -> dict[str, Any]:
    """Per family: candidates drawn, used, skipped for equalling a test subset (ids), redrawn for
    equalling an earlier subset of the family, kernel duplicates kept (empty for older matrices)."""
    return json.loads(m.attrs.get("subsets", "{}"))


TEST_ALPHA = {"test": None, "test25": 0.25, "test75": 0.75}
GAP_CONVENTION = ("gap_to_primary = this estimator's LDS minus the primary estimator's (datamodel.primary, fixed "
                  "before the test models are seen), on the same test models; positive = higher LDS than the "
                  "primary. gap CI: paired percentile bootstrap over the test models")


def _nan_safe_max(values: Mapping[str, float]) -> str:
    return max(values, key=lambda n: -np.inf if np.isnan(values[n]) else values[n])


def highest_note(behaviour: str, alpha: float, primary: str, res: Mapping[str, Mapping[str, Any]],
                 gaps: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Which estimator has the highest LDS for one behaviour and test set, and whether that may be
    called better than the primary: only when its paired gap CI excludes 0."""
    best = _nan_safe_max({n: r["lds"] for n, r in res.items()})
    gap = gaps[best]
    lo, hi = gap["ci"]
    separated = best != primary and np.isfinite(lo) and lo > 0
    if best == primary:
        text = f"{behaviour}, alpha {alpha:g}: the primary estimator {primary} has the highest LDS"
    elif separated:
        text = (f"{behaviour}, alpha {alpha:g}: {best} has the highest LDS, {gap['gap']:+.3f} against {primary} "
                f"(paired CI [{lo:.3f}, {hi:.3f}] excludes 0: better than the primary)")
    else:
        text = (f"{behaviour}, alpha {alpha:g}: {best} has the highest LDS, {gap['gap']:+.3f} against {primary} "
                f"(paired CI [{lo:.3f}, {hi:.3f}] holds 0: not distinguishable from the primary)")
    return {"behaviour": behaviour, "alpha": alpha, "highest": best, "primary": primary,
            "gap_to_primary": gap["gap"], "gap_ci": [lo, hi], "better_than_primary": bool(separated), "text": text}


def estimator_table(matrix_h5: PathLike, estimators: Sequence[str], primary: str, cfg: Mapping[str, Any], n_boot: int,
                    level: float, seed: int, out_csv: PathLike, out_json: PathLike,
                    second_retrain: Mapping[str, Mapping[str, float]] | None = None,
                    baselines: Mapping[str, Mapping[str, float]] | None = None) -> dict[str, Any]:
    """Estimator x behaviour -> LDS (CI) on every test family of the matrix: each estimator is refitted
    for each behaviour the matrix holds, all on the same models. The reference is the primary
    estimator, fixed before the test models are seen (picking the best on the test models and
    reporting gaps to it would be a post-selection comparison): every other row carries its gap to
    the primary with a paired bootstrap CI. A note per behaviour and test set names the estimator
    with the highest LDS, called better only when its paired CI excludes 0. `second_retrain` adds
    the LDS ceiling (None: not computed); `baselines` the baselines' unit support (method -> {unit: value})."""
    if primary not in estimators:
        raise ValueError(f"datamodel.primary: {primary!r} is not one of datamodel.estimators {list(estimators)}")
    m = read_matrix(matrix_h5)
    alpha = float(m.attrs.get("alpha", 0.5))
    rows_out, notes = [], []
    for behaviour in m.behaviour_names:
        y = m.behaviour(behaviour)
        fitted = fit_estimators(m, behaviour, estimators, cfg, baselines)
        for family in m.families("retrain"):
            rows = m.rows("retrain", family)
            if len(rows) < 3:
                continue
            test_alpha = TEST_ALPHA.get(family) or alpha
            ceiling = ceiling_of(m, behaviour, family, second_retrain, n_boot, level, seed)
            res = {name: lds_of(att.coef, att.intercept, m.masks[rows], y[rows], n_boot, level, seed)
                   for name, att in fitted.items()}
            ref = res[primary]
            gaps = {name: {"gap": r["lds"] - ref["lds"],
                           "ci": (paired_gap_ci(r["predicted"], ref["predicted"], y[rows], n_boot, level, seed)
                                  if name != primary else (float("nan"), float("nan")))}
                    for name, r in res.items()}
            note = highest_note(behaviour, test_alpha, primary, res, gaps)
            notes.append(note)
            for name, att in fitted.items():
                r = res[name]
                rows_out.append({"estimator": name, "behaviour": behaviour, "alpha": test_alpha, "lds": r["lds"],
                                 "ci_low": r["ci95"][0], "ci_high": r["ci95"][1],
                                 "n_fit_models": att.n_models, "n_test_models": r["n_test_models"],
                                 "sign_identified": bool(att.level_identified), "primary": primary,
                                 "gap_to_primary": gaps[name]["gap"], "gap_ci_low": gaps[name]["ci"][0],
                                 "gap_ci_high": gaps[name]["ci"][1], "highest_lds": name == note["highest"],
                                 "ceiling": _brief(ceiling)})
    write_text(out_csv, _table_csv(rows_out))
    out = {"ci_level": level, "n_bootstrap": n_boot, "primary": primary, "gap_convention": GAP_CONVENTION,
           "rows": rows_out, "notes": notes}
    write_json(out_json, out)
    return out


def _table_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    def num(v: float | None) -> str:
        return "" if v is None or not np.isfinite(v) else f"{v:.3f}"

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["estimator", "behaviour", "alpha", "lds", "ci_low", "ci_high", "ceiling", "ceiling_ci_low",
                "ceiling_ci_high", "ceiling_bound", "n_fit_models", "n_test_models", "sign_identified", "primary", "gap_to_primary",
                "gap_ci_low", "gap_ci_high", "highest_lds"])
    for r in rows:
        c = r["ceiling"] or {}
        c_ci = c.get("ci95") or [None, None]
        w.writerow([r["estimator"], r["behaviour"], f"{r['alpha']:g}", f"{r['lds']:.3f}", f"{r['ci_low']:.3f}",
                    f"{r['ci_high']:.3f}", num(c.get("spearman")), num(c_ci[0]), num(c_ci[1]), num(c.get("bound")),
                    r["n_fit_models"],
                    r["n_test_models"], int(r["sign_identified"]), r["primary"], f"{r['gap_to_primary']:.3f}",
                    num(r["gap_ci_low"]), num(r["gap_ci_high"]), int(r["highest_lds"])])
    return buf.getvalue()
