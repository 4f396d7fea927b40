"""Finished runs of one config that differ in one setting that changes numbers but not the test
subsets (compute.precision, sampling_precision, prune.round_to): their headline figures side by side,
each run's LDS against the reference run's with a paired bootstrap over the shared test subsets
(Holm-adjusted over the comparisons), how far the test models' actual behaviours moved, and each
stage's summed job wall and CPU seconds.

Writes bench/out/precision_compare.json (--out to write elsewhere).
Usage: python bench/precision_compare.py --run fp32=/tmp/a/results/runs/default \
           --run bf16=/tmp/b/results/runs/default [--reference fp32]
(paths in a run's manifest are relative to its workflow folder, three levels above the run folder)
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from diffattr.core.atomic import read_json, write_json
from diffattr.core.stats import bootstrap_draws, bootstrap_p, holm, spearman, spearman_rows

N_BOOT, LEVEL, SEED = 2000, 0.95, 0


def stage_seconds(run: Path) -> dict[str, dict[str, float]]:
    """Per stage: its jobs' summed wall (`s`) and CPU seconds from the Snakemake benchmark files."""
    root = run.parents[2]
    out = {}
    for stage, store in read_json(run / "manifest.json")["stores"].items():
        wall = cpu = 0.0
        jobs = 0
        for tsv in sorted((root / store).rglob("*.tsv")):
            with open(tsv) as fh:
                rows = list(csv.DictReader(fh, delimiter="\t"))
            if rows and "cpu_time" in rows[0]:
                wall += float(rows[0]["s"])
                cpu += float(rows[0]["cpu_time"])
                jobs += 1
        if jobs:
            out[stage] = {"jobs": jobs, "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1)}
    return out


def headline(run: Path) -> dict:
    lds = read_json(run / "lds.json")
    budget = read_json(run / "budget.json")
    with open(run / "table1.csv") as fh:
        table = {row["model"]: row for row in csv.DictReader(fh)}
    seconds = stage_seconds(run)
    return {
        "lds": lds["lds"],
        "lds_ci95": lds["ci95"],
        "retrain_based_lds": budget["all_models"]["retrain"]["lds"],
        "ceiling": lds["ceiling"]["spearman"],
        "proxy_fidelity_spearman": lds["proxy_fidelity"]["spearman"],
        "proxy_fidelity_pearson": lds["proxy_fidelity"]["pearson"],
        "fid_base": float(table["original"]["fid"]),
        "fid_pruned": float(table["pruned + fine-tuned"]["fid"]),
        "fid_retrained_mean": float(table["retrained"]["fid"]),
        "fid_unlearned_mean": float(table["unlearned"]["fid"]),
        "fid2_unlearned": float(table["unlearned"]["fid2"]),
        "speedup_with_evaluation": budget["costs"]["speedup"],
        "speedup_training": budget["costs"]["train_job_speedup"],
        "budget_unit_seconds": budget["costs"]["unit_seconds"],
        "stages": seconds,
        "jobs_wall_seconds": round(sum(s["wall_seconds"] for s in seconds.values()), 1),
        "jobs_cpu_seconds": round(sum(s["cpu_seconds"] for s in seconds.values()), 1),
    }


def paired(ref: dict, other: dict) -> dict:
    """LDS(other) - LDS(reference) over the same test subsets, resampled jointly; each run scores its
    own predictions against its own actual behaviours."""
    if ref["test_subsets"] != other["test_subsets"]:
        raise SystemExit("the runs' test subsets differ: they are not runs of one config")
    pa, aa = (np.asarray(v, float) for v in (ref["estimators"][ref["estimator"]]["predicted"], ref["actual"]))
    pb, ab = (np.asarray(v, float) for v in (other["estimators"][other["estimator"]]["predicted"], other["actual"]))
    draws = bootstrap_draws(
        lambda idx: spearman_rows(pb[idx], ab[idx]) - spearman_rows(pa[idx], aa[idx]), len(aa), N_BOOT, SEED
    )
    lo, hi = np.percentile(draws, [50 * (1 - LEVEL), 50 * (1 + LEVEL)])
    return {
        "lds_difference": spearman(pb, ab) - spearman(pa, aa),
        "ci95": [float(lo), float(hi)],
        "p": bootstrap_p(draws),
        # how the test models' behaviours moved: their ranking's agreement and the mean |change|
        "actual_spearman_with_reference": spearman(aa, ab),
        "actual_mean_abs_change": float(np.mean(np.abs(ab - aa))),
        "predicted_spearman_with_reference": spearman(pa, pb),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", action="append", required=True, help="name=path of a run folder (results/runs/<name>)")
    ap.add_argument("--reference", default=None, help="the run the others are compared with (default: the first)")
    ap.add_argument("--out", default="bench/out/precision_compare.json")
    args = ap.parse_args()
    runs = dict(r.split("=", 1) for r in args.run)
    reference = args.reference or next(iter(runs))
    out = {"reference": reference, "n_bootstrap": N_BOOT, "ci_level": LEVEL, "runs": {}, "against_reference": {}}
    for name, path in runs.items():
        out["runs"][name] = {"path": path, **headline(Path(path))}
    ref_lds = read_json(Path(runs[reference]) / "lds.json")
    for name, path in runs.items():
        if name != reference:
            out["against_reference"][name] = paired(ref_lds, read_json(Path(path) / "lds.json"))
    names = list(out["against_reference"])
    for name, p_holm in zip(names, holm([out["against_reference"][n]["p"] for n in names])):
        out["against_reference"][name]["p_holm"] = p_holm
    write_json(args.out, out)
    print(json.dumps({k: v for k, v in out.items() if k != "runs"}, indent=1))
    for name, r in out["runs"].items():
        print(name, {k: v for k, v in r.items() if k not in ("stages", "path")})


if __name__ == "__main__":
    main()
