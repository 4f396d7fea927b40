"""Slurm time limits and memory sized per job from its forecast (lib/diffattr/workflow/slurm_limits.py): the
arithmetic (safety, floor, cap, slowdown, retries), the scaling with the configured steps across the
smoke, default and paper presets, a rule's own fixed entry winning, the config's one-line errors, the
calibration's memory probes (`make plan` showing them: tests/test_plan.py). That the rules send them to sbatch
is checked under a real Slurm by tests/slurm/test_slurm.py."""

import dataclasses
import json

import pytest
import yaml
from conftest import ROOT
from snakemake.utils import update_config
from test_config_errors import problems
from test_plan import SPEEDS

from diffattr.workflow import calibration
from diffattr.workflow.forecast import Context, job_seconds
from diffattr.workflow.slurm_limits import Limits, derived, memory_mb, requested, runtime_minutes

LIMITS = Limits(
    safety=3.0, floor_minutes=5, cap_minutes=600, slowdown=1.0, calibration="", mem_safety=1.5, mem_floor_mb=1000
)


def preset(name: str | None) -> dict:
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    if name:
        update_config(cfg, yaml.safe_load((ROOT / "config" / "presets" / f"{name}.yaml").read_text()))
    return cfg


def context(cfg: dict, batch: int = 3, retrain_batches: dict | None = None) -> Context:
    # the work of a retraining or an unlearning batch needs only the config and the batch's members
    return Context(
        config=cfg,
        chunks={"train-b0": [f"s{i}" for i in range(batch)]},
        behaviour_source={},
        n_images=500,
        image_values=64,
        retrain_batches=retrain_batches or {},
    )


def test_minutes_are_the_forecast_times_safety_between_floor_and_cap():
    assert runtime_minutes(600, LIMITS) == 30  # 10 min forecast x 3
    assert runtime_minutes(601, LIMITS) == 31  # whole minutes, rounded up
    assert runtime_minutes(10, LIMITS) == 5  # the floor
    assert runtime_minutes(10**6, LIMITS) == 600  # the cap
    assert runtime_minutes(600, dataclasses.replace(LIMITS, slowdown=2.0)) == 60  # nodes half as fast
    # a retry after a time-out asks for twice, then three times as much (the cap applies per attempt)
    assert [runtime_minutes(600, LIMITS, attempt=a) for a in (1, 2, 3)] == [30, 60, 90]
    assert memory_mb(2e9, LIMITS) == 3000 and memory_mb(1e8, LIMITS) == 1000
    assert memory_mb(2e9, LIMITS, attempt=2) == 6000


def test_runtimes_scale_with_the_configured_steps_across_presets():
    cfgs = {name or "default": preset(name) for name in ("smoke", None, "cifar10-paper")}
    # a retraining batch of one model (the forecast's bound for a batch it does not know, at
    # retrain.models_per_job 1) and of three
    single = {name: context(c, retrain_batches={"b": ["test-0000"]}) for name, c in cfgs.items()}
    seconds = {name: job_seconds("retrain", {"batch": "b"}, single[name], SPEEDS) for name in cfgs}
    steps = {name: c["train_base"]["steps"] for name, c in cfgs.items()}
    startup = SPEEDS.startup_heavy[0]
    for name in cfgs:  # the forecast is the steps at the calibrated step time plus the start-up
        assert seconds[name] == pytest.approx(steps[name] * SPEEDS.train_step[0] + startup)
    triple = context(cfgs["default"], retrain_batches={"b": ["test-0000", "test-0001", "test-0002"]})
    assert job_seconds("retrain", {"batch": "b"}, triple, SPEEDS) == pytest.approx(
        3 * (seconds["default"] - startup) + startup
    )
    minutes = {name: derived("retrain", {"batch": "b"}, single[name], SPEEDS, LIMITS)["runtime"] for name in cfgs}
    assert minutes["smoke"] == LIMITS.floor_minutes  # 60 steps: well under the floor
    assert minutes["default"] == -(-(steps["default"] * 0.1 + startup) * 3 // 60)
    assert minutes["smoke"] <= minutes["default"] < minutes["cifar10-paper"] == LIMITS.cap_minutes
    # an unlearning job gets its whole batch's time: three subsets cost three times one
    one, three = (
        job_seconds("unlearn", {"batch": "train-b0"}, context(cfgs["default"], m), SPEEDS) - startup for m in (1, 3)
    )
    assert three == pytest.approx(3 * one) and one > 0
    # the paper preset fixes its GPU jobs' runtimes (no GPU speed measured): they win over the derived
    paper = cfgs["cifar10-paper"]
    asked = requested(
        "retrain",
        {"batch": "b"},
        ctx=single["cifar10-paper"],
        speeds=SPEEDS,
        limits=LIMITS,
        resources_cfg=paper["resources"],
    )
    assert asked["runtime"] == paper["resources"]["retrain"]["runtime"]
    # ... while a rule without a fixed entry (the CPU's lds job) gets its floor
    assert requested("lds", {}, ctx=context(paper), speeds=SPEEDS, limits=LIMITS, resources_cfg=paper["resources"])[
        "runtime"
    ] == (LIMITS.floor_minutes)


def test_memory_follows_the_measured_peak_and_the_models_held():
    cfg = preset(None)
    one = derived(
        "unlearn", {"batch": "train-b0"}, context(cfg, 1), SPEEDS, dataclasses.replace(LIMITS, mem_floor_mb=1)
    )
    ten = derived(
        "unlearn", {"batch": "train-b0"}, context(cfg, 10), SPEEDS, dataclasses.replace(LIMITS, mem_floor_mb=1)
    )
    assert one["mem_mb"] == -(-SPEEDS.peak_rss["train_pruned"] * 1.5 // 1e6)
    # nine more pruned models in training: weights, gradients, Adam's moments and the EMA each
    assert ten["mem_mb"] - one["mem_mb"] == pytest.approx(9 * 5 * SPEEDS.params_pruned * 4 * 1.5 / 1e6, abs=1)


def test_the_limits_config_is_checked_with_one_line_each(config, schema_path, tmp_path):
    config["slurm_limits"].update(floor_minutes=90, cap_minutes=60, calibration=str(tmp_path / "none.json"))
    config["resources"]["default"]["runtime"] = 30
    lines = problems(config, schema_path)
    assert any(line.startswith("config key slurm_limits.floor_minutes") and "cap_minutes" in line for line in lines)
    assert any(line.startswith("config key slurm_limits.calibration") and "--calibrate-only" in line for line in lines)
    assert any(line.startswith("config key resources.default.runtime") and "resources.<rule>" in line for line in lines)
    assert len(lines) == 3


def test_the_memory_probes_measure_each_kind_of_job(config):
    peaks = calibration.peak_memory(config, ("light", "train_full"))
    # a light job imports numpy and snakemake; a model job torch, diffusers, the data and a model
    assert 10e6 < peaks["light"] < peaks["train_full"]


def test_a_feature_batch_s_memory_is_probed_and_charged_to_the_jobs_that_extract(config, tmp_path):
    """Inception-v3's activations at a feature batch take far more memory than the domain classifier's:
    the `features` probe measures one batch through the configured extractors, and every job that
    extracts features is charged at least that (a behaviour batch, the reference)."""
    from conftest import write_inception_weights

    config["behaviour"]["feature_batch"] = 8  # one batch of 8 images keeps the probe short
    classifier = calibration.peak_memory(config, ("features",))["features"]
    config["behaviour"].update(features="inception", inception_weights=str(write_inception_weights(tmp_path / "w.pth")))
    inception = calibration.peak_memory(config, ("features",))["features"]
    assert inception > classifier + 100e6  # Inception's weights alone are about 100 MB
    speeds = dataclasses.replace(SPEEDS, peak_rss={**SPEEDS.peak_rss, "features": inception})
    ctx = dataclasses.replace(context(config), behaviour_source={"b": "unlearn"})
    for rule, wildcards in (("behaviour_unlearn", {"batch": "train-b0"}), ("reference", {})):
        assert derived(rule, wildcards, ctx, speeds, LIMITS)["mem_mb"] >= inception * 1.5 / 1e6
    # a calibration file without the probe (written before it) charges what it did
    assert (
        derived("reference", {}, ctx, SPEEDS, LIMITS)["mem_mb"]
        == derived(
            "reference", {}, ctx, dataclasses.replace(SPEEDS, peak_rss={**SPEEDS.peak_rss, "features": 0}), LIMITS
        )["mem_mb"]
    )


def test_an_older_calibration_file_is_refused_with_the_fix(tmp_path):
    old = tmp_path / "old.json"
    speeds = dataclasses.asdict(SPEEDS)
    del speeds["peak_rss"]
    old.write_text(json.dumps({"speeds": speeds}))
    with pytest.raises(ValueError, match="older diffattr.*--calibrate-only"):
        calibration.load_file(old)
