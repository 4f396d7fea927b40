"""Stage estimators: estimator x behaviour -> LDS (CI) on every test set of the matrix, with each
estimator's gap to the primary one. `estimator_rows` computes the table; `write_table` writes it."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..attribution.estimators import fit_estimators
from ..attribution.lds import brief, ceiling_of, lds_of
from ..attribution.matrix import Matrix, average_seeds, read_matrix
from ..core.atomic import write_json, write_text
from ..core.families import FAMILIES
from ..core.settings import Bootstrap, Datamodels
from ..core.stats import holm, paired_gap_test
from ..reporting.report import table_html

PathLike = str | os.PathLike
GAP_CONVENTION = (
    "gap_to_primary = this estimator's LDS minus the primary estimator's (datamodel.primary, fixed "
    "before the test models are seen), on the same test models; positive = higher LDS than the "
    "primary. gap CI: paired percentile bootstrap over the test models (one comparison at a time); "
    "gap_p: its bootstrap p-value, gap_p_holm: Holm-adjusted over the estimators compared with the "
    "primary for the same behaviour and test set. vs_primary says better or worse only where "
    "gap_p_holm < 1 - ci_level; no LDS (why) where an estimator ranks no unit"
)
COLUMNS = [
    "estimator",
    "behaviour",
    "alpha",
    "lds",
    "ci_low",
    "ci_high",
    "ceiling",
    "ceiling_ci_low",
    "ceiling_ci_high",
    "ceiling_bound",
    "n_fit_models",
    "n_test_models",
    "sign_identified",
    "primary",
    "gap_to_primary",
    "gap_ci_low",
    "gap_ci_high",
    "gap_p",
    "gap_p_holm",
    "vs_primary",
    "highest_lds",
    "why",
]


def estimator_table(
    *,
    matrix: PathLike,
    table: PathLike,
    info: PathLike,
    datamodel: Datamodels,
    settings: Bootstrap,
    html: PathLike | None = None,
    ceiling: Mapping[str, Mapping[str, float]] | None = None,
    baselines: Mapping[str, Mapping[str, float]] | None = None,
    seeds: Mapping[str, Mapping[str, float]] | None = None,
    test_seeds: int = 1,
) -> dict[str, Any]:
    """The table of the HDF5 `matrix`, written as CSV (`table`) and JSON (`info`), and HTML for the
    report (`html`). `datamodel`: the datamodel section (estimators, primary, the fit's keys);
    `ceiling`: subset id -> behaviours of a second retraining (the LDS ceiling); `baselines`: the
    baselines' unit support (method -> {unit: value}); with `test_seeds` above 1 the test models'
    behaviours averaged over their seeds (`seeds`: the retrain_floor model id of seeds 2..s ->
    behaviours; matrix.average_seeds)."""
    m = read_matrix(matrix)
    if test_seeds > 1:
        m = average_seeds(m, seeds or {}, test_seeds)
    out = estimator_rows(m, datamodel, settings, ceiling, baselines)
    write_table(out, table, info, html)
    return out


def estimator_rows(
    m: Matrix,
    datamodels: Datamodels,
    boot: Bootstrap,
    second_retrain: Mapping[str, Mapping[str, float]] | None = None,
    baselines: Mapping[str, Mapping[str, float]] | None = None,
) -> dict[str, Any]:
    """Each estimator refitted for each behaviour the matrix holds, all on the same models, and scored
    on every test family. The reference is the primary estimator, fixed before the test models are
    seen (picking the best on the test models and reporting gaps to it would be a post-selection
    comparison): every row carries its gap to the primary with a paired bootstrap CI. A note per
    behaviour and test set names the estimator with the highest LDS, called better only when its
    paired CI excludes 0. `second_retrain` adds the LDS ceiling (None: not computed); `baselines` the
    baselines' unit support (method -> {unit: value})."""
    estimators, primary = datamodels.estimators, datamodels.primary
    if primary not in estimators:
        raise ValueError(f"datamodel.primary: {primary!r} is not one of datamodel.estimators {list(estimators)}")
    alpha = float(m.attrs.get("alpha", 0.5))
    rows_out, notes = [], []
    for behaviour in m.behaviour_names:
        y = m.behaviour(behaviour)
        fitted = fit_estimators(m, behaviour, datamodels, baselines)
        for family in m.families("retrain"):
            rows = m.rows("retrain", family)
            if len(rows) < 3:
                continue
            test_alpha = getattr(FAMILIES.get(family), "alpha", None) or alpha
            ceiling = ceiling_of(m, behaviour, family, second_retrain, boot)
            res = {
                name: lds_of(att.predict(m.masks[rows]), y[rows], boot, att.no_ranking) for name, att in fitted.items()
            }
            gaps = gaps_to_primary(res, primary, y[rows], boot)
            note = highest_note(behaviour, test_alpha, primary, res, gaps, boot.ci_level)
            notes.append(note)
            for name, att in fitted.items():
                r = res[name]
                rows_out.append(
                    {
                        "estimator": name,
                        "behaviour": behaviour,
                        "alpha": test_alpha,
                        "lds": r["lds"],
                        "ci_low": r["ci95"][0],
                        "ci_high": r["ci95"][1],
                        "n_fit_models": att.n_models,
                        "n_test_models": r["n_test_models"],
                        "sign_identified": bool(att.level_identified),
                        "primary": primary,
                        "gap_to_primary": gaps[name]["gap"],
                        "gap_ci_low": gaps[name]["ci"][0],
                        "gap_ci_high": gaps[name]["ci"][1],
                        "gap_p": gaps[name]["p"],
                        "gap_p_holm": gaps[name]["p_holm"],
                        "vs_primary": gaps[name]["verdict"],
                        "highest_lds": name == note["highest"],
                        "ceiling": brief(ceiling),
                        "why": r.get("why", ""),
                    }
                )
    return {
        "ci_level": boot.ci_level,
        "n_bootstrap": boot.n_bootstrap,
        "primary": primary,
        "gap_convention": GAP_CONVENTION,
        "rows": rows_out,
        "notes": notes,
    }


def write_table(
    out: Mapping[str, Any], out_csv: PathLike, out_json: PathLike, out_html: PathLike | None = None
) -> None:
    write_text(out_csv, _table_csv(out["rows"]))
    write_json(out_json, dict(out))
    if out_html is not None:
        table_html(
            out_csv,
            out_html,
            "LDS of every estimator for every behaviour",
            [out["gap_convention"]] + [n["text"] for n in out["notes"]],
        )


def gaps_to_primary(
    res: Mapping[str, Mapping[str, Any]], primary: str, actual: np.ndarray, boot: Bootstrap
) -> dict[str, dict[str, Any]]:
    """Every estimator's LDS gap to the primary with its paired CI and p-value, the p-values
    Holm-adjusted over the comparisons read together (one behaviour and test set), and the verdict
    that adjustment allows: better / worse than the primary, or not separated."""
    nan = float("nan")
    gaps: dict[str, dict[str, Any]] = {}
    ref = res[primary]
    for name, r in res.items():
        comparable = name != primary and np.isfinite(r["lds"]) and np.isfinite(ref["lds"])
        lo, hi, p = (
            paired_gap_test(r["predicted"], ref["predicted"], actual, boot.n_bootstrap, boot.ci_level, boot.seed)
            if comparable
            else (nan, nan, nan)
        )
        gaps[name] = {"gap": r["lds"] - ref["lds"], "ci": (lo, hi), "p": p}
    for name, adjusted in zip(gaps, holm([g["p"] for g in gaps.values()])):
        g = gaps[name]
        g["p_holm"] = adjusted
        if name == primary or np.isnan(adjusted):
            g["verdict"] = ""
        elif adjusted < 1 - boot.ci_level:
            g["verdict"] = "better" if g["gap"] > 0 else "worse"
        else:
            g["verdict"] = "not separated"
    return gaps


def _nan_safe_max(values: Mapping[str, float]) -> str:
    return max(values, key=lambda n: -np.inf if np.isnan(values[n]) else values[n])


def highest_note(
    behaviour: str,
    alpha: float,
    primary: str,
    res: Mapping[str, Mapping[str, Any]],
    gaps: Mapping[str, Mapping[str, Any]],
    level: float = 0.95,
) -> dict[str, Any]:
    """Which estimator has the highest LDS for one behaviour and test set, and whether that may be
    called better than the primary: only when its Holm-adjusted paired p-value is below 1 - level
    (the highest of k estimators is the one most favoured by chance)."""
    best = _nan_safe_max({n: r["lds"] for n, r in res.items()})
    gap = gaps[best]
    lo, hi = gap["ci"]
    p_holm = gap.get("p_holm", float("nan"))
    separated = best != primary and gap.get("verdict") == "better"
    k = sum(1 for g in gaps.values() if np.isfinite(g.get("p", float("nan"))))
    if best == primary:
        text = f"{behaviour}, alpha {alpha:g}: the primary estimator {primary} has the highest LDS"
    elif not np.isfinite(res[best]["lds"]):
        text = f"{behaviour}, alpha {alpha:g}: no estimator has an LDS"
    else:
        verdict = "better than the primary" if separated else "not distinguishable from the primary"
        text = (
            f"{behaviour}, alpha {alpha:g}: {best} has the highest LDS, {gap['gap']:+.3f} against {primary} "
            f"(paired CI [{lo:.3f}, {hi:.3f}], Holm-adjusted p {p_holm:.3g} over {k} comparisons: {verdict})"
        )
    return {
        "behaviour": behaviour,
        "alpha": alpha,
        "highest": best,
        "primary": primary,
        "gap_to_primary": gap["gap"],
        "gap_ci": [lo, hi],
        "gap_p_holm": p_holm,
        "better_than_primary": bool(separated),
        "text": text,
    }


def _table_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    def num(v: float | None) -> str:
        return "" if v is None or not np.isfinite(v) else f"{v:.3f}"

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        c = r["ceiling"] or {}
        c_ci = c.get("ci95") or [None, None]
        w.writerow(
            [
                r["estimator"],
                r["behaviour"],
                f"{r['alpha']:g}",
                f"{r['lds']:.3f}",
                f"{r['ci_low']:.3f}",
                f"{r['ci_high']:.3f}",
                num(c.get("spearman")),
                num(c_ci[0]),
                num(c_ci[1]),
                num(c.get("bound")),
                r["n_fit_models"],
                r["n_test_models"],
                int(r["sign_identified"]),
                r["primary"],
                num(r["gap_to_primary"]),
                num(r["gap_ci_low"]),
                num(r["gap_ci_high"]),
                num(r["gap_p"]),
                num(r["gap_p_holm"]),
                r["vs_primary"],
                int(r["highest_lds"]),
                r["why"],
            ]
        )
    return buf.getvalue()
