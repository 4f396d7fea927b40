"""Stage counterfactual: the behaviour change after removing each estimator's most helpful units and
retraining, against removing as many random units (table and figure)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core.atomic import read_json, write_json, write_text

PathLike = str | os.PathLike


def counterfactual_table(
    *,
    plan: PathLike,
    behaviours: Sequence[PathLike],
    base: PathLike,
    removals: Sequence[PathLike] = (),
    info: PathLike,
    table: PathLike,
    figure: PathLike,
) -> dict[str, Any]:
    """Behaviour change (removed - all data, both retrained from scratch with the base recipe) per
    ranking and fraction, against the mean and spread of the random removals."""
    from ..reporting.figures import counterfactual_figure

    removal_plan = read_json(plan)
    # the records the retrainings read (stage cf_removal) must be this plan's removals
    recorded = {sid for r in removals for sid in read_json(r)["subsets"]}
    if removals and recorded != set(removal_plan["subsets"]):
        raise ValueError(f"the removal records {sorted(recorded)} are not the plan's {sorted(removal_plan['subsets'])}")
    target = removal_plan["target"]
    value = {Path(p).stem: float(read_json(p)["metrics"][target]) for p in behaviours}
    base_value = float(read_json(base)["metrics"][target])
    rows = []
    for fraction in sorted({r["fraction"] for r in removal_plan["removals"]}):
        at = [r for r in removal_plan["removals"] if r["fraction"] == fraction]
        rand = np.array([value[r["id"]] - base_value for r in at if r["kind"] == "random"])
        for r in at:
            if r["kind"] != "top":
                continue
            delta = value[r["id"]] - base_value
            # z-score against the random removals: how many random spreads the ranking beats them by.
            sd = float(rand.std(ddof=1)) if len(rand) > 1 else float("nan")
            rows.append(
                {
                    "estimator": r["estimator"],
                    "fraction": fraction,
                    "k": r["k"],
                    "removed": r["removed"],
                    "behaviour": value[r["id"]],
                    "change": delta,
                    "random_mean_change": float(rand.mean()),
                    "random_sd_change": sd,
                    "random_min_change": float(rand.min()),
                    "random_max_change": float(rand.max()),
                    "z_vs_random": (delta - float(rand.mean())) / sd if sd and np.isfinite(sd) else float("nan"),
                }
            )
    out = {
        "behaviour": target,
        "lower_is_better": removal_plan["lower_is_better"],
        "all_data_behaviour": base_value,
        "reading": "change = behaviour after removing the units - behaviour with all data (both trained from "
        "scratch with the base recipe); removing the most helpful units should move the behaviour the "
        "bad way (up when lower is better) by more than removing random units",
        "rows": rows,
        # Estimators whose scores are all tied: no ranking, so no removal.
        "no_ranking": removal_plan.get("no_ranking", []),
        "random": {
            str(f): [
                value[r["id"]] - base_value
                for r in removal_plan["removals"]
                if r["kind"] == "random" and r["fraction"] == f
            ]
            for f in sorted({r["fraction"] for r in removal_plan["removals"]})
        },
    }
    write_json(info, out)
    lines = ["estimator,fraction,k,change,random_mean_change,random_sd_change,z_vs_random,removed"]
    for r in rows:
        lines.append(
            f"{r['estimator']},{r['fraction']:g},{r['k']},{r['change']:.4g},{r['random_mean_change']:.4g},"
            f"{r['random_sd_change']:.4g},{r['z_vs_random']:.3g},{' '.join(r['removed'][:20])}"
        )
    write_text(table, "\n".join(lines) + "\n")
    counterfactual_figure(out, figure)
    return out
