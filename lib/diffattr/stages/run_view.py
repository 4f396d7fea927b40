"""Stage run_view: the human view of a run, results/runs/<run_name>/: copies of the final artifacts
and of the report's figures (figures/), and a manifest naming every stage's store folder and what
was hashed into it; cheap to rebuild, so never the only copy."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..core.atomic import atomic_path, read_json, write_json
from ..workflow.layout import VIEW_FIGURES_DIR, in_batch


def unlearn_startup_summary(batch_dirs: Sequence[str]) -> dict:
    jobs = [read_json(in_batch(d, "unlearn", "job")) for d in batch_dirs]
    shares = [j["startup_share"] for j in jobs if j.get("startup_share") is not None]
    return {
        "jobs": len(jobs),
        "subsets_per_job": [len(j["subsets"]) for j in jobs],
        "startup_seconds": [j.get("startup_seconds") for j in jobs],
        "job_seconds": [j["job_seconds"] for j in jobs],
        "max_startup_share": max(shares) if shares else None,
    }


def write_run_view(
    *,
    inputs: Mapping[str, object],
    outputs: Sequence[str],
    stores: Mapping[str, str],
    hashes: Mapping[str, str],
    run_name: str,
    excluded: Sequence[str] = (),
    figures: Mapping[str, str] | None = None,
    specs: Mapping[str, Mapping] | None = None,
) -> None:
    """`figures`: view figure name -> the stored PNG it copies (the outputs under figures/ name each
    one); `specs`: stage -> what was hashed into its folder (plan.Plan.specs), kept in the manifest."""
    by_name = {Path(o).name: o for o in outputs if Path(o).parent.name != VIEW_FIGURES_DIR}
    figure_outputs = {Path(o).name: o for o in outputs if Path(o).parent.name == VIEW_FIGURES_DIR}
    figures = dict(figures or {})
    if set(figures) != set(figure_outputs):
        raise ValueError(f"run view: figures {sorted(figures)} do not match the outputs {sorted(figure_outputs)}")
    markers = [o for o in outputs if Path(o).name.startswith(".view-")]
    for key, name in (
        ("lds", "lds.json"),
        ("attributions", "attributions.csv"),
        ("matrix", "matrix.h5"),
        ("budget", "budget.json"),
        ("table1", "table1.csv"),
        ("summary", "summary.html"),
        ("estimators", "estimators.csv"),
        ("counterfactual", "counterfactual.csv"),
    ):
        with atomic_path(by_name[name], suffix=Path(name).suffix) as tmp:
            shutil.copyfile(str(inputs[key]), tmp)
    # Copies, not links: a view edited by hand must not change the store.
    for name, source in figures.items():
        with atomic_path(figure_outputs[name], suffix=".png") as tmp:
            shutil.copyfile(str(source), tmp)
    lds = read_json(inputs["lds"])
    base, pruned, prune_info = read_json(inputs["base"]), read_json(inputs["pruned"]), read_json(inputs["prune_info"])
    batches = inputs["unlearn_jobs"]
    batches = [batches] if isinstance(batches, str) else list(batches)
    write_json(
        by_name["manifest.json"],
        {
            "run_name": run_name,
            "excluded_subsets": list(excluded),
            "stores": dict(stores),
            "hashes": dict(hashes),
            "specs": {stage: dict(spec) for stage, spec in (specs or {}).items()},
            "figures": sorted(figures),
            "lds": {k: lds[k] for k in ("lds", "ci95", "estimator", "behaviour", "n_train_models", "n_test_models")},
            # Per family: candidates, skipped for equalling a test subset, redrawn, kernel duplicates kept.
            "subsets": lds.get("subsets", {}),
            "full_data_behaviour": {"base": base["metrics"], "pruned": pruned["metrics"]},
            "pruning": {k: prune_info[k] for k in ("params_before", "params_after", "macs_before", "macs_after")},
            "unlearn_jobs": unlearn_startup_summary(batches),
            "budget": {k: v for k, v in read_json(inputs["budget"])["costs"].items() if not isinstance(v, list)},
        },
    )
    # The marker names the plan this view shows; older markers only name views it replaced.
    for marker in markers:
        for stale in Path(marker).parent.glob(".view-*"):
            if stale.name != Path(marker).name:
                stale.unlink()
        write_json(marker, {"hashes": dict(hashes), "excluded_subsets": list(excluded)})
