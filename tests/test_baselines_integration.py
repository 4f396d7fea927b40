"""The baselines in the smoke run (the smoke preset lists all four): their stage's files, their
points on the equal-compute axis, their rows of the estimator table (checked with every estimator
in test_integration.py, as their counterfactual removals are)."""

import json

import numpy as np
import pytest
import yaml
from conftest import SMOKE, planned_jobs

pytestmark = pytest.mark.integration
BASELINES = ["trak", "dtrak", "pixel", "feature"]


def test_baselines_stage_writes_scores_per_unit_and_image(smoke_run):
    store = next((smoke_run / "results/store/baselines").glob("*/"))
    smoke = yaml.safe_load((smoke_run / "config/presets/smoke.yaml").read_text())
    spec = json.loads((store / "spec.json").read_text())
    assert spec["stage"] == "baselines" and {"train_base", "baseline_images"} <= set(spec["upstream"])
    # The images the base model's behaviour is computed on: the same noises, the same count.
    images = np.load(smoke_run / "results/store/baseline_images" / spec["upstream"]["baseline_images"] / "images.npz")
    assert images["images"].shape == (smoke["behaviour"]["n_samples"], 1, 8, 8)
    for method in BASELINES:
        info = json.loads((store / method / "scores.json").read_text())
        per_image = np.load(store / method / "per_image.npy")
        assert info["method"] == method and info["n_units"] == 10 and len(per_image) == info["n_train_images"]
        assert set(info["support"]) == {f"class-{d}" for d in range(10)}
        assert all(np.isfinite(v) for v in info["support"].values())
        assert (store / "benchmarks" / f"{method}.tsv").exists()
    trak = json.loads((store / "trak" / "scores.json").read_text())
    assert trak["settings"]["timesteps"] == smoke["baselines"]["timesteps"] and trak["reduce_over_unit_images"] == "sum"


def test_baselines_are_points_on_the_budget_axis(smoke_run):
    budget = json.loads((smoke_run / "results/runs/smoke/budget.json").read_text())
    points = {b["method"]: b for b in budget["baselines"]}
    assert set(points) == set(BASELINES)
    for p in points.values():
        assert p["units"] > p["attribution_units"] > 0 and p["test_models"] == 4
        assert set(p["wall_seconds"]) == {"train_base", "images", "scores"}
        if p["lds"] is not None:
            assert p["ci95"][0] <= p["lds"] <= p["ci95"][1] or p["ci95"][0] is None


def test_baseline_change_replans_only_the_baselines_and_the_analysis(smoke_run):
    over = smoke_run / "baselines.yaml"
    over.write_text("baselines: {timesteps: 3}\n")
    jobs = planned_jobs(smoke_run, *SMOKE, str(over))
    # The generated images do not depend on the baselines' settings: only the scores are redone.
    assert jobs["baselines"] == 4 and "baseline_images" not in jobs
    assert not {"unlearn", "retrain", "behaviour", "behaviour_unlearn", "train_base", "prune"} & set(jobs)
