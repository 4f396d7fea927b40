"""The power planner's interval half-widths against a finished run's bootstrap intervals.

For every estimator of the run's primary behaviour: the Fisher-z half-width at its LDS and K test
models (lib/diffattr/attribution/power.py) beside its percentile-bootstrap half-width (lds.json); for every
paired gap to the primary: the planner's half-width, with the two estimators' agreement measured as
the Spearman of their predictions on the test models, beside the bootstrap gap interval's
(estimators.csv). Writes bench/out/power_check.json.
Usage: python bench/power_check.py results/runs/default [more run views...]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

from machine import cpu_model  # bench/machine.py: bench/ is on sys.path when a bench script runs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

from diffattr.attribution import power  # noqa: E402
from diffattr.core.stats import spearman  # noqa: E402


def check(run_dir: Path) -> dict:
    lds = json.loads((run_dir / "lds.json").read_text())
    level = float(lds["ci_level"])
    primary = lds["estimator"]
    estimators = lds["estimators"]
    rows = []
    for name, entry in estimators.items():
        k = int(entry["n_test_models"])
        lo, hi = entry["ci95"]
        rows.append(
            {
                "estimator": name,
                "lds": entry["lds"],
                "n_test_models": k,
                "bootstrap_halfwidth": (hi - lo) / 2,
                "planner_halfwidth": power.lds_halfwidth(entry["lds"], k, level),
            }
        )
    gaps = []
    with open(run_dir / "estimators.csv") as fh:
        table = [row for row in csv.DictReader(fh) if row["behaviour"] == lds["behaviour"]]
    # The primary test set's rows come first; extra test sets (lds.extra_alphas) follow.
    for row in table:
        if row["alpha"] != table[0]["alpha"] or row["estimator"] == primary or not row["gap_ci_low"]:
            continue
        a, b = estimators[row["estimator"]], estimators[primary]
        agreement = spearman(a["predicted"], b["predicted"])
        gaps.append(
            {
                "estimator": row["estimator"],
                "vs": primary,
                "agreement": agreement,
                "bootstrap_halfwidth": (float(row["gap_ci_high"]) - float(row["gap_ci_low"])) / 2,
                "planner_halfwidth": power.gap_halfwidth(a["lds"], b["lds"], agreement, int(a["n_test_models"]), level),
            }
        )
    for row in rows + gaps:
        # A degenerate bootstrap (an all-tied prediction scores 0 in every resample) has no width to match.
        width = row["bootstrap_halfwidth"]
        row["ratio"] = row["planner_halfwidth"] / width if width > 0 else None
    return {"run": str(run_dir), "behaviour": lds["behaviour"], "ci_level": level, "lds": rows, "gaps": gaps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "power_check.json")
    args = parser.parse_args()
    result = {"cpu": cpu_model(), "runs": [check(run) for run in args.runs]}
    os.makedirs(args.out.parent, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    for run in result["runs"]:
        print(run["run"])
        for row in run["lds"] + run["gaps"]:
            label = row["estimator"] + (f" - {row['vs']}" if "vs" in row else "")
            print(
                f"  {label:20s} bootstrap {row['bootstrap_halfwidth']:.3f}  planner {row['planner_halfwidth']:.3f}"
                f"  ratio {row['ratio']:.2f}"
                if row["ratio"] is not None
                else "  (degenerate bootstrap)"
            )


if __name__ == "__main__":
    main()
