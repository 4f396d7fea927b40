"""Stage lds: the LDS of every fitted estimator on the retrained test models (each the mean over
lds.test_seeds retrainings), the proxy fidelity on the baseline subsets and, where test subsets were
retrained twice or more, the LDS ceiling."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from ..attribution.datamodel import Attribution
from ..attribution.lds import brief, ceiling_of, lds_of, mean_retrainings, proxy_fidelity_of
from ..attribution.matrix import Matrix, average_seeds, read_matrix
from ..core.atomic import read_json, write_json
from ..core.settings import Bootstrap

PathLike = str | os.PathLike
NOT_COMPUTED = "not computed: no second retraining of the test subsets"
CEILING_CONVENTION = (
    "spearman: Spearman between two retrainings (other seeds) of the same test subsets, "
    "the LDS a second retraining scores; bound: about its square root, the most a "
    "noise-free predictor of the expected behaviour can score; noise_sd: one retraining's seed noise, "
    "sd(first - second) / sqrt(2); spread_sd: the behaviour's sd over all test models; noise_share: "
    "noise_sd^2 / spread_sd^2 (near or above 1: the test models' ranking is mostly noise)"
)
SEEDS_CEILING_CONVENTION = (
    "the target is each test subset's mean behaviour over n_seeds retrainings (lds.test_seeds); spearman: "
    "Spearman between the means of two disjoint halves of the seeds (halves: the first a seeds against the "
    "other b) over every test model; bound: sqrt of the n_seeds-mean's reliability from it (Spearman-Brown), "
    "the most a noise-free predictor of the expected behaviour can score against the target; noise_sd: one "
    "retraining's seed noise, sd(half_a - half_b) / sqrt(1/a + 1/b); noise_sd_target: the target's, "
    "noise_sd / sqrt(n_seeds); spread_sd: the target's sd over all test models; noise_share: "
    "noise_sd_target^2 / spread_sd^2 (near or above 1: the test models' ranking is mostly noise)"
)


def evaluate_lds(  # noqa: PLR0913  (the rule's six keys, its settings and the seed count)
    *,
    datamodel: PathLike,
    matrix: PathLike,
    lds: PathLike,
    settings: Bootstrap,
    baseline: Mapping[str, Mapping[str, float]] | None = None,
    ceiling: Mapping[str, Mapping[str, float]] | None = None,
    baseline_seeds: Mapping[str, Mapping[str, float]] | None = None,
    seeds: Mapping[str, Mapping[str, float]] | None = None,
    test_seeds: int = 1,
) -> dict[str, Any]:
    """LDS of every fitted estimator (`datamodel`: its info JSON, `matrix`: its HDF5 matrix) on the
    retrained test models, with a bootstrap CI, written to `lds`; also on the alpha 0.25 / 0.75 test
    families when the matrix has them. The test models' behaviour is the matrix's, or with
    `test_seeds` s above 1 each subset's mean over its s seeds (`seeds`: the retrain_floor model id of
    seeds 2..s -> behaviours; matrix.average_seeds), the ceiling then from halves of them. `baseline`
    (subset id -> behaviours of the baseline subsets retrained from scratch: metrics_by_subset of the
    rule's files) adds the proxy fidelity, against the mean with `baseline_seeds` (a second retraining
    of some of them) where a subset has both; `ceiling` (subset id -> behaviours of a second
    retraining of test subsets) the LDS ceiling beside every LDS when the matrix has one seed."""
    boot, second_retrain = settings, ceiling
    dm = read_json(datamodel)
    m = read_matrix(matrix)
    if test_seeds > 1:
        m = average_seeds(m, seeds or {}, test_seeds)
    rows = m.rows("retrain")
    if len(rows) < 3:
        raise ValueError(f"{matrix}: only {len(rows)} retrained test models; the LDS needs at least 3")
    target = dm["target"]
    y = m.behaviour(target)
    actual = y[rows]
    ceilings = {family: ceiling_of(m, target, family, second_retrain, boot) for family in m.families("retrain")}
    per_est = {}
    for name, record in dm["estimators"].items():
        att = Attribution.from_record(name, record, m.unit_ids)
        why = None if att.ranked else record.get("why", att.no_ranking)
        per_est[name] = {
            **lds_of(att.predict(m.masks[rows]), actual, boot, why),
            "ceiling": brief(ceilings.get("test")),
        }
        for family in m.families("retrain"):
            extra_rows = m.rows("retrain", family)
            if family != "test" and len(extra_rows) >= 3:
                res = lds_of(att.predict(m.masks[extra_rows]), y[extra_rows], boot, why)
                per_est[name].setdefault("other_alphas", {})[family] = {
                    **{k: res[k] for k in ("lds", "ci95", "n_test_models", "why") if k in res},
                    "ceiling": brief(ceilings[family]),
                }
    primary = per_est[dm["primary"]]
    averaged: list[str] = []
    if baseline is not None and baseline_seeds:
        baseline, averaged = mean_retrainings(baseline, baseline_seeds)
    fidelity = (
        proxy_fidelity_of(m, target, baseline, boot)
        if baseline is not None
        else {"spearman": None, "why": "no baseline retrainings given"}
    )
    if averaged:
        fidelity["averaged_retrainings"] = averaged  # against the mean of their two retrainings
    out = {
        "lds": primary["lds"],
        "ci95": primary["ci95"],
        **({"why": primary["why"]} if "why" in primary else {}),
        "ci_level": boot.ci_level,
        "n_bootstrap": boot.n_bootstrap,
        "estimator": dm["primary"],
        "behaviour": target,
        "lower_is_better": dm["lower_is_better"],
        "n_train_models": dm["n_train_models"],
        "n_test_models": int(len(rows)),
        # Keys present only with several seeds: a one-seed lds.json reads as before.
        **({"test_seeds": m.n_seeds} if m.n_seeds > 1 else {}),
        "sign_convention": "Spearman(predicted behaviour, actual behaviour) over models retrained from scratch on "
        "held-out subsets; +1 = perfect ranking, whatever the behaviour's direction",
        "ceiling": ceilings.get("test") or {"spearman": None, "why": NOT_COMPUTED},
        "ceiling_convention": SEEDS_CEILING_CONVENTION if m.n_seeds > 1 else CEILING_CONVENTION,
        "proxy_fidelity": fidelity,
        "proxy_fidelity_convention": "Spearman and Pearson between the unlearned and the retrained model's "
        "behaviour on the same (baseline) training subsets",
        "test_subsets": [m.subset_ids[i] for i in rows],
        "actual": actual.tolist(),
        "estimators": per_est,
        "subsets": subsets_drawn(m),
    }
    write_json(lds, out)
    return out


def subsets_drawn(m: Matrix) -> dict[str, Any]:
    """Per family: candidates drawn, used, skipped for equalling a test subset (ids), redrawn for
    equalling an earlier subset of the family, kernel duplicates kept (empty for older matrices)."""
    return json.loads(m.attrs.get("subsets", "{}"))
