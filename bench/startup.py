"""Per-job start-up (interpreter + imports) against job time, read from a finished run's records.

Writes bench/out/startup.json: for each unlearn job and each evaluation batch job (unlearned models'
and retrained models') its start-up seconds, job seconds and share, the mean evaluation time of an
unlearned model, each retraining batch job's start-up share and the retrainings' mean training
time; and `model_jobs`, issue 23
item 4's measure: per stage, every job that runs a model (its log names its device), its start-up
over its benchmark's wall, with how many jobs exceed 5 %.
Usage: python bench/startup.py [--run results/runs/default] [--results results]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from job_records import STARTUP_LIMIT, model_job_records  # bench/ is on sys.path

from diffattr.core.atomic import read_json, write_json
from diffattr.workflow.layout import batch_members, in_batch


def model_jobs(results: Path) -> dict[str, dict]:
    """Per stage: the start-up share of every job that runs a model, from its log and benchmark."""
    shares: dict[str, list[tuple[float, float]]] = {}
    for stage, _text, startup, wall in model_job_records(results):
        shares.setdefault(stage, []).append((startup, wall))
    out = {}
    for stage, jobs in sorted(shares.items()):
        share = np.array([st / w for st, w in jobs])
        out[stage] = {
            "jobs": len(jobs),
            "startup_seconds_median": float(np.median([st for st, _ in jobs])),
            "wall_seconds_median": float(np.median([w for _, w in jobs])),
            "share_min": float(share.min()),
            "share_median": float(np.median(share)),
            "share_max": float(share.max()),
            "jobs_over_limit": int((share > STARTUP_LIMIT).sum()),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="results/runs/default")
    ap.add_argument("--results", default=None, help="the run's results/ (default: the one holding --run)")
    ap.add_argument("--out", default="bench/out/startup.json")
    args = ap.parse_args()
    stores = read_json(Path(args.run) / "manifest.json")["stores"]
    batches = sorted(Path(stores["unlearn"]).glob("train-*-*"))
    jobs = [read_json(in_batch(d, "unlearn", "job")) for d in batches]
    beh = [
        read_json(in_batch(d, "behaviour_unlearn", "behaviour", sid))
        for d in sorted(Path(stores["behaviour_unlearn"]).glob("train-*-*"))
        for sid in batch_members(d, "behaviour_unlearn")
    ]
    # every behaviour batch job's record (unlearned models' and retrained models' evaluation batches)
    evaluations = {
        stage: [
            read_json(in_batch(d, stage, "job"))
            for d in sorted(Path(stores[stage]).iterdir())
            if in_batch(d, stage, "job").is_file()
        ]
        for stage in ("behaviour_unlearn", "behaviour_retrain", "behaviour_retrain_floor", "behaviour_retrain_cf")
        if stage in stores
    }
    # every retraining batch job's record (retrain, retrain_floor, retrain_cf)
    retrainings = [
        read_json(in_batch(d, "retrain", "job"))
        for stage in ("retrain", "retrain_floor", "retrain_cf")
        if stage in stores
        for d in sorted(Path(stores[stage]).iterdir())
        if in_batch(d, "retrain", "job").is_file()
    ]
    out = {
        "unlearn_jobs": [{k: j[k] for k in ("startup_seconds", "job_seconds", "startup_share")} for j in jobs],
        "unlearn_max_startup_share": max(j["startup_share"] for j in jobs),
        "unlearn_seconds_per_subset": float(np.mean([s for j in jobs for s in j["train_seconds"].values()])),
        "behaviour_eval_mean": float(np.mean([b["eval_seconds"] for b in beh])),
        "evaluation_jobs": {
            stage: [
                {"models": len(j["subsets"]), **{k: j[k] for k in ("startup_seconds", "job_seconds", "startup_share")}}
                for j in js
            ]
            for stage, js in evaluations.items()
        },
        "evaluation_max_startup_share": {
            stage: max(j["startup_share"] for j in js) for stage, js in evaluations.items() if js
        },
        "retrain_jobs": [
            {"models": len(j["subsets"]), **{k: j[k] for k in ("startup_seconds", "job_seconds", "startup_share")}}
            for j in retrainings
        ],
        "retrain_max_startup_share": max((j["startup_share"] for j in retrainings), default=None),
        # the models each job trained (not those it copied)
        "retrain_train_mean": float(
            np.mean([s for j in retrainings for sid, s in j["train_seconds"].items() if sid not in j.get("reused", {})])
        ),
        "model_jobs_limit": STARTUP_LIMIT,
        "model_jobs": model_jobs(Path(args.results) if args.results else Path(args.run).parents[1]),
    }
    write_json(args.out, out)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
