"""The smoke preset through the snakemake CLI in a temp copy of the workflow, then rerun-minimality."""

import csv
import json

import h5py
import pytest
import yaml
from conftest import SMOKE, planned_jobs, snakemake
from scipy.stats import spearmanr

from diffattr.attribution.matrix import read_matrix

pytestmark = pytest.mark.integration
# Rules that only read stored behaviours and benchmarks.
ANALYSIS_RULES = {
    "matrix",
    "datamodel",
    "lds",
    "estimators",
    "budget",
    "table1",
    "figures",
    "summary",
    "cf_plan",
    "counterfactual",
    "run_view",
    "all",
}
ESTIMATORS = ["ridge", "lasso", "banzhaf", "shapley", "loo", "trak", "dtrak", "pixel", "feature"]


def test_smoke_run_writes_every_final_output(smoke_run):
    smoke = yaml.safe_load((smoke_run / "config/presets/smoke.yaml").read_text())
    n_train, n_test = smoke["subsets"]["n_train"], smoke["subsets"]["n_test"]
    run = smoke_run / "results/runs/smoke"
    lds = json.loads((run / "lds.json").read_text())
    for key in ("lds", "ci95", "n_train_models", "n_test_models", "behaviour", "estimator"):
        assert key in lds
    assert lds["n_train_models"] == n_train and lds["n_test_models"] == n_test
    assert lds["behaviour"] == "fid" and lds["estimator"] == "ridge"
    assert lds["ci95"][0] <= lds["ci95"][1]
    rows = list(csv.DictReader((run / "attributions.csv").open()))
    assert len(rows) == 10 and sorted(int(r["rank"]) for r in rows) == list(range(1, 11))
    assert {r["unit_id"] for r in rows} == {f"class-{d}" for d in range(10)}
    # Ridge on alpha-sized subsets does not identify the level: flagged, scores given relative to the mean.
    assert {r["sign_identified"] for r in rows} == {"0"}
    assert abs(sum(float(r["relative_score"]) for r in rows)) < 1e-3
    # Proxy fidelity on the 3 baseline subsets (train-0000 equals a test subset: skipped); the ceiling
    # from the first lds.ceiling_models test subsets retrained a second time (retrain_floor).
    assert lds["proxy_fidelity"]["subsets"] == ["train-0001", "train-0002", "train-0003"]
    ceiling_n = smoke["lds"]["ceiling_models"]
    assert lds["ceiling"]["subsets"] == [f"test-{i:04d}" for i in range(ceiling_n)]
    assert lds["ceiling"]["n_subsets"] == ceiling_n and lds["ceiling"]["spearman"] is not None
    floors = list((smoke_run / "results/store/retrain_floor").glob("*/*/test-*/model"))
    assert len(floors) == ceiling_n
    for name, est in lds["estimators"].items():  # beside every LDS
        assert est["ceiling"]["spearman"] == lds["ceiling"]["spearman"], name
    n_uniform, n_kernel = smoke["subsets"]["n_uniform"], smoke["subsets"]["n_kernel"]
    with h5py.File(run / "matrix.h5") as f:
        sids = [s.decode() for s in f["subset_ids"][()]]
        family = [s.split("-")[0] for s in sids]
        sources = [s.decode() for s in f["source"][()]]
        masks = f["masks"][()]
        # Every estimator's family: train/test (alpha 0.5), test25, uniform, kernel, loo, full, empty.
        counts = {fam: family.count(fam) for fam in set(family)}
        assert counts == {
            "train": n_train,
            "test": n_test,
            "test25": n_test,
            "uniform": n_uniform,
            "kernel": n_kernel,
            "loo": 10,
            "full": 1,
            "empty": 1,
        }
        rows = lambda fam: masks[[i for i, x in enumerate(family) if x == fam]]  # noqa: E731
        assert rows("train").sum(1).tolist() == [5] * n_train and rows("test25").sum(1).tolist() == [2] * n_test
        assert rows("loo").sum(1).tolist() == [9] * 10 and rows("full").all() and not rows("empty").any()
        assert ((rows("uniform").sum(1) > 0) & (rows("uniform").sum(1) < 10)).all()
        assert sources.count("retrain") == 2 * n_test and sources.count("init") == 1
        # The smoke preset computes every behaviour; each lands in the matrix.
        assert f["behaviours"].shape == (len(sids), len(smoke["behaviour"]["metrics"]))
        # No train-family model equals a test subset (train-0000 equals test-0002: skipped); uniform
        # and kernel keep such draws, and the report names exactly those.
        tests = {m.tobytes() for m, x in zip(masks, family) if x in ("test", "test25")}
        fitted = {m.tobytes() for m, x in zip(masks, family) if x in ("train", "loo", "full")}
        assert not fitted & tests
        for fam in ("uniform", "kernel"):
            equal = [s for s, m, x in zip(sids, masks, family) if x == fam and m.tobytes() in tests]
            assert equal == lds["subsets"][fam]["kept_equal_to_test"], fam
        assert "train-0000" not in sids
        trained = [i for i, s in enumerate(sources) if s != "init"]
        assert (f["train_seconds"][()][trained] > 0).all()
        for name in ESTIMATORS:
            assert f[f"attributions/{name}/score"].shape == (10,)
        # The LDS is the Spearman of the stored attributions' predictions on the retrained test rows.
        test_rows = [i for i, (fam, src) in enumerate(zip(family, sources)) if fam == "test" and src == "retrain"]
        coef = f["attributions/ridge/coefficient"][()]
        pred = f["attributions/ridge/intercept"][()] + masks[test_rows].astype(float) @ coef
        assert "torch" in f.attrs["package_versions"]
    assert pred == pytest.approx(lds["estimators"]["ridge"]["predicted"])
    assert read_matrix(run / "matrix.h5").behaviour("fid")[test_rows] == pytest.approx(lds["actual"])
    assert lds["lds"] == pytest.approx(spearmanr(pred, lds["actual"]).statistic)
    manifest = json.loads((run / "manifest.json").read_text())
    for stage, path in manifest["stores"].items():
        assert (smoke_run / path / "spec.json").exists(), stage
        spec = json.loads((smoke_run / path / "spec.json").read_text())
        assert spec["stage"] == stage and path.endswith(manifest["hashes"][stage])
    assert manifest["pruning"]["params_after"] < manifest["pruning"]["params_before"]
    # Train candidates 0-6: train-0000 is skipped (it equals test-0002) but trained in its batch.
    assert manifest["unlearn_jobs"]["subsets_per_job"] == [6, 1]
    assert manifest["subsets"] == lds["subsets"]
    assert lds["subsets"]["train"] == {
        "candidates": 7,
        "used": 6,
        "skipped_equal_to_test": ["train-0000"],
        "kept_equal_to_test": [],
        "redrawn": 0,
        "duplicates_kept": 0,
    }
    # Uniform and kernel keep draws equal to a test subset (their estimators' distributions need them).
    for family in ("uniform", "kernel"):
        drawn = lds["subsets"][family]
        assert drawn["skipped_equal_to_test"] == [] and drawn["candidates"] == drawn["used"] == 6


def test_unlearning_starts_from_the_pruned_models_raw_weights(smoke_run, tmp_path):
    """The authors' recipe (unlearn.init: raw): re-running a stored unlearning batch from prune's raw
    weights gives its models bit for bit; from prune's EMA weights (what Table 1 evaluates) it does not."""
    import torch
    from snakemake.utils import update_config

    from diffattr.core.progress import get_logger
    from diffattr.core.settings import job_settings
    from diffattr.modelling.models import load_model
    from diffattr.stages.unlearn import unlearn_batch

    store = smoke_run / "results/store"
    batch = next(store.glob("unlearn/*/train-0000-0005"))
    spec = json.loads((batch.parent / "spec.json").read_text())
    assert spec["config"]["unlearn"]["init"] == "raw"
    prune = store / "prune" / spec["upstream"]["prune"]
    chunk = store / "subsets" / spec["upstream"]["subsets"] / "train-0000-0005.json"
    cfg = yaml.safe_load((smoke_run / "config/config.yaml").read_text())
    update_config(cfg, yaml.safe_load((smoke_run / "config/presets/smoke.yaml").read_text()))
    job = job_settings("unlearn", spec["config"]["unlearn"], cfg, scheduler=cfg["scheduler"])
    want = load_model(batch / "train-0001" / "model").state_dict()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the jobs ran (resources.default.threads)
    try:
        for start, same in (("raw", True), ("model", False)):
            out = tmp_path / start
            unlearn_batch(
                start=prune / start,
                data=next(store.glob("data/*/data.npz")),
                subsets=chunk,
                settings=job,
                batch=out,
                log=get_logger(None),
            )
            got = load_model(out / "train-0001" / "model").state_dict()
            assert all(torch.equal(got[k], want[k]) for k in want) == same, start
    finally:
        torch.set_num_threads(threads)


def test_behaviour_json_records_value_seeds_and_times(smoke_run):
    files = list((smoke_run / "results/store/behaviour").glob("*/train-0000-0005/train-0000.json"))
    assert len(files) == 1
    job = json.loads((files[0].parent / "job.json").read_text())
    assert job["subsets"] == [f"train-{i:04d}" for i in range(6)] and 0 < job["startup_share"] < 1
    beh = json.loads(files[0].read_text())
    assert beh["source"] == "unlearn" and beh["metrics"]["fid"] > 0 and beh["n_samples"] == 100
    for key in ("noise_seed", "train_seconds", "train_cpu_seconds", "eval_seconds", "eval_cpu_seconds"):
        assert beh[key] is not None
    # Retrained models are evaluated in batches too, one per subsets chunk they read (named by a digest
    # of its members); a model evaluated on its own (the base model) carries its job's start-up.
    retrained = list((smoke_run / "results/store/behaviour").glob("*/test-0000-0003.*/test-0000.json"))
    assert len(retrained) == 2  # the retraining and the ceiling's second retraining
    for path in retrained:
        assert json.loads(path.read_text())["source"] in ("retrain", "retrain_floor")
        job = json.loads((path.parent / "job.json").read_text())
        assert job["subsets"][0] == "test-0000" and 0 < job["startup_share"] < 1
    base = next((smoke_run / "results/store/behaviour").glob("*/full.json"))
    assert json.loads(base.read_text())["startup_seconds"] > 0
    # Retrained models are trained in batches too: a block of retrain.models_per_job candidates of one
    # family (named by its range and a digest of its members), each model with its own checkpoint.
    smoke = yaml.safe_load((smoke_run / "config/presets/smoke.yaml").read_text())
    per_job = smoke["retrain"]["models_per_job"]
    batches = sorted((smoke_run / "results/store/retrain").glob("*/test-*.*"))
    n_test = smoke["subsets"]["n_test"]
    assert (
        [b.name.split(".")[0] for b in batches]
        == ["test-0000-0002", "test-0003-0005"]
        == [f"test-{i:04d}-{i + per_job - 1:04d}" for i in range(0, n_test, per_job)]
    )
    job = json.loads((batches[0] / "job.json").read_text())
    assert job["subsets"] == ["test-0000", "test-0001", "test-0002"] and job["reused"] == {}
    assert 0 < job["startup_share"] < 1 and all(s > 0 for s in job["train_seconds"].values())
    assert all((batches[0] / sid / "model").is_dir() for sid in job["subsets"])
    log = next((smoke_run / "results/logs/retrain").glob(f"*/{batches[0].name}.log")).read_text()
    assert "steps/s" in log and "ETA" in log and "start-up" in log
    assert all(f"retrain {sid}: " in log for sid in job["subsets"])


def test_model_jobs_ran_forked_from_the_runs_preloaded_process(smoke_run):
    """compute.preload (on by default): every model job but the cheap baselines' scores (tqdm, see
    workflow/scripts/baselines.py) ran forked from the preloaded process."""
    forked, own = set(), set()
    for log in (smoke_run / "results/logs").rglob("*.log"):
        text = log.read_text(errors="replace")
        if "compute: device " in text:
            stage = log.relative_to(smoke_run / "results/logs").parts[0]
            (forked if "forked from the run's preloaded process" in text else own).add(stage)
    assert {"train_base", "prune", "unlearn", "retrain", "behaviour", "pairs", "samples"} <= forked
    assert own <= {"baselines"} and not forked & own


def test_second_run_has_nothing_to_do(smoke_run):
    assert planned_jobs(smoke_run, *SMOKE) == {}


def test_unlearn_change_replans_only_downstream_and_back_reuses(smoke_run):
    over = smoke_run / "over.yaml"
    over.write_text("unlearn: {steps: 7}\n")
    jobs = planned_jobs(smoke_run, *SMOKE, str(over))
    assert set(jobs) == {"unlearn", "behaviour_unlearn", "pairs", "samples"} | ANALYSIS_RULES
    # Only the unlearned models (every family's batches of 6: train 2, uniform 1, kernel 1, loo 2, full 1;
    # train has 7 candidates for 6 used, train-0000 equals a test subset) and what depends on them:
    # their grid and their FID2 pair.
    assert jobs["unlearn"] == 7 and jobs["behaviour_unlearn"] == 7 and jobs["samples"] == 1 and jobs["pairs"] == 1
    # Changing it back plans nothing: the old artifacts are still in the store.
    assert planned_jobs(smoke_run, *SMOKE) == {}


def test_new_subsets_redraw_only_the_grids_of_subset_models(smoke_run):
    # Another subsets.seed moves the first Table 1 pair from train-0001 to train-0000: the unlearned and
    # retrained grids follow it; the base and pruned models' grids do not depend on the subsets.
    over = smoke_run / "subsets.yaml"
    over.write_text("subsets: {seed: 1}\n")
    jobs = planned_jobs(smoke_run, *SMOKE, str(over))
    assert jobs["samples"] == 2 and jobs["retrain"] > 0 and jobs["unlearn"] > 0
    assert not {"train_base", "prune", "classifier", "reference"} & set(jobs)


def test_stale_run_view_is_rebuilt_without_snakemake_metadata(smoke_run):
    """A fresh clone on a shared store has no .snakemake metadata, so Snakemake's input trigger cannot
    see that the run view's inputs moved to new store paths; the plan-named marker makes it see."""
    meta, moved = smoke_run / ".snakemake/metadata", smoke_run / ".snakemake/metadata.off"
    meta.rename(moved)
    try:
        assert planned_jobs(smoke_run, *SMOKE) == {}
        over = smoke_run / "bootstrap.yaml"
        over.write_text("lds: {n_bootstrap: 500}\n")
        assert {"lds", "estimators", "run_view"} <= set(planned_jobs(smoke_run, *SMOKE, str(over)))
    finally:
        moved.rename(meta)
    markers = list((smoke_run / "results/runs/smoke").glob(".view-*"))
    assert len(markers) == 1 and json.loads(markers[0].read_text())["hashes"]["lds"] in str(
        json.loads((smoke_run / "results/runs/smoke/manifest.json").read_text())["stores"]["lds"]
    )


def test_runtime_settings_change_plans_nothing(smoke_run):
    # Logging, checkpointing, batching, sampling batch size, a rule's cluster resources and the Slurm
    # limits reach the jobs through the config, not params: changing them re-runs nothing (Snakemake's
    # params trigger stays quiet).
    over = smoke_run / "runtime.yaml"
    over.write_text(
        "train_base: {log_every: 3, checkpoint_every: 7}\n"
        "prune: {finetune: {log_every: 2, checkpoint_every: 5}}\n"
        "unlearn: {log_every: 1}\nbehaviour: {batch_size: 50}\ncompute: {preload: false}\n"
        "resources: {default: {threads: 1}, retrain: {mem_mb: 999, runtime: 7}}\n"
        "slurm_limits: {safety: 5.0, floor_minutes: 9, mem_floor_mb: 1500}\n"
    )
    assert planned_jobs(smoke_run, *SMOKE, str(over)) == {}


def test_bad_config_fails_at_start_with_the_key(smoke_run):
    over = smoke_run / "bad.yaml"
    over.write_text("subsets: {alpha: 1.5}\n")
    proc = snakemake(smoke_run, "-n", *SMOKE, str(over), check=False)
    assert proc.returncode != 0
    assert "config key subsets.alpha" in proc.stdout + proc.stderr


def test_failed_subsets_can_be_excluded_and_the_rest_fitted(smoke_run, tmp_path):
    """After a failed job (simulated by deleting one batch's behaviours), diffattr.missing names its
    subsets and its overlay fits the datamodel on the rows that exist, re-running only the analysis."""
    import shutil
    import subprocess
    import sys

    work = tmp_path / "wf"
    shutil.copytree(smoke_run, work, symlinks=True)
    lost = next((work / "results/store/behaviour").glob("*/train-0006-0006"))
    shutil.rmtree(lost)
    proc = subprocess.run(
        [sys.executable, "-m", "diffattr.missing", "config/config.yaml", "config/presets/smoke.yaml"],
        cwd=work,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(work / "lib"), "PATH": ""},
    )
    assert "# 1 subset lacks a behaviour: train-0006\n" in proc.stderr
    (work / "exclude.yaml").write_text(proc.stdout)
    lost_ids = ["train-0006"]
    assert yaml.safe_load(proc.stdout) == {"subsets": {"exclude": lost_ids}}
    jobs = planned_jobs(work, *SMOKE, "exclude.yaml")
    assert set(jobs) == ANALYSIS_RULES
    snakemake(work, "--cores", "2", *SMOKE, "exclude.yaml")
    lds = json.loads((work / "results/runs/smoke/lds.json").read_text())
    assert lds["n_train_models"] == 5 and lds["n_test_models"] == 4
    manifest = json.loads((work / "results/runs/smoke/manifest.json").read_text())
    assert manifest["excluded_subsets"] == lost_ids
    # Excluding too much is refused before any job runs, naming the key.
    (work / "too_many.yaml").write_text("subsets: {exclude: [test-0000, test-0001]}\n")
    proc = snakemake(work, "-n", *SMOKE, "too_many.yaml", check=False)
    assert proc.returncode != 0 and "config key subsets.exclude" in proc.stdout + proc.stderr


def test_budget_and_table1_in_the_run_view(smoke_run):
    run = smoke_run / "results/runs/smoke"
    budget = json.loads((run / "budget.json").read_text())
    assert [p["budget"] for p in budget["points"]] == [1.0, 2.0, 3.0]
    # The first 3 used training subsets: train-0000 equals test-0002, so it is never retrained.
    assert budget["baseline_subsets"] == ["train-0001", "train-0002", "train-0003"]
    costs = budget["costs"]
    # Unlearning's cost per model: its batches' time (7 models trained, train-0000 too) over the 6 train
    # rows of the matrix.
    with h5py.File(run / "matrix.h5") as f:
        train_rows = sum(s.decode().startswith("train-") for s in f["subset_ids"][()])
    assert costs["unit_seconds"] > 0 and costs["retrain_jobs"] == 3 + 4
    assert costs["unlearn_models"] == train_rows == 6 and costs["unlearn_models_trained"] == 7
    assert costs["one_off_units"] > 0 and set(costs["one_off_seconds"]) == {"train_base", "prune_finetune"}
    for p in budget["points"]:  # retraining affords floor(budget) models; never more than exist
        assert p["retrain"]["models"] == min(int(p["budget"]), 3)
        if p["unlearn"]["lds"] is not None and p["retrain"]["lds"] is not None:  # the paired gap
            assert p["gap"]["gap"] == pytest.approx(p["unlearn"]["lds"] - p["retrain"]["lds"])
            assert p["gap"]["ci95"][0] <= p["gap"]["ci95"][1]
        else:
            assert p["gap"]["gap"] is None
    with open(run / "table1.csv", newline="") as fh:
        rows = {r["model"]: r for r in csv.DictReader(fh)}
    assert set(rows) == {"original", "pruned + fine-tuned", "retrained", "unlearned"}
    assert float(rows["unlearned"]["fid2"]) > 0 and float(rows["retrained"]["fid2"]) > 0
    assert rows["unlearned"]["n_models"] == "6" and rows["retrained"]["n_models"] == "3"


def test_report_holds_every_item_with_captions_from_the_config(smoke_run, tmp_path):
    report = tmp_path / "report.html"
    snakemake(smoke_run, "--report", str(report), *SMOKE)
    text = report.read_text()
    for category in (
        "1. Summary",
        "2. Equal-compute comparison",
        "3. Samples",
        "4. Attributions",
        "5. Counterfactual check",
    ):
        assert category in text, category
    for name in (
        "summary.html",
        "table1.html",
        "budget.png",
        "base.png",
        "pruned.png",
        "unlearned.png",
        "retrained.png",
        "scatter.png",
        "units_top.png",
        "units_bottom.png",
        "histogram.png",
        "attributions.csv",
        "estimators.csv",
        "estimators.html",
        "counterfactual.csv",
        "counterfactual.png",
    ):
        assert f'"filename": "{name}"' in text, name
    # Captions are rendered with this run's config (smoke: 3 baseline models, budgets 1-3, 16 images).
    assert "the retrained (3 baseline models" in text
    assert "At each budget of [1, 2, 3]" in text
    assert "16 samples of the <strong>unlearned</strong> model" in text
    # The primary (ridge) does not identify the level: the unit grids are ranks, nothing "most harmful".
    assert "highest-ranked units" in text and "most harmful units" not in text


def test_estimator_table_covers_every_estimator_behaviour_and_test_set(smoke_run):
    smoke = yaml.safe_load((smoke_run / "config/presets/smoke.yaml").read_text())
    rows = list(csv.DictReader((smoke_run / "results/runs/smoke/estimators.csv").open()))
    keys = {(r["estimator"], r["behaviour"], r["alpha"]) for r in rows}
    assert keys == {(e, b, a) for e in ESTIMATORS for b in smoke["behaviour"]["metrics"] for a in ("0.5", "0.25")}
    fit = {r["estimator"]: int(r["n_fit_models"]) for r in rows}
    # The baselines fit on no model (their scores come from the baselines stage).
    assert fit == {
        "ridge": 6,
        "lasso": 6,
        "banzhaf": 6,
        "shapley": 6,
        "loo": 10,
        "trak": 0,
        "dtrak": 0,
        "pixel": 0,
        "feature": 0,
    }
    lds = json.loads((smoke_run / "results/runs/smoke/lds.json").read_text())
    assert set(lds["estimators"]) == set(ESTIMATORS)
    assert set(lds["estimators"]["shapley"]["other_alphas"]) == {"test25"}
    for r in rows:
        if r["lds"] != "nan":
            assert float(r["ci_low"]) <= float(r["ci_high"])
        if r["behaviour"] == "fid":  # the same fits on the same test models as the lds stage's
            est = lds["estimators"][r["estimator"]]
            value = est["lds"] if r["alpha"] == "0.5" else est["other_alphas"]["test25"]["lds"]
            assert float(r["lds"]) == pytest.approx(float("nan") if value is None else value, abs=1e-3, nan_ok=True)
        if r["alpha"] == "0.5" and r["behaviour"] == "fid":  # the ceiling beside every LDS (FID: lds.json's)
            assert float(r["ceiling"]) == pytest.approx(lds["ceiling"]["spearman"], abs=1e-3)
        elif r["alpha"] != "0.5":  # no second retraining of the alpha-0.25 test subsets: not computed
            assert r["ceiling"] == ""
    assert {r["primary"] for r in rows} == {"ridge"}
    for key in {(r["behaviour"], r["alpha"]) for r in rows}:
        group = {r["estimator"]: r for r in rows if (r["behaviour"], r["alpha"]) == key}
        primary = group["ridge"]
        # The reference is the primary estimator: its gap is 0 with no CI; every other gap is its LDS
        # minus the primary's, with a paired CI.
        assert float(primary["gap_to_primary"]) == 0 and primary["gap_ci_low"] == ""
        if primary["lds"] == "nan":
            continue
        for r in group.values():
            if r["lds"] != "nan":
                assert float(r["gap_to_primary"]) == pytest.approx(float(r["lds"]) - float(primary["lds"]), abs=2e-3)
            if r is not primary and r["gap_ci_low"] != "":
                assert float(r["gap_ci_low"]) <= float(r["gap_ci_high"])
        finite = [r for r in group.values() if r["lds"] != "nan"]
        highest = [r for r in finite if r["highest_lds"] == "1"]
        assert len(highest) == 1 and float(highest[0]["lds"]) == max(float(r["lds"]) for r in finite)


def test_a_new_counterfactual_plan_retrains_only_what_it_adds(smoke_run, tmp_path):
    """Fewer random removals give the plan a new hash but remove no new units: one invocation rewrites
    the records and the counterfactual and retrains nothing (the retrainings read their records,
    named by the units, as ancient()). Reading the plan itself, whose path moves with its hash,
    retrained every removal; records without the counterfactual reading them left Snakemake's DAG
    after the checkpoint without the counterfactual, so the run stopped short."""
    import shutil

    work = tmp_path / "wf"
    shutil.copytree(smoke_run, work, symlinks=True)
    models = sorted((work / "results/store/retrain_cf").glob("*/*/cf-*/model"))
    before = {m: (m / "diffusion_pytorch_model.safetensors").stat().st_mtime_ns for m in models}
    (work / "fewer.yaml").write_text("counterfactual: {n_random: 1}\n")
    snakemake(work, "--cores", "2", *SMOKE, "fewer.yaml")
    assert {m: (m / "diffusion_pytorch_model.safetensors").stat().st_mtime_ns for m in models} == before
    # Fewer removals rename the retraining batches after the first one dropped; the new batches copy
    # their models from the old ones and train none.
    after = sorted((work / "results/store/retrain_cf").glob("*/*/cf-*/model"))
    assert {m.parent.name for m in after} == {m.parent.name for m in models}
    for batch in {m.parent.parent for m in after} - {m.parent.parent for m in models}:
        job = json.loads((batch / "job.json").read_text())
        assert sorted(job["reused"]) == sorted(job["subsets"])
    assert planned_jobs(work, *SMOKE, "fewer.yaml") == {}  # one invocation finished the run
    manifests = (d / "results/runs/smoke/manifest.json" for d in (work, smoke_run))
    stores, old = (json.loads(m.read_text())["stores"] for m in manifests)
    assert stores["cf_plan"] != old["cf_plan"]
    assert (work / stores["counterfactual"] / "counterfactual.csv").is_file()


def test_counterfactual_retrains_each_distinct_removal_once(smoke_run):
    info = json.loads(next((smoke_run / "results/store/counterfactual").glob("*/counterfactual.json")).read_text())
    # Every estimator removes its top units, but one whose scores are all tied (no ranking).
    dm = json.loads(next((smoke_run / "results/store/datamodel").glob("*/datamodel.json")).read_text())
    tied = sorted(name for name, est in dm["estimators"].items() if not est["ranking"])
    assert info["no_ranking"] == tied
    assert sorted(r["estimator"] for r in info["rows"]) == sorted(set(ESTIMATORS) - set(tied))
    assert all(r["k"] == 2 and len(r["removed"]) == 2 for r in info["rows"])
    assert len(info["random"]["0.2"]) == 2
    plan = json.loads(next((smoke_run / "results/store/cf_plan").glob("*/plan.json")).read_text())
    distinct = {r["id"] for r in plan["removals"]}
    retrained = list((smoke_run / "results/store/retrain_cf").glob("*/*/cf-*/model"))
    assert len(retrained) == len(distinct) <= len(ESTIMATORS) - len(tied) + 2
    for sid, sub in plan["subsets"].items():
        assert len(sub["unit_ids"]) == 8 and sid.startswith("cf-")
    # The change is measured against the base model (all data, the same recipe).
    cf_dir = next((smoke_run / "results/store/counterfactual").glob("*/"))
    base_hash = json.loads((cf_dir / "spec.json").read_text())["upstream"]["behaviour_base"]
    base = json.loads((smoke_run / f"results/store/behaviour/{base_hash}/full.json").read_text())
    assert info["all_data_behaviour"] == base["metrics"]["fid"]
    for r in info["rows"]:
        assert r["change"] == pytest.approx(r["behaviour"] - base["metrics"]["fid"])
