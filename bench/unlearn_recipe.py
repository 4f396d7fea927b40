"""The unlearning recipe's two variants side by side on an existing store (issue: start point and
EMA schedule): the default, the authors' recipe (start from the pruned model's raw weights, a fresh
EMA without warm-up, (1 + t) / (10 + t), batches shuffled by epoch), against the earlier one (start
from the pruned model's EMA weights, an EMA with warm-up, batches drawn with replacement). Per
variant: LDS with its paired CI against the default, proxy fidelity, FID2 and the speed-up. Only
the unlearned train family and what reads it are computed (datamodel.estimators: [ridge]). The
default is chosen by the authors' code, not by this table: picking it by its LDS on the test models
would be one more selection on the test set.

Usage (after `make run`): .venv/bin/python bench/unlearn_recipe.py [--cores 2]
Writes bench/out/unlearn_recipe.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from steps_curve import commit, compare, measure, table

VARIANTS = {
    "authors (default)": {},
    "EMA start, warm-up EMA, random batches": {"unlearn": {"init": "ema", "ema_warmup": True, "batching": "random"}},
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--configfile", nargs="+", default=["config/config.yaml"])
    ap.add_argument("--cores", default="2")
    ap.add_argument("--out", default="bench/out/unlearn_recipe.json")
    args = ap.parse_args()
    names = {"authors (default)": "recipe-authors", "EMA start, warm-up EMA, random batches": "recipe-ema-warmup"}
    results = {
        label: measure(args.configfile, names[label], overlay, args.cores) for label, overlay in VARIANTS.items()
    }
    rows = compare(results, "authors (default)")
    out = {"reference": "authors (default)", "rows": rows, "commit": commit()}
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(table(rows, "authors (default)"))


if __name__ == "__main__":
    main()
