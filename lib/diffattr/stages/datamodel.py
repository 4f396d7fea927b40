"""Stage datamodel: every configured estimator fitted on its family; the attributions of the primary."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence

import numpy as np

from ..attribution.datamodel import Attribution, helpfulness, ranks, relative_scores
from ..attribution.estimators import FAMILY_OF, fit_estimators
from ..attribution.matrix import read_matrix, write_matrix
from ..core.atomic import write_json, write_text
from ..core.metrics import lower_is_better
from ..core.settings import Datamodels

PathLike = str | os.PathLike
SCORE_CONVENTION = (
    "coefficient = change of the behaviour when the unit is included; score = -coefficient when lower is better "
    "(else coefficient): higher score = the unit makes the model better; rank 1 = highest score. "
    "relative_score = score minus the mean score over units. sign_identified = 1 only when the fit pins the "
    "level (Shapley's efficiency constraint, leave-one-out, or fitted subsets of varying size); with 0 (ridge or "
    "lasso on alpha-sized subsets) only ranks and differences between units mean anything: a negative score "
    "is below the average unit, not harmful. A fit whose scores are all tied (lasso's all-zero fit) ranks no unit: "
    "its rank is empty, and it has no LDS and no counterfactual removal"
)


def fit_all(
    *,
    matrix: PathLike,
    attributions: PathLike,
    info: PathLike,
    fitted: PathLike,
    settings: Datamodels,
    target: str,
    baselines: Mapping[str, Mapping[str, float]] | None = None,
) -> dict[str, Attribution]:
    """Fit each estimator of `settings` (the datamodel section: estimators, primary, the fit's keys)
    for behaviour `target` on its subset family of `matrix` (a baseline: its support from `baselines`,
    the baselines stage's method -> {unit: support}): every fit in `info` (datamodel.json) and in a copy
    of the matrix (`fitted`, group attributions/<estimator>), the primary one's `attributions` as CSV."""
    primary, lower = settings.primary, lower_is_better(target)
    m = read_matrix(matrix)
    by_name = fit_estimators(m, target, settings, baselines)
    extra = {}
    for name, att in by_name.items():
        score = helpfulness(att.coef, lower)
        extra[f"attributions/{name}"] = {
            "unit_ids": np.array(m.unit_ids, dtype=object),
            "coefficient": att.coef,
            "score": score,
            "relative_score": relative_scores(score),
            # A fit whose scores are all tied ranks nothing: no rank column.
            **({"rank": ranks(score)} if att.ranked else {}),
            "intercept": np.array(att.intercept),
            "level_identified": np.array(att.level_identified),
        }
    write_matrix(fitted, m, extra)
    write_text(attributions, attributions_csv(m.unit_ids, by_name[primary], lower))
    write_json(
        info,
        {
            "target": target,
            "primary": primary,
            "lower_is_better": lower,
            "n_train_models": int(by_name[primary].n_models),
            "sign_identified": bool(att.level_identified),
            "score_convention": SCORE_CONVENTION,
            "estimators": {
                name: {
                    **a.info,
                    "family": FAMILY_OF[name],
                    "n_models": a.n_models,
                    "intercept": a.intercept,
                    "level_identified": bool(a.level_identified),
                    "ranking": a.ranked,
                    **({"why": a.no_ranking} if not a.ranked else {}),
                    "coefficients": dict(zip(m.unit_ids, a.coef.tolist())),
                }
                for name, a in by_name.items()
            },
        },
    )
    return by_name


def attributions_csv(unit_ids: Sequence[str], att: Attribution, lower_is_better: bool) -> str:
    """The primary estimator's attributions, most helpful first; a fit that ranks nothing (all scores
    tied) keeps the unit order and leaves the rank empty."""
    score = helpfulness(att.coef, lower_is_better)
    rank = ranks(score) if att.ranked else [""] * len(score)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["unit_id", "coefficient", "score", "relative_score", "rank", "sign_identified"])
    rows = list(zip(unit_ids, att.coef, score, relative_scores(score), rank))
    if att.ranked:
        rows.sort(key=lambda t: t[4])
    for uid, c, s, rel, r in rows:
        w.writerow([uid, f"{c:.6g}", f"{s:.6g}", f"{rel:.6g}", r, int(att.level_identified)])
    return buf.getvalue()
