"""Stage budget: the LDS of the unlearning- and the retraining-based datamodel at equal compute, costs
from the jobs' benchmark files (budget.cost_model), and the paired gap between them."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import read_json, write_json
from ..budget import GAP_CONVENTION, budget_curve, compare_first
from ..matrix import Matrix, average_seeds, read_matrix
from ..report import one_off_label
from ..subsets import mask_of

PathLike = str | os.PathLike


@dataclass(frozen=True)
class BaselineFiles:
    """The cheap baselines' files the budget charges and scores: each method's scores.json, the
    generated images' benchmark and each method's own (named <method>.tsv)."""

    scores: Sequence[PathLike]
    images_bench: PathLike
    method_benches: Sequence[PathLike]


def baseline_rows(
    subsets: Mapping[str, dict], behaviour_jsons: Sequence[PathLike], target: str
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Masks and behaviours of the retraining baseline (models retrained on training subsets)."""
    sids = [Path(p).stem for p in behaviour_jsons]
    masks = np.array([mask_of(subsets[s]["unit_indices"], subsets[s]["n_units"]) for s in sids])
    y = np.array([read_json(p)["metrics"][target] for p in behaviour_jsons], dtype=np.float64)
    return masks, y, sids


def budget_stage(  # noqa: PLR0913
    m: Matrix,
    subsets: Mapping[str, dict],
    baseline_jsons: Sequence[PathLike],
    target: str,
    costs: Mapping[str, Any],
    grid: Sequence[float],
    fit: Mapping[str, Any],
    boot: Mapping[str, Any],
    out_json: PathLike,
    out_png: PathLike,
    caption: str,
    baselines: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """LDS of the unlearning- and the retraining-based datamodel at each budget on the grid, and the
    paired gap between them; `baselines` (baselines.cost.baseline_points) join as single points."""
    from ..figures import budget_figure

    ur, tr = m.rows("unlearn"), m.rows("retrain")
    y = m.behaviour(target)
    b_masks, b_y, b_ids = baseline_rows(subsets, baseline_jsons, target)
    points = budget_curve(grid, costs, (m.masks[ur], y[ur]), (b_masks, b_y), (m.masks[tr], y[tr]), fit, boot)
    full = compare_first((m.masks[ur], y[ur]), len(ur), (b_masks, b_y), len(b_y), (m.masks[tr], y[tr]), fit, boot)
    out = {
        "behaviour": target,
        "estimator": fit["estimator"],
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
        from ..baselines.cost import GAP_CONVENTION as BASELINE_GAP

        out.update({"baselines": list(baselines), "baseline_gap_convention": BASELINE_GAP})
    write_json(out_json, out)
    budget_figure(points, out_png, caption, [{**b, "label": b["method"]} for b in baselines])
    return out


def make_budget(  # noqa: PLR0913
    matrix_h5: PathLike,
    subsets_jsons: Sequence[PathLike],
    baseline_jsons: Sequence[PathLike],
    retrain_benches: Sequence[tuple[PathLike, PathLike]],
    unlearn_benches: Sequence[tuple[PathLike, PathLike, int, int]],
    one_off: Mapping[str, PathLike],
    base_train_json: PathLike,
    datamodel_cfg: Mapping[str, Any],
    boot: Mapping[str, Any],
    grid: Sequence[float],
    target: str,
    out_json: PathLike,
    out_png: PathLike,
    baselines: BaselineFiles | None = None,
    seed_retrain: Mapping[str, Mapping[str, float]] | None = None,
    test_seeds: int = 1,
) -> dict[str, Any]:
    """The costs (retrain_benches: (retrain job, its evaluation) per model; unlearn_benches: (unlearn
    batch, its evaluation, its models the matrix holds, the models it trains); one_off: what
    unlearning pays once), then the comparison.
    Both sides are linear datamodels (the paper's): the primary one when it is one, else the first
    datamodel listed, else ridge. `baselines` (when a baseline is configured) adds each as a point
    (cost, LDS) beside the two curves. With `test_seeds` above 1 the test models' behaviours are the
    mean over their seeds (`seed_retrain`: seeds 2..s; matrix.average_seeds), as the lds stage's."""
    from ..budget import cost_model
    from ..estimators import DATAMODELS
    from ..subsets import read_subsets

    costs = cost_model(
        retrain_benches,
        unlearn_benches,
        one_off,
        base_imported=read_json(base_train_json).get("pretrained") is not None,
    )
    dm = datamodel_cfg
    est = next(e for e in [dm["primary"], *dm["estimators"], "ridge"] if e in DATAMODELS)
    fit = {"estimator": est, **{k: dm[k] for k in ("alphas", "cv_folds", "seed", "lasso_path")}}
    caption = f"{fit['estimator']} datamodel of {target}; unit = {costs['unit_seconds']:.0f} s"
    # Read once: the curve and the baselines' points both score on its test rows.
    m = read_matrix(matrix_h5)
    if test_seeds > 1:
        m = average_seeds(m, seed_retrain or {}, test_seeds)
    points = []
    if baselines is not None:
        from ..baselines.cost import budget_baselines

        points = budget_baselines(
            m,
            baselines.scores,
            baselines.images_bench,
            baselines.method_benches,
            one_off["train_base"],
            one_off["prune_finetune"],
            costs["unit_seconds"],
            target,
            fit,
            boot,
        )
    return budget_stage(
        m,
        read_subsets(subsets_jsons),
        baseline_jsons,
        target,
        costs,
        grid,
        fit,
        boot,
        out_json,
        out_png,
        caption,
        points,
    )
