"""Stage budget: the LDS of the unlearning- and the retraining-based datamodel at equal compute, costs
from the jobs' benchmark files (budget.cost_model), and the paired gap between them."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..attribution.budget import GAP_CONVENTION, budget_curve, compare_first
from ..attribution.lds import metrics_by_subset
from ..attribution.matrix import Matrix, average_seeds, read_matrix
from ..attribution.subsets import mask_of
from ..core.atomic import read_json, write_json
from ..core.settings import Bootstrap, BudgetSettings, DatamodelFit
from ..reporting.report import one_off_label

PathLike = str | os.PathLike


def baseline_rows(
    subsets: Mapping[str, dict], behaviour_jsons: Sequence[PathLike], target: str
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Masks and behaviours of the retraining baseline (models retrained on training subsets)."""
    sids = [Path(p).stem for p in behaviour_jsons]
    masks = np.array([mask_of(subsets[s]["unit_indices"], subsets[s]["n_units"]) for s in sids])
    y = np.array([read_json(p)["metrics"][target] for p in behaviour_jsons], dtype=np.float64)
    return masks, y, sids


def budget_stage(  # noqa: PLR0913  (the matrix, records, settings and outputs make_budget read; keyword-only after m)
    m: Matrix,
    *,
    subsets: Mapping[str, dict],
    baseline_jsons: Sequence[PathLike],
    target: str,
    costs: Mapping[str, Any],
    grid: Sequence[float],
    fit: DatamodelFit,
    boot: Bootstrap,
    out_json: PathLike,
    out_png: PathLike,
    caption: str,
    baselines: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """LDS of the unlearning- and the retraining-based datamodel at each budget on the grid, and the
    paired gap between them; `baselines` (baselines.cost.baseline_points) join as single points."""
    from ..reporting.figures import budget_figure

    ur, tr = m.rows("unlearn"), m.rows("retrain")
    y = m.behaviour(target)
    b_masks, b_y, b_ids = baseline_rows(subsets, baseline_jsons, target)
    points = budget_curve(grid, costs, (m.masks[ur], y[ur]), (b_masks, b_y), (m.masks[tr], y[tr]), fit, boot)
    full = compare_first((m.masks[ur], y[ur]), len(ur), (b_masks, b_y), len(b_y), (m.masks[tr], y[tr]), fit, boot)
    out = {
        "behaviour": target,
        "estimator": fit.estimator,
        "costs": dict(costs),
        "grid": list(grid),
        "points": points,
        "all_models": full,
        "gap_convention": GAP_CONVENTION,
        "baseline_subsets": b_ids,
        "test_models": int(len(tr)),
        # each test model's behaviour the mean of this many seeds (lds.test_seeds; absent at 1)
        **({"test_seeds": m.n_seeds} if m.n_seeds > 1 else {}),
        "accounting": "budget in retrain units = wall seconds / median(retrain job + its evaluation job); "
        f"unlearning pays {one_off_label(costs)} once (one_off_units) before its first "
        "model; each method's models are the first m of its subsets",
    }
    if baselines:
        from ..attribution.baselines.cost import GAP_CONVENTION as BASELINE_GAP

        out.update({"baselines": list(baselines), "baseline_gap_convention": BASELINE_GAP})
    write_json(out_json, out)
    budget_figure(points, out_png, caption, [{**b, "label": b["method"]} for b in baselines])
    return out


def make_budget(  # noqa: PLR0913  (its rule's input and output keys; keyword-only)
    *,
    matrix: PathLike,
    baseline: Sequence[PathLike],
    subsets: Sequence[PathLike],
    retrain_batches: Sequence[PathLike],
    retrain_bench: Sequence[PathLike],
    retrain_eval_bench: Sequence[PathLike],
    unlearn_bench: Sequence[PathLike],
    unlearn_eval_bench: Sequence[PathLike],
    base_bench: PathLike,
    base_train: PathLike,
    prune_bench: PathLike,
    budget: PathLike,
    figure: PathLike,
    batch_models: Sequence[tuple[int, int]],
    retrain_ids: Sequence[str],
    retrain_eval: Sequence[tuple[int, int]],
    settings: BudgetSettings,
    baselines: Sequence[PathLike] | None = None,
    baseline_images_bench: PathLike | None = None,
    baselines_bench: Sequence[PathLike] | None = None,
    seeds: Sequence[PathLike] | None = None,
    test_seeds: int = 1,
) -> dict[str, Any]:
    """The costs from the benchmark files (each retrained model of `retrain_ids`: its share of its
    retraining batch's job, `retrain_bench` beside the batch folders `retrain_batches` whose job
    records give each model's train seconds (budget.retrain_batch_costs), and its share of its
    evaluation batch: `retrain_eval` holds per model (its batch's place in `retrain_eval_bench`, the
    models the batch evaluates); each unlearning batch's, `unlearn_bench`, its evaluation,
    `unlearn_eval_bench`, and `batch_models`: (its models the matrix holds, the models it trains);
    what unlearning pays once: `base_bench`, `prune_bench`), then the comparison on `matrix` against
    the retraining baseline (`baseline`: its behaviour files, `subsets`: their subsets files), written
    to `budget` (JSON) and `figure`.
    Both sides are linear datamodels (the paper's): the primary one when it is one, else the first
    datamodel listed, else ridge. `baselines` (when a baseline is configured: each method's
    scores.json, with the generated images' benchmark and each method's own, <method>.tsv) adds each
    as a point (cost, LDS) beside the two curves. With `test_seeds` above 1 the test models' behaviours
    are the mean over their seeds (`seeds`: the behaviour files of seeds 2..s; matrix.average_seeds),
    as the lds stage's."""
    from ..attribution.budget import cost_model, retrain_batch_costs
    from ..attribution.estimators import DATAMODELS
    from ..attribution.subsets import read_subsets
    from ..workflow.layout import in_batch

    one_off = {"train_base": base_bench, "prune_finetune": prune_bench}
    trained = {
        sid: seconds
        for folder, bench in zip(retrain_batches, retrain_bench, strict=True)
        for sid, seconds in retrain_batch_costs(bench, read_json(in_batch(folder, "retrain", "job"))).items()
    }
    costs = cost_model(
        [(trained[sid], retrain_eval_bench[i], n) for sid, (i, n) in zip(retrain_ids, retrain_eval, strict=True)],
        [(b, e, used, trained) for b, e, (used, trained) in zip(unlearn_bench, unlearn_eval_bench, batch_models)],
        one_off,
        base_imported=read_json(base_train).get("pretrained") is not None,
    )
    dm, target, boot = settings.datamodel, settings.target, settings.bootstrap
    est = next(e for e in [dm.primary, *dm.estimators, "ridge"] if e in DATAMODELS)
    fit = dm.fit(est)
    caption = f"{fit.estimator} datamodel of {target}; unit = {costs['unit_seconds']:.0f} s"
    # Read once: the curve and the baselines' points both score on its test rows.
    m = read_matrix(matrix)
    if test_seeds > 1:
        m = average_seeds(m, metrics_by_subset(seeds or ()), test_seeds)
    points = []
    if baselines:
        from ..attribution.baselines.cost import budget_baselines

        points = budget_baselines(
            m,
            list(baselines),
            baseline_images_bench,
            list(baselines_bench or ()),
            one_off["train_base"],
            one_off["prune_finetune"],
            costs["unit_seconds"],
            target,
            fit,
            boot,
        )
    return budget_stage(
        m,
        subsets=read_subsets(subsets),
        baseline_jsons=baseline,
        target=target,
        costs=costs,
        grid=settings.grid,
        fit=fit,
        boot=boot,
        out_json=budget,
        out_png=figure,
        caption=caption,
        baselines=points,
    )
