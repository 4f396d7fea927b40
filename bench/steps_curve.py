"""How many unlearning steps are enough? Re-runs only unlearning (and what reads it) at several
`unlearn.steps` values on an existing store and tabulates, per value: steps (and their share of the
base model's steps), the speed-up per model with its evaluation (budget.json), FID2 to the retrained
model (Table 1's pairs), proxy fidelity (Spearman between unlearned and retrained behaviour on the
baseline subsets) and the LDS, each LDS with its paired bootstrap CI against the reference value
(100 steps, the default: 10 % of the base model's 1,000; the paper's 2 % is 20).

Content addressing makes this cheap: the base, pruned and retrained models, the classifier and the
reference statistics are reused; only the unlearned train family (datamodel.estimators: [ridge],
the paper's estimator), its behaviours and the analysis are computed per value. The counterfactual
check and the other estimators' families are not run.

Usage (after `make run`, from the repository root):
    .venv/bin/python bench/steps_curve.py [--steps 20 50 100 200] [--reference 100] [--cores 2]
Writes bench/out/steps_curve.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from diffattr.core.stats import paired_gap_ci  # noqa: E402
from diffattr.workflow.addressing import build_plan  # noqa: E402
from diffattr.workflow.layout import Layout  # noqa: E402


def _merge(a: dict, b: dict) -> None:
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(a.get(k), dict):
            _merge(a[k], v)
        else:
            a[k] = v


def measure(configfiles: list[str], name: str, overlay: dict, cores: str) -> dict:
    """Run the analysis targets (lds, budget, table1) with `overlay` over `configfiles` (only what
    the overlay changes is computed; the rest comes from the store) and read back their outputs."""
    over = {"run_name": name, "datamodel": {"estimators": ["ridge"], "primary": "ridge"}}
    _merge(over, overlay)
    cfg: dict = {}
    for f in configfiles:
        _merge(cfg, yaml.safe_load((ROOT / f).read_text()))
    _merge(cfg, over)
    path = ROOT / "bench/out" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(over))
    start = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "snakemake",
            "lds",
            "budget",
            "table1",
            "--cores",
            cores,
            "--configfile",
            *configfiles,
            str(path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{name}: snakemake failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    layout = Layout(build_plan(cfg).hashes)
    lds = json.loads((ROOT / layout.path("lds", "lds")).read_text())
    budget = json.loads((ROOT / layout.path("budget", "budget")).read_text())
    with open(ROOT / layout.path("table1", "csv"), newline="") as fh:
        table = {r["model"]: r for r in csv.DictReader(fh)}
    return {
        "name": name,
        "overlay": overlay,
        "unlearn": cfg["unlearn"],
        "share_of_base_steps": cfg["unlearn"]["steps"] / cfg["train_base"]["steps"],
        "wall_seconds": round(time.perf_counter() - start, 1),
        "lds": lds,
        "budget": budget,
        "fid2": float(table["unlearned"]["fid2"]),
        "fid2_sd": table["unlearned"]["fid2_sd"],
        "unlearned_fid": float(table["unlearned"][lds["behaviour"]]),
        "pruned_fid": float(table["pruned + fine-tuned"][lds["behaviour"]]),
    }


def compare(results: dict[str, dict], reference: str) -> list[dict]:
    """One row per result, each LDS with its paired bootstrap CI against the reference's (the same
    test models)."""
    ref = results[reference]["lds"]
    rows = []
    for name, r in results.items():
        lds = r["lds"]
        assert lds["test_subsets"] == ref["test_subsets"], "the results must share their test models"
        pred, ref_pred = (x["estimators"]["ridge"]["predicted"] for x in (lds, ref))
        gap_ci = (
            paired_gap_ci(pred, ref_pred, lds["actual"], lds["n_bootstrap"], lds["ci_level"], 0)
            if name != reference
            else (0.0, 0.0)
        )
        costs = r["budget"]["costs"]
        fidelity = lds.get("proxy_fidelity") or {}
        rows.append(
            {
                "name": name,
                "steps": r["unlearn"]["steps"],
                "share_of_base_steps": r["share_of_base_steps"],
                "speedup_with_eval": costs["speedup"],
                "train_job_speedup": costs["train_job_speedup"],
                "fid2": r["fid2"],
                "fid2_sd": r["fid2_sd"],
                "unlearned_fid": r["unlearned_fid"],
                "proxy_spearman": fidelity.get("spearman"),
                "proxy_spearman_ci95": fidelity.get("spearman_ci95"),
                "proxy_pearson": fidelity.get("pearson"),
                "proxy_pearson_ci95": fidelity.get("pearson_ci95"),
                "lds": lds["lds"],
                "lds_ci95": lds["ci95"],
                "gap_to_reference": lds["lds"] - ref["lds"],
                "gap_ci95": list(gap_ci),
                "ceiling": lds.get("ceiling"),
                "wall_seconds": r["wall_seconds"],
            }
        )
    return rows


def table(rows: list[dict], reference: str) -> str:
    def ci(v: list | None) -> str:
        return f"[{v[0]:.2f}, {v[1]:.2f}]" if v and None not in v else ""

    out = [
        "| run | steps (share of base) | speed-up with eval | FID2 | proxy Spearman [CI] | proxy Pearson [CI] | "
        f"LDS [CI] | LDS - LDS({reference}) [paired CI] |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ps, pp = r["proxy_spearman"], r["proxy_pearson"]
        out.append(
            f"| {r['name']} | {r['steps']} ({r['share_of_base_steps']:.0%}) | {r['speedup_with_eval']:.1f}x | "
            f"{r['fid2']:.2f} | "
            + (f"{ps:.2f} {ci(r['proxy_spearman_ci95'])}" if ps is not None else "n/a")
            + " | "
            + (f"{pp:.2f} {ci(r['proxy_pearson_ci95'])}" if pp is not None else "n/a")
            + f" | {r['lds']:.3f} {ci(r['lds_ci95'])} | "
            f"{r['gap_to_reference']:+.3f} [{r['gap_ci95'][0]:+.3f}, {r['gap_ci95'][1]:+.3f}] |"
        )
    return "\n".join(out)


def commit() -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--configfile", nargs="+", default=["config/config.yaml"])
    ap.add_argument("--steps", nargs="+", type=int, default=[20, 50, 100, 200])
    ap.add_argument("--reference", type=int, default=100)
    ap.add_argument("--cores", default="2")
    ap.add_argument("--out", default="bench/out/steps_curve.json")
    args = ap.parse_args()
    results = {
        f"steps-{s}": measure(args.configfile, f"steps-{s}", {"unlearn": {"steps": s}}, args.cores)
        for s in sorted(set(args.steps) | {args.reference})
    }
    rows = compare(results, f"steps-{args.reference}")
    Path(args.out).write_text(
        json.dumps(
            {"reference": f"steps-{args.reference}", "configfiles": args.configfile, "rows": rows, "commit": commit()},
            indent=1,
        )
    )
    print(table(rows, f"steps-{args.reference}"))


if __name__ == "__main__":
    main()
