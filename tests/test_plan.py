"""`python -m diffattr.plan` (make plan): the jobs it plans are the dry run's, its counts follow the
config, a finished store costs nothing, the calibration is cached per CPU model and model config,
more cores shorten the wall time, and a device not present is said so."""

import copy
import dataclasses
import json
import re
import shutil

import pytest
import yaml
from conftest import ROOT, SMOKE, copy_workflow, planned_jobs

from diffattr import plan
from diffattr.attribution import power
from diffattr.core import preload
from diffattr.workflow import calibration, forecast
from diffattr.workflow.dag import Job, needed_jobs, rerun_triggers, schedule

CONFIGS = SMOKE[1:]  # the --configfile arguments of the smoke preset

# Made-up speeds (seconds per unit), so that the tests below time nothing; the calibration's own
# measurement is tested on its own.
SPEEDS = calibration.Speeds(
    train_step=(0.1, 0.1),
    pruned_step=(0.05, 0.05),
    full_image_step=(1e-4, 1e-4),
    pruned_image_step=(5e-5, 5e-5),
    classifier_epoch=(0.3, 0.3),
    startup_heavy=(5.0, 5.0),
    startup_light=(1.0, 1.0),
    params_full=1000,
    params_pruned=500,
    train_batch=128,
    pruned_batch=128,
    device="cpu",
    cpu_model="test CPU",
    threads=1,
    loadavg=(0.0, 0.0, 0.0),
    peak_rss={"light": 50_000_000, "train_full": 900_000_000, "train_pruned": 800_000_000, "sample_full": 850_000_000},
)


@pytest.fixture(scope="module")
def smoke_wf(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("plan-wf"))


@pytest.fixture(scope="module")
def smoke_dag(smoke_wf):
    return needed_jobs(smoke_wf, CONFIGS, 2)


def overlay_dag(work, name: str, overlay: dict):
    (work / name).write_text(yaml.safe_dump(overlay))
    return needed_jobs(work, [*CONFIGS, name], 2)


def test_planned_jobs_per_stage_equal_the_dry_run(smoke_wf, smoke_dag):
    counts: dict[str, int] = {}
    for job in smoke_dag.jobs:
        counts[job.rule] = counts.get(job.rule, 0) + 1
    assert counts == planned_jobs(smoke_wf, *SMOKE)
    out = plan.make_plan(smoke_dag, SPEEDS, cores=2, slurm_jobs=8)
    assert {rule: row["jobs"] for rule, row in out["stages"].items() if row["jobs"]} == counts


def test_steps_and_images_follow_the_config(smoke_wf, smoke_dag):
    cfg = yaml.safe_load((smoke_wf / "config/presets/smoke.yaml").read_text())
    base = plan.make_plan(smoke_dag, SPEEDS, cores=2, slurm_jobs=8)["stages"]
    steps = cfg["train_base"]["steps"]
    assert base["train_base"]["train_steps"] == steps
    # retrainings in batches of retrain.models_per_job, each model its own steps
    subsets = smoke_dag.globals["SUBSETS"]
    per_retrain = cfg["retrain"]["models_per_job"]
    for rule in ("retrain", "retrain_floor"):
        batches = subsets.retrain_batches[rule]
        assert base[rule]["jobs"] == len(batches) and base[rule]["models"] == len(subsets.trained[rule])
        assert base[rule]["train_steps"] == base[rule]["models"] * steps
        assert max(len(b) for b in batches.values()) == per_retrain < base[rule]["models"] or rule == "retrain_floor"
    assert base["prune"]["train_steps"] == cfg["prune"]["finetune"]["steps"]
    unlearned = base["unlearn"]["models"]
    # every train, uniform and kernel subset, one per unit (10 classes) and the full set, at least
    sub = cfg["subsets"]
    assert unlearned >= sub["n_train"] + sub["n_uniform"] + sub["n_kernel"] + 10 + 1
    assert base["unlearn"]["train_steps"] == unlearned * cfg["unlearn"]["steps"]
    n = cfg["behaviour"]["n_samples"]
    assert base["behaviour"]["images"] == (base["behaviour"]["jobs"] + base["behaviour"]["pending_jobs"]) * n
    assert base["behaviour_unlearn"]["images"] == unlearned * n
    # retrained models in evaluation batches, the counterfactual's forecast at its upper bound
    retrained = sum(len(b) for batches in subsets.eval_batches.values() for b in batches.values())
    cf = len(cfg["datamodel"]["estimators"]) + cfg["counterfactual"]["n_random"]
    per_job = cfg["unlearn"]["subsets_per_job"]
    pending = base["behaviour_retrained"]["pending_jobs"]
    assert pending == -(-cf // per_job) and pending * per_job >= cf
    assert base["behaviour_retrained"]["images"] == (retrained + pending * min(per_job, cf)) * n
    # the checkpoint's retrainings: at most one per estimator and random draw, a record each, in
    # retraining batches of retrain.models_per_job (each forecast at its upper bound, as evaluations)
    assert base["cf_removal"]["pending_jobs"] == cf
    assert base["retrain_cf"]["pending_jobs"] == -(-cf // per_retrain)
    assert base["retrain_cf"]["models"] == base["retrain_cf"]["pending_jobs"] * min(per_retrain, cf) >= cf

    # one job's cost, as a Slurm runtime would be derived: 60 steps of 0.1 s a model and the 5 s start-up
    ctx = plan.context_of(smoke_dag)
    for batch, members in subsets.retrain_batches["retrain"].items():
        seconds = forecast.job_seconds("retrain", {"batch": batch}, ctx, SPEEDS)
        assert seconds == pytest.approx(len(members) * 60 * 0.1 + 5)

    changed = overlay_dag(
        smoke_wf,
        "steps.yaml",
        {"train_base": {"steps": 2 * steps}, "unlearn": {"steps": 7}, "behaviour": {"n_samples": 50}},
    )
    after = plan.make_plan(changed, SPEEDS, cores=2, slurm_jobs=8)["stages"]
    assert after["retrain"]["train_steps"] == 2 * base["retrain"]["train_steps"]
    assert after["unlearn"]["train_steps"] == unlearned * 7
    assert after["behaviour"]["images"] == base["behaviour"]["images"] // 2
    assert after["retrain"]["wall_s"] > base["retrain"]["wall_s"]


def test_more_cores_shorten_the_local_wall_time(smoke_dag):
    one = plan.make_plan(smoke_dag, SPEEDS, cores=1, slurm_jobs=1)
    two = plan.make_plan(smoke_dag, SPEEDS, cores=2, slurm_jobs=2)
    # every smoke job takes one thread: on one core the jobs run one after another
    assert one["local"]["wall_s"] == pytest.approx(one["total"]["wall_s"])
    assert one["total"]["wall_s"] / 2 <= two["local"]["wall_s"] < 0.75 * one["local"]["wall_s"]
    assert two["local"]["cpu_s"] == pytest.approx(one["local"]["cpu_s"])
    # Slurm: one job at a time pays the per-job overhead on top of the work
    assert one["slurm"]["wall_s"] > one["local"]["wall_s"]


def test_a_local_run_with_preload_starts_its_model_jobs_light_and_slurm_keeps_them_heavy(smoke_dag):
    """compute.preload: a local model job is forked from the preloaded process, so the local forecast
    charges it a light start-up (1 s here) instead of importing torch (5 s); the cheap baselines'
    scores job runs in its own process; Slurm jobs always import."""
    off = dataclasses.replace(
        smoke_dag, config={**smoke_dag.config, "compute": {**smoke_dag.config["compute"], "preload": False}}
    )
    on_plan = plan.make_plan(smoke_dag, SPEEDS, cores=1, slurm_jobs=1)
    off_plan = plan.make_plan(off, SPEEDS, cores=1, slurm_jobs=1)
    # the jobs planned and those pending (the counterfactual retrainings, known once its plan exists)
    model_jobs = sum(
        row["jobs"] + row["pending_jobs"]
        for rule, row in on_plan["stages"].items()
        if rule in forecast.HEAVY_RULES and rule not in preload.OWN_PROCESS_RULES
    )
    assert model_jobs > 20
    assert off_plan["local"]["cpu_s"] - on_plan["local"]["cpu_s"] == pytest.approx(model_jobs * (5.0 - 1.0))
    assert on_plan["slurm"] == off_plan["slurm"]
    for rule in preload.OWN_PROCESS_RULES & set(on_plan["stages"]):
        assert on_plan["stages"][rule] == off_plan["stages"][rule]


def test_the_scripts_that_hand_over_are_the_model_jobs_less_those_kept_in_their_own_process():
    scripts = ROOT / "workflow" / "scripts"
    handing = {f.stem for f in scripts.glob("*.py") if "import _preloaded" in f.read_text()}
    model_scripts = {f.stem for f in scripts.glob("*.py") if "start_model_job" in f.read_text()}
    assert handing == model_scripts - preload.OWN_PROCESS_RULES
    assert model_scripts >= preload.OWN_PROCESS_RULES


def test_each_rule_s_slurm_limits_are_shown_and_jobs_over_them_named(smoke_wf):
    dag = overlay_dag(smoke_wf, "limits.yaml", {"slurm_limits": {"floor_minutes": 1, "safety": 2.0}})
    slow = dataclasses.replace(SPEEDS, train_step=(30.0, 30.0))  # a smoke retraining: 60 steps, 30 min
    out = plan.make_plan(dag, slow, cores=2, slurm_jobs=8)
    limits = out["slurm"]["limits"]
    k = dag.config["retrain"]["models_per_job"]  # the largest retraining batch's models
    assert limits["retrain"]["runtime"] == -(-(k * 60 * 30 + 5) * 2 // 60)  # the forecast x safety 2
    assert limits["lds"]["runtime"] == 1 and out["slurm"]["over_runtime"] == []  # the floor
    # a cap below the forecast: the model jobs that train the full model are named
    capped = copy.deepcopy(dag.config)
    capped["slurm_limits"]["cap_minutes"] = 10
    out = plan.make_plan(dataclasses.replace(dag, config=capped), slow, cores=2, slurm_jobs=8)
    over = {o["rule"]: o["minutes"] for o in out["slurm"]["over_runtime"]}
    assert over["retrain"] == pytest.approx((k * 60 * 30 + 5) / 60, abs=0.1)
    assert {"retrain", "retrain_floor", "train_base"} <= set(over) and "lds" not in over
    # a rule's own fixed runtime wins over the derived one, and is checked against the forecast too
    fixed = copy.deepcopy(dag.config)
    fixed["resources"]["unlearn"] = {"runtime": 2}
    out = plan.make_plan(dataclasses.replace(dag, config=fixed), slow, cores=2, slurm_jobs=8)
    assert out["slurm"]["limits"]["unlearn"]["runtime"] == 2
    calib = {"cpu_model": "x", "device": "cpu", "threads": 1, "cached": True, "file": "f", "loadavg": [0.0]}
    text = plan.render({**out, "calibration": calib, "slurm_limits": fixed["slurm_limits"], "notes": []})
    assert "slurm limits per job (forecast x 2, 1..2880 min" in text
    assert re.search(r"^  unlearn +2 min", text, flags=re.M)


def test_schedule_waits_for_dependencies_and_packs_slots():
    # a -> (b, c) -> d: b and c side by side on two slots, one after the other on one
    jobs = [
        Job(0, "a", {}, 1, {}),
        Job(1, "b", {}, 1, {}, [0]),
        Job(2, "c", {}, 1, {}, [0]),
        Job(3, "d", {}, 1, {}, [1, 2]),
    ]
    secs = {0: 1.0, 1: 2.0, 2: 3.0, 3: 1.0}
    assert schedule(jobs, lambda j: secs[j.id], 2, lambda j: 1) == pytest.approx(5.0)
    assert schedule(jobs, lambda j: secs[j.id], 1, lambda j: 1) == pytest.approx(7.0)
    # a job needing both slots runs alone
    assert schedule(jobs, lambda j: secs[j.id], 2, lambda j: 2) == pytest.approx(7.0)


def test_a_finished_store_plans_nothing(smoke_run):
    dag = needed_jobs(smoke_run, CONFIGS, 2)
    assert dag.jobs == []
    out = plan.make_plan(dag, SPEEDS, cores=2, slurm_jobs=8)
    assert out["total"]["jobs"] == 0 and out["local"]["wall_s"] == 0 and out["slurm"]["wall_s"] == 0


def test_the_plan_takes_the_local_profiles_rerun_triggers(smoke_wf):
    # as `snakemake` run from the root does: an edit to a script does not make a finished job rerun
    from snakemake.settings.types import RerunTrigger

    assert rerun_triggers(smoke_wf) == {
        RerunTrigger.MTIME,
        RerunTrigger.PARAMS,
        RerunTrigger.INPUT,
        RerunTrigger.SOFTWARE_ENV,
    }


def test_the_calibration_is_cached_per_cpu_model_and_model_config(tmp_path, monkeypatch, config):
    calls = []

    def fake_measure(cfg, threads):
        calls.append(cfg["model"]["block_out_channels"])
        return SPEEDS

    monkeypatch.setattr(calibration, "measure", fake_measure)
    first, path, cached = calibration.load_or_measure(config, 1, tmp_path)
    assert (first, cached, len(calls)) == (SPEEDS, False, 1) and path.is_file() and path.parent == tmp_path
    again, path2, cached = calibration.load_or_measure(config, 1, tmp_path)
    assert (again, path2, cached, len(calls)) == (SPEEDS, path, True, 1)  # not timed again
    wider = {**config, "model": {**config["model"], "block_out_channels": [32, 64]}}
    _, path3, cached = calibration.load_or_measure(wider, 1, tmp_path)
    assert path3 != path and not cached and len(calls) == 2
    monkeypatch.setattr(calibration, "cpu_model", lambda: "Other CPU 9000")
    _, path4, cached = calibration.load_or_measure(config, 1, tmp_path)
    assert path4 not in (path, path3) and path4.name.startswith("Other-CPU-9000") and not cached
    assert len(calls) == 3


def test_the_calibration_times_the_configured_models(monkeypatch, config):
    # the job start-up is a fresh interpreter importing torch (tested below with the light imports)
    monkeypatch.setattr(calibration, "startup_seconds", lambda imports: (1.0, 1.0))
    # the memory probes are fresh interpreters too (tested in tests/test_slurm_limits.py)
    monkeypatch.setattr(calibration, "peak_memory", lambda cfg: {"light": 1})
    config["behaviour"]["batch_size"] = 50  # one sampling batch: 50 images
    speeds = calibration.measure(config, 1, steps=2, repeats=1)
    assert speeds.params_pruned < speeds.params_full
    for pair in (
        speeds.train_step,
        speeds.pruned_step,
        speeds.full_image_step,
        speeds.classifier_epoch,
        speeds.feature_image,
        speeds.score_model,
    ):
        assert pair[0] > 0 and pair[1] > 0
    # a training step of 128 images costs more than one image through one sampling step
    assert speeds.train_step[1] > speeds.full_image_step[1]
    wall, cpu = calibration.startup_seconds(calibration.LIGHT_IMPORTS)
    assert wall > 0 and cpu > 0


def test_the_calibration_times_trak_s_gradients_only_where_the_config_lists_it(monkeypatch, config):
    """TRAK's per-sample gradients cost far more than the training image the forecast once charged
    each (9-43x too little on a CPU): a config that lists TRAK or D-TRAK is calibrated with dattri's own
    gradients, under its own key; one that lists neither keeps its key and times none."""
    monkeypatch.setattr(calibration, "startup_seconds", lambda imports: (1.0, 1.0))
    monkeypatch.setattr(calibration, "peak_memory", lambda cfg: {"light": 1})
    config["behaviour"]["batch_size"] = 20
    plain = calibration.calibration_key(config, 1)
    assert "baselines" not in plain and calibration.measure(config, 1, steps=2, repeats=1).grad_image is None
    config["datamodel"]["estimators"] = ["ridge", "dtrak"]
    config["baselines"].update(proj_dim=16, batch_size=8)
    key = calibration.calibration_key(config, 1)
    assert key["baselines"] == {k: config["baselines"][k] for k in calibration.GRADIENT_KEYS}
    assert calibration.cache_path(key) != calibration.cache_path(plain)
    speeds = calibration.measure(config, 1, steps=2, repeats=1)
    wall, cpu = speeds.grad_image
    # one image's gradient at 10 timesteps, projected, against one image's share of a training step
    assert wall > 0 and cpu > 10 * speeds.train_step[1] / speeds.train_batch


def test_the_calibration_times_scoring_samples_with_the_configured_extractor(config, tmp_path):
    """Scoring a model's samples is charged its feature extraction and metrics: milliseconds with the
    domain classifier, a large multiple with Inception-v3 (behaviour.features: inception), which on a
    CPU costs far more than sampling the image did."""
    from conftest import write_inception_weights

    from diffattr.core.data import load_source
    from diffattr.core.settings import DataSource
    from diffattr.modelling.compute import CPU

    ds = load_source(DataSource.from_config(config["data"]))
    config["behaviour"]["n_samples"] = 8  # one batch of 8 (jobs extract up to 500 at once)
    per_image, per_model, fid = calibration.evaluation_seconds(config, ds, CPU, repeats=1)
    assert per_image[1] > 0 and per_model[1] > 0 and fid[1] > 0
    config["behaviour"].update(features="inception", inception_weights=str(write_inception_weights(tmp_path / "w.pth")))
    inception_image, inception_model, inception_fid = calibration.evaluation_seconds(config, ds, CPU, repeats=1)
    assert inception_image[1] > 50 * per_image[1]
    # FID on 2,048-d features (a 2,048 x 2,048 matrix square root) against 64-d ones
    assert inception_model[1] > 10 * per_model[1] and inception_fid[1] > 10 * fid[1]
    # a training set smaller than a batch is timed on its images again
    small = dataclasses.replace(ds, images=ds.images[:3], labels=ds.labels[:3])
    assert calibration.evaluation_seconds(config, small, CPU, repeats=1)[0][1] > 0


def test_a_behaviour_is_charged_its_samples_features_and_metrics():
    ctx = forecast.Context(
        config={"behaviour": {"n_samples": 100, "ddim_steps": 10}, "baselines": {"timesteps": 1}},
        chunks={"train-b0": ["a", "b", "c"]},
        behaviour_source={"h": "retrain", "b": "base"},
        n_images=900,
        image_values=64,
        eval_batches={"test-b0": ["t0", "t1"]},
    )
    sizes = forecast.model_sizes(SPEEDS)
    batch = forecast.rule_work("behaviour_unlearn", {"batch": "train-b0"}, ctx, sizes)
    assert (batch.feature_images, batch.scored_models) == (300, 3)
    retrained = forecast.rule_work("behaviour_retrained", {"bhash": "h", "batch": "test-b0"}, ctx, sizes)
    assert (retrained.feature_images, retrained.scored_models) == (200, 2)
    one = forecast.rule_work("behaviour", {"bhash": "b"}, ctx, sizes)
    assert (one.feature_images, one.scored_models) == (100, 1)
    # three models' samples and two FIDs between them, not two models' every metric
    pairs = forecast.rule_work("pairs", {}, ctx, sizes)
    assert (pairs.feature_images, pairs.scored_models, pairs.fids) == (300, 0, 2)
    fid_only = dataclasses.replace(SPEEDS, feature_image=(0.0, 0.0), score_model=(5.0, 5.0), fid_model=(0.5, 0.5))
    assert forecast.cost(pairs, fid_only).cpu - forecast.cost(pairs, SPEEDS).cpu == pytest.approx(2 * 0.5)
    assert forecast.rule_work("baselines", {"method": "feature"}, ctx, sizes).feature_images == 100
    assert forecast.rule_work("baselines", {"method": "pixel"}, ctx, sizes).feature_images == 0
    assert forecast.rule_work("reference", {}, ctx, sizes).feature_images == 900
    timed = dataclasses.replace(SPEEDS, feature_image=(0.01, 0.02), score_model=(1.0, 2.0))
    extra = forecast.cost(batch, timed).cpu - forecast.cost(batch, SPEEDS).cpu
    assert extra == pytest.approx(300 * 0.02 + 3 * 2.0)


def test_a_slurm_calibration_file_without_a_timing_the_config_needs_is_said_so(config, tmp_path):
    # SPEEDS stands for a file an older diffattr wrote: no features, metrics or gradients timed
    notes = plan.stated_calibration_notes(config, "gpu.json", SPEEDS, ["c.yaml"])
    assert len(notes) == 1 and "gpu.json" in notes[0] and "features and metrics" in notes[0]
    assert "TRAK" not in notes[0] and "--calibrate-only --configfile c.yaml" in notes[0]
    timed = dataclasses.replace(SPEEDS, feature_image=(1e-4, 1e-4), score_model=(0.1, 0.1))
    assert plan.stated_calibration_notes(config, "gpu.json", timed, []) == []
    assert plan.stated_calibration_notes(config, "", None, []) == []
    config["datamodel"]["estimators"] = ["ridge", "trak"]
    (note,) = plan.stated_calibration_notes(config, "gpu.json", timed, [])
    assert "TRAK" in note and "features" not in note
    timed = dataclasses.replace(timed, grad_image=(0.02, 0.02))
    assert calibration.missing_timings(config, timed) == []
    # a file with every timing, but timed for another config: its key (as --calibrate-only writes it) says so
    key = json.loads(json.dumps(calibration.calibration_key(config, 1)))
    assert calibration.missing_timings(config, timed, {**key, "cpu_model": "a cluster node's"}) == []
    other = copy.deepcopy(config)
    other["behaviour"].update(features="inception", n_samples=10_000)
    other["baselines"].update(proj_dim=32)
    stale_key = json.loads(json.dumps(calibration.calibration_key(other, 1)))
    (effect,) = calibration.missing_timings(config, timed, stale_key)
    assert "another config" in effect and "evaluation, baselines" in effect
    stated = tmp_path / "node.json"
    stated.write_text(json.dumps({"key": stale_key, "speeds": dataclasses.asdict(timed)}))
    (note,) = plan.stated_calibration_notes(config, str(stated), calibration.load_file(stated), [])
    assert str(stated) in note and "another config" in note


def test_a_gradient_baseline_is_charged_its_calibrated_gradients():
    ctx = forecast.Context(
        config={"behaviour": {"n_samples": 100, "ddim_steps": 10}, "baselines": {"timesteps": 10}},
        chunks={},
        behaviour_source={},
        n_images=900,
        image_values=64,
    )
    sizes = forecast.model_sizes(SPEEDS)
    trak = forecast.rule_work("baselines", {"method": "trak"}, ctx, sizes)
    assert (trak.grad_images, trak.grad_timesteps) == (1000, 10)
    assert forecast.rule_work("baselines", {"method": "pixel"}, ctx, sizes).grad_images == 0
    timed = dataclasses.replace(SPEEDS, grad_image=(0.02, 0.03))
    assert forecast.cost(trak, timed).cpu == pytest.approx(1000 * 0.03 + SPEEDS.startup_heavy[1])
    assert forecast.cost(trak, timed).wall == pytest.approx(1000 * 0.02 + SPEEDS.startup_heavy[0])
    # a calibration without one (another config's file): each image and timestep as a training image
    assert forecast.cost(trak, SPEEDS).cpu == pytest.approx(1000 * 10 / 128 * 0.1 + SPEEDS.startup_heavy[1])


@pytest.mark.parametrize("tf32", [False, True])
def test_the_calibration_times_with_the_numerics_jobs_get(monkeypatch, config, tf32):
    # On a GPU a job's TF32 follows compute.tf32 (resolve_compute); PyTorch's default turns cuDNN's
    # on, so a calibration that built its device by hand timed TF32 convolutions for fp32 jobs. The
    # flags are plain settings, so a pretended GPU shows which ones the calibration leaves set.
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "pretended GPU")
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", not tf32)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", not tf32)
    compute = calibration.job_compute({**config, "compute": {**config["compute"], "device": "auto", "tf32": tf32}})
    assert compute.device.type == "cuda"
    assert torch.backends.cudnn.allow_tf32 is tf32 and torch.backends.cuda.matmul.allow_tf32 is tf32
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert calibration.job_compute(config).device.type == "cpu"


def test_a_device_not_present_is_said_so(smoke_dag):
    cuda = dataclasses.replace(smoke_dag, config={**smoke_dag.config, "compute": {"device": "cuda"}})
    notes = plan.device_notes(cuda, SPEEDS, slurm_calibrated=False, argv_configs=CONFIGS)
    fix = f"python -m diffattr.plan --calibrate-only --configfile {' '.join(CONFIGS)}` where the jobs run"
    assert any("device not present" in n and fix in n for n in notes)
    assert any("Slurm estimate" in n and "uncalibrated" in n for n in notes)
    # calibrated on the cluster's node: only the local estimate is for a device not present
    notes = plan.device_notes(cuda, SPEEDS, slurm_calibrated=True, argv_configs=CONFIGS)
    assert len(notes) == 1 and "device not present" in notes[0]
    assert plan.device_notes(smoke_dag, SPEEDS, slurm_calibrated=False, argv_configs=CONFIGS) == []
    gpu_job = dataclasses.replace(smoke_dag, jobs=[dataclasses.replace(smoke_dag.jobs[0], resources={"gpu": 1})])
    assert any("uncalibrated" in n for n in plan.device_notes(gpu_job, SPEEDS, False, CONFIGS))


def test_cli_prints_a_table_and_json_from_a_cached_calibration(smoke_wf, smoke_dag, capsys):
    key = calibration.calibration_key(smoke_dag.config, plan.calibration_threads(smoke_dag.config))
    cache = calibration.cache_path(key, smoke_wf / calibration.CACHE_DIR)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"key": key, "speeds": dataclasses.asdict(SPEEDS)}))
    # --configfile repeated adds files, as one --configfile with several (the last alone would plan the
    # default's jobs)
    (smoke_wf / "same.yaml").write_text("run_name: smoke\n")
    args = ["--directory", str(smoke_wf), "--configfile", *CONFIGS, "--configfile", "same.yaml"]
    args += ["--cores", "3", "--jobs", "4"]
    assert plan.main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["calibration"]["cached"] and out["calibration"]["cpu_model"] == "test CPU"
    assert out["local"]["cores"] == 3 and out["slurm"]["jobs"] == 4
    assert out["total"]["jobs"] == len(smoke_dag.jobs)
    assert plan.main(args) == 0
    table = capsys.readouterr().out
    assert "local, --cores 3" in table and "slurm, -j 4" in table and "retrain_cf" in table
    assert plan.main([*args, "--cores", "none"]) == 1
    assert capsys.readouterr().err.strip() == "diffattr.plan: --cores none: give a positive number of cores or 'all'"
    # The power section: no finished run yet, so from the stated LDS, for the preset's 4 test models.
    assert out["power"]["source"] == "stated" and out["power"]["configured"]["n_models"] == 4
    assert out["power"]["configured"]["halfwidth"] == pytest.approx(power.lds_halfwidth(0.5, 4))
    assert "power, from a stated LDS of 0.50" in table
    # --config entries as the diffattr command takes them: dotted keys, a plain top-level one.
    assert plan.main([*args, "--json", "--config", "power.stated_lds=0.7", "run_name=other"]) == 0
    over = json.loads(capsys.readouterr().out)["power"]
    assert over["configured"]["halfwidth"] == pytest.approx(power.lds_halfwidth(0.7, 4))
    # A finished run of this run_name is the pilot: its LDS and its ceiling's noise and spread.
    pilot = smoke_wf / "results/runs/smoke/lds.json"
    pilot.parent.mkdir(parents=True)
    ceiling = {"noise_sd": 1.0, "spread_sd": 2.0}
    pilot.write_text(json.dumps({"lds": 0.3, "estimator": "ridge", "ceiling": ceiling, "estimators": {}}))
    try:
        assert plan.main([*args, "--json"]) == 0
        got = json.loads(capsys.readouterr().out)["power"]
        text = pilot.read_text()
        pilot.write_text(text[: len(text) // 2])  # a pilot cut short: one line naming it, no traceback
        assert plan.main([*args, "--json"]) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "lds.json: corrupt JSON" in err
    finally:
        shutil.rmtree(pilot.parent)
    assert got["source"] == "pilot" and got["pilot"] == "results/runs/smoke/lds.json"
    assert got["configured"]["reliability"] == pytest.approx(power.reliability(1.0, 2.0, 1))
    assert got["cheapest"]["halfwidth_expected"] <= smoke_dag.config["power"]["target_halfwidth"]


def test_a_bad_config_is_one_line(smoke_wf, capsys):
    (smoke_wf / "bad-plan.yaml").write_text("subsets: {alpha: 2.0}\n")
    assert plan.main(["--directory", str(smoke_wf), "--configfile", *CONFIGS, "bad-plan.yaml"]) == 1
    err = capsys.readouterr().err.strip()
    assert "subsets.alpha" in err and len(err.splitlines()) == 1
    # A missing overlay and a malformed --config entry: both named, on one line, before any planning.
    args = ["--directory", str(smoke_wf), "--configfile", *CONFIGS, "nope.yaml", "--config", "lds.test_seeds"]
    assert plan.main(args) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--configfile nope.yaml: no such file" in err
    assert "--config entry 'lds.test_seeds' is not key=value" in err
    # A plain key is checked as a dotted one's parts are.
    assert plan.main([*args[:-3], "--config", "run name=x"]) == 1
    assert "--config key 'run name': 'run name' is not a key name" in capsys.readouterr().err
