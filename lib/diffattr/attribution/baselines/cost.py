"""Each baseline on the equal-compute axis: its cost in retrain units and its LDS on the budget's test
models, a point beside the unlearning and retraining curves of budget.json.

Cost = the attributed model's training (base training, plus pruning and its fine-tune with
baselines.model: prune: a baseline needs a trained model as much as unlearning does, and the
unlearning curve is charged the same one-off jobs) + the generated images' job + the method's
own job, wall seconds from their Snakemake benchmark files, over the budget unit (median retrain
job + its evaluation). `attribution_units` leaves the one-off training out."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ...core.settings import Bootstrap, DatamodelFit
from ...core.stats import bootstrap_ci, finite_or_none, lds, paired_gap
from ..budget import benchmark_seconds
from ..matrix import Matrix
from .aggregate import aligned, coefficients, read_supports

PathLike = str | os.PathLike


def baseline_costs(
    images_bench: PathLike, method_benches: Mapping[str, PathLike], one_off: Mapping[str, PathLike], unit_seconds: float
) -> dict[str, dict[str, Any]]:
    """Per method: wall and CPU seconds of its parts and its cost in retrain units. A part whose job
    ran forked from a local run's preloaded process (compute.preload) has its whole wall in its
    benchmark but not its CPU, which the server's fork used (docs/architecture.md "Start-up")."""
    if not unit_seconds > 0:
        raise ValueError(f"budget: unit of {unit_seconds} s; the retrain benchmarks are missing or empty")
    images = benchmark_seconds(images_bench)
    once = {name: benchmark_seconds(p) for name, p in one_off.items()}
    out = {}
    for method, path in method_benches.items():
        own = benchmark_seconds(path)
        parts = {**once, "images": images, "scores": own}
        wall = {k: v["wall"] for k, v in parts.items()}
        cpu = {k: v["cpu"] for k, v in parts.items()}
        attribution = wall["images"] + wall["scores"]
        total = attribution + sum(wall[k] for k in once)
        out[method] = {
            "wall_seconds": wall,
            "cpu_seconds": cpu,
            "units": total / unit_seconds,
            "attribution_units": attribution / unit_seconds,
            "one_off": sorted(once),
        }
    return out


GAP_CONVENTION = (
    "gap_to_unlearning = LDS(unlearning-based datamodel, all its models) - LDS(baseline), on the same "
    "test models, paired bootstrap CI: what the unlearning method buys over the baseline"
)


def baseline_points(
    m: Matrix,
    supports: Mapping[str, Mapping[str, float]],
    target: str,
    lower_is_better: bool,
    costs: Mapping[str, Mapping[str, Any]],
    fit: DatamodelFit,
    boot: Bootstrap,
) -> list[dict[str, Any]]:
    """Per baseline: (cost in retrain units, LDS with its CI) on the alpha test models, and the paired
    gap of the unlearning-based datamodel (fitted on all its train-family models, as budget.json's
    all_models) over it."""
    from ..datamodel import fit_datamodel

    y = m.behaviour(target)
    tr, ur = m.rows("retrain"), m.rows("unlearn")
    test_masks, test_y = m.masks[tr], y[tr]
    dm = fit_datamodel(m.masks[ur], y[ur], fit)
    pred_unlearn = dm.predict(test_masks)
    points = []
    for method, cost in costs.items():
        coef = coefficients(aligned(supports[method], m.unit_ids, f"baseline {method}"), lower_is_better)
        pred = test_masks.astype(np.float64) @ coef
        lo, hi = bootstrap_ci(pred, test_y, boot.n_bootstrap, boot.ci_level, boot.seed)
        value = lds(pred, test_y)
        points.append(
            {
                "method": method,
                "units": cost["units"],
                "attribution_units": cost["attribution_units"],
                "lds": finite_or_none(value),
                "ci95": [finite_or_none(lo), finite_or_none(hi)],
                "test_models": int(len(tr)),
                "wall_seconds": cost["wall_seconds"],
                "cpu_seconds": cost["cpu_seconds"],
                "gap_to_unlearning": paired_gap(pred_unlearn, pred, test_y, boot),
            }
        )
    return points


def budget_baselines(
    m: Matrix,
    score_jsons: Sequence[PathLike],
    images_bench: PathLike,
    method_benches: Sequence[PathLike],
    base_bench: PathLike,
    prune_bench: PathLike,
    unit_seconds: float,
    target: str,
    fit: DatamodelFit,
    boot: Bootstrap,
) -> list[dict[str, Any]]:
    """The budget stage's baseline points from its matrix (read once by the stage) and files.
    Benchmarks are matched to their method by file name (<method>.tsv); the model each method
    attributed (its scores' settings) decides its one-off cost: base training, plus pruning and its
    fine-tune for the pruned model."""
    from pathlib import Path

    from ...core.atomic import read_json
    from ...core.metrics import lower_is_better

    benches = {Path(p).stem: p for p in method_benches}
    costs = {}
    for path in score_jsons:
        info = read_json(path)
        one_off = {
            "train_base": base_bench,
            **({"prune_finetune": prune_bench} if info["settings"]["model"] == "prune" else {}),
        }
        costs.update(baseline_costs(images_bench, {info["method"]: benches[info["method"]]}, one_off, unit_seconds))
    return baseline_points(m, read_supports(score_jsons), target, lower_is_better(target), costs, fit, boot)
