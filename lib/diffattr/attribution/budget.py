"""Compute accounting and the equal-budget comparison of unlearning- and retraining-based datamodels.

Costs are the wall seconds Snakemake's `benchmark:` files measured for each job. The unit is one
retraining: the median over retrained models of (its share of its retraining batch's job + its share
of its evaluation batch's job; RETRAIN_COST_RULE). The unlearning
method pays its one-off costs (base training, pruning with its fine-tune) before its first model;
the retraining method has none. Evaluation jobs that both methods need equally (the classifier,
the reference statistics, the LDS test models) are not counted.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..core.settings import Bootstrap, DatamodelFit
from ..core.stats import bootstrap_ci, finite_or_none, holm, lds, paired_gap
from .datamodel import fit_datamodel

PathLike = str | os.PathLike


def benchmark_seconds(path: PathLike) -> dict[str, float]:
    """Wall (`s`) and CPU (`cpu_time`) seconds of one Snakemake benchmark TSV (its last repeat)."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    if not rows:
        raise ValueError(f"{path}: empty benchmark file; delete it and rerun its job")
    last = rows[-1]

    def num(key: str) -> float:
        try:
            return float(last[key])
        except (KeyError, TypeError, ValueError):
            return float("nan")

    return {"wall": num("s"), "cpu": num("cpu_time")}


RETRAIN_COST_RULE = (
    "a retrained model's training cost = its own train seconds plus an equal share of the rest of its "
    "retraining batch's job (start-up, data, saving: the job's wall seconds less the train seconds of the "
    "models it trained); a model copied from an earlier batch brings the train seconds it was trained in"
)


def retrain_batch_costs(bench: PathLike, job: Mapping[str, Any]) -> dict[str, float]:
    """Each model of one retraining batch charged by RETRAIN_COST_RULE: `bench` is the batch job's
    benchmark file, `job` its record (stages.retrain: members' train seconds, the copied ones)."""
    seconds = {sid: float(s) for sid, s in job["train_seconds"].items()}
    if not seconds:
        raise ValueError(f"{bench}: its retraining batch trained no model; delete its folder and rerun")
    reused = set(job.get("reused", {}))
    rest = max(0.0, benchmark_seconds(bench)["wall"] - sum(s for sid, s in seconds.items() if sid not in reused))
    return {sid: s + rest / len(seconds) for sid, s in seconds.items()}


UNLEARN_COST_RULE = (
    "unlearn_seconds_per_model = the unlearning batches' wall seconds (training + evaluation) over the "
    "unlearned models the datamodel is fitted on (unlearn_models, the matrix's train rows); a batch also "
    "trains the candidates skipped for equalling a test subset or excluded (unlearn_models_trained in all), "
    "and their cost is charged to the models used"
)


def cost_model(
    retrain_jobs: Sequence[tuple[float, PathLike, int]],
    unlearn_jobs: Sequence[tuple[PathLike, PathLike, int, int]],
    one_off: Mapping[str, PathLike],
    base_imported: bool = False,
) -> dict[str, Any]:
    """retrain_jobs: (its training's seconds (retrain_batch_costs), its evaluation batch's benchmark,
    the models that batch evaluates) per retrained model, charged its training and an equal share of
    the evaluation batch;
    unlearn_jobs: (unlearn batch benchmark, its evaluation benchmark, models of the batch the
    datamodel uses, models the batch trains); one_off: name -> benchmark of a job the unlearning
    method pays once. A batch's whole cost is charged to the models used (UNLEARN_COST_RULE). With
    `base_imported` (base_model.path) the base model's training was paid outside this run: its
    one-off entry is only the import, and the note says so."""
    retrain = [float(t) + benchmark_seconds(e)["wall"] / n for t, e, n in retrain_jobs]
    retrain_train = [float(t) for t, *_ in retrain_jobs]
    if not retrain:
        raise ValueError("budget: no retrain job to define the unit")
    unit = float(np.median(retrain))
    n_models = sum(used for _, _, used, _ in unlearn_jobs)
    if n_models < 1:
        raise ValueError("budget: no unlearned model of the train family is used; check subsets.exclude")
    n_trained = sum(trained for _, _, _, trained in unlearn_jobs)
    unlearn_train = sum(benchmark_seconds(t)["wall"] for t, *_ in unlearn_jobs)
    unlearn_total = unlearn_train + sum(benchmark_seconds(e)["wall"] for _, e, *_ in unlearn_jobs)
    once = {name: benchmark_seconds(p)["wall"] for name, p in one_off.items()}
    per_model = unlearn_total / n_models
    note = (
        "base model imported (base_model.path): its training was paid outside this run and is not counted; "
        "one_off_seconds holds the import and the pruning + fine-tune"
        if base_imported
        else "one_off_seconds holds base training and the pruning + fine-tune, both measured in this run"
    )
    return {
        "base_imported": bool(base_imported),
        "one_off_note": note,
        "unit_seconds": unit,
        "retrain_seconds": retrain,
        "retrain_jobs": len(retrain),
        "retrain_cost_rule": RETRAIN_COST_RULE,
        "unlearn_seconds_per_model": per_model,
        "unlearn_models": n_models,
        "unlearn_models_trained": n_trained,
        "unlearn_cost_rule": UNLEARN_COST_RULE,
        "one_off_seconds": once,
        "one_off_units": sum(once.values()) / unit,
        "unlearn_units_per_model": per_model / unit,
        "speedup": unit / per_model,
        # training jobs alone (retrain job / unlearn job share per model), the paper's Table 1 ratio
        "train_job_speedup": float(np.median(retrain_train)) / (unlearn_train / n_models),
    }


def models_within(budget: float, one_off_units: float, units_per_model: float, available: int) -> tuple[int, bool]:
    """How many models a method affords at `budget` retrain units (and whether `available` capped it)."""
    left = budget - one_off_units
    n = 0 if left <= 0 else int(math.floor(left / units_per_model + 1e-9))
    return min(n, available), n > available


def _fit_first(
    masks: np.ndarray,
    y: np.ndarray,
    m: int,
    test_masks: np.ndarray,
    test_y: np.ndarray,
    fit: DatamodelFit,
    boot: Bootstrap,
) -> tuple[dict[str, Any], np.ndarray | None]:
    """The datamodel fitted on the first m rows, scored on the test models; and its predictions."""
    if m < 2:
        return {"models": m, "lds": None, "ci95": None, "why": "fewer than 2 models within this budget"}, None
    dm = fit_datamodel(masks[:m], y[:m], fit)
    pred = dm.predict(test_masks)
    if not dm.ranked:
        return {"models": m, "lds": None, "ci95": None, "alpha": dm.info["alpha"], "why": dm.no_ranking}, None
    lo, hi = bootstrap_ci(pred, test_y, boot.n_bootstrap, boot.ci_level, boot.seed)
    return {
        "models": m,
        "lds": finite_or_none(lds(pred, test_y)),
        "ci95": [finite_or_none(lo), finite_or_none(hi)],
        "alpha": dm.info["alpha"],
    }, pred


GAP_CONVENTION = (
    "gap = LDS(unlearning) - LDS(retraining), both datamodels' predictions scored on the same test "
    "models; ci95: paired percentile bootstrap over the test models (resampled jointly for both), one "
    "budget at a time; p: its bootstrap p-value; across the budget grid, p_holm is Holm-adjusted over the "
    "budgets where both methods have an LDS, and a method is called better at a budget (separated) only "
    "where p_holm < 1 - ci_level"
)


def compare_first(
    unlearn: tuple[np.ndarray, np.ndarray],
    m_u: int,
    retrain: tuple[np.ndarray, np.ndarray],
    m_r: int,
    test: tuple[np.ndarray, np.ndarray],
    fit: DatamodelFit,
    boot: Bootstrap,
) -> dict[str, Any]:
    """Both methods' LDS with their first m_u / m_r models, and the paired gap between them."""
    u, pred_u = _fit_first(*unlearn, m_u, *test, fit, boot)
    r, pred_r = _fit_first(*retrain, m_r, *test, fit, boot)
    return {"unlearn": u, "retrain": r, "gap": paired_gap(pred_u, pred_r, test[1], boot)}


def budget_curve(
    grid: Sequence[float],
    costs: Mapping[str, Any],
    unlearn: tuple[np.ndarray, np.ndarray],
    retrain: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    fit: DatamodelFit,
    boot: Bootstrap,
) -> list[dict[str, Any]]:
    """LDS (95 % CI) of both methods at each budget (retrain units), and the paired gap between them
    where both have one; rows are in subset order, so 'the first m models' is the same prefix
    whatever the budget."""
    points = []
    for b in grid:
        m_u, capped_u = models_within(b, costs["one_off_units"], costs["unlearn_units_per_model"], len(unlearn[1]))
        m_r, capped_r = models_within(b, 0.0, 1.0, len(retrain[1]))
        cmp = compare_first(unlearn, m_u, retrain, m_r, test, fit, boot)
        points.append(
            {
                "budget": float(b),
                "unlearn": {**cmp["unlearn"], "capped": capped_u},
                "retrain": {**cmp["retrain"], "capped": capped_r},
                "gap": cmp["gap"],
            }
        )
    # The curve is read budget by budget: a gap is called only after Holm's adjustment over the grid.
    gaps = [p["gap"] for p in points]
    read = [g for g in gaps if g.get("p") is not None]
    for g, adjusted in zip(read, holm([g["p"] for g in read])):
        g.update(p_holm=adjusted, n_compared=len(read), separated=bool(adjusted < 1 - boot.ci_level))
    return points
