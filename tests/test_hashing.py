import copy

import pytest

from diffattr.core.hashing import canonical_json, stage_hash
from diffattr.core.registry import downstream
from diffattr.workflow.addressing import STAGES, build_plan
from diffattr.workflow.draws import subset_chunks


def test_hash_is_stable_and_order_independent():
    a = stage_hash("s", "1", {"x": {"b": 1, "a": [1, 2]}}, {"up": "abc"})
    b = stage_hash("s", "1", {"x": {"a": [1, 2], "b": 1}}, {"up": "abc"})
    assert a == b and len(a) == 12
    assert stage_hash("s", "2", {"x": {"b": 1, "a": [1, 2]}}, {"up": "abc"}) != a
    assert stage_hash("s", "1", {"x": {"b": 1, "a": [1, 2]}}, {"up": "abd"}) != a
    assert canonical_json({"b": 1, "a": 2}) == '{"a":2,"b":1}'


def _changed(config, mutate):
    before = build_plan(config).hashes
    cfg = copy.deepcopy(config)
    mutate(cfg)
    after = build_plan(cfg).hashes
    # .get: a stage planned only under some configs (the baselines) is absent from the other plans.
    return {s for s in STAGES if before.get(s) != after.get(s)}


# Everything fitted or reported after the matrix (its dependants in the registry).
ANALYSIS = downstream("matrix")
DOWNSTREAM_OF_UNLEARN = downstream("unlearn")
BEHAVIOURS = {name for name in STAGES if name.startswith("behaviour_")}


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda c: c["unlearn"].update(steps=7), DOWNSTREAM_OF_UNLEARN),
        (lambda c: c["unlearn"].update(lr=0.1), DOWNSTREAM_OF_UNLEARN),
        (lambda c: c["prune"].update(ratio=0.5), {"prune", "behaviour_prune", "samples_prune"} | DOWNSTREAM_OF_UNLEARN),
        (
            lambda c: c["prune"].update(round_to=8),
            {"prune", "behaviour_prune", "samples_prune"} | DOWNSTREAM_OF_UNLEARN,
        ),
        (lambda c: c["datamodel"].update(cv_folds=3), ANALYSIS - {"matrix", "table1"}),
        (lambda c: c["lds"].update(n_bootstrap=500), {"lds", "estimators", "budget", "figures", "summary"}),
        (lambda c: c["subsets"].update(n_train=5), ANALYSIS),
        # Other estimators' families enter the matrix only.
        (lambda c: c["subsets"].update(n_uniform=5), ANALYSIS),
        (lambda c: c["datamodel"].update(estimators=["ridge", "shapley"]), ANALYSIS),
        (lambda c: c["lds"].update(extra_alphas=[0.25]), ANALYSIS),
        (lambda c: c["counterfactual"].update(n_random=5), {"cf_plan", "counterfactual"}),
        # A unit kind's settings are hashed only when that unit is used.
        (lambda c: c["attribution"].update(kmeans={"k": 3, "seed": 1}, csv="elsewhere.csv"), set()),
        (
            lambda c: c["attribution"].update(unit="kmeans"),
            {"subsets", "unlearn", "retrain", "retrain_floor", "cf_removal", "retrain_cf"}
            | {s for s in STAGES if s.startswith(("behaviour_u", "behaviour_retrain", "samples_u", "samples_r"))}
            | {"pairs"}
            | ANALYSIS,
        ),
        (
            lambda c: c["retrain"].update(seed=9),
            {"retrain", "behaviour_retrain", "pairs", "samples_retrain", "retrain_cf", "behaviour_retrain_cf"}
            | ANALYSIS,
        ),
        # The floor's second retraining depends on its own seed, not on retrain.seed.
        # The floor's second retrainings also give the LDS ceiling (test subsets retrained twice).
        (
            lambda c: c["table1"].update(floor_seed=5),
            {"retrain_floor", "behaviour_retrain_floor", "pairs", "table1", "lds", "estimators", "figures", "summary"},
        ),
        (lambda c: c["lds"].update(ceiling_models=4), {"lds", "estimators", "figures", "summary"}),
        (lambda c: c["budget"].update(grid=[1, 5]), {"budget", "summary"}),
        # The baseline's retrained models also give the LDS stage's proxy fidelity.
        (lambda c: c["baseline"].update(n_models=4), {"lds", "budget", "table1", "figures", "summary"}),
        (
            lambda c: c["report"].update(n_images=9),
            {"samples_train_base", "samples_prune", "samples_unlearn", "samples_retrain"},
        ),
        (
            lambda c: c["classifier"].update(epochs=3),
            {"classifier", "reference", "pairs"} | BEHAVIOURS | ANALYSIS,
        ),
        # Features differ by ~1e-6 between batch sizes: every stage that extracts them, and after them.
        (lambda c: c["behaviour"].update(feature_batch=16), {"reference", "pairs"} | BEHAVIOURS | ANALYSIS),
    ],
)
def test_hash_sensitive_to_exactly_its_keys(config, mutate, expected):
    assert _changed(config, mutate) == expected


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c.update(run_name="other"),
        lambda c: c["resources"]["default"].update(threads=4, mem_mb=9999),
        lambda c: c["resources"].update(unlearn={"gpu": 1, "runtime": 5}),
        lambda c: c["unlearn"].update(concurrent=4),
        lambda c: c["unlearn"].update(concurrent=4, concurrent_mode="vmap"),
        lambda c: c.update(groups={"behaviour": "x"}),
    ],
)
def test_runtime_settings_are_not_hashed(config, mutate):
    assert _changed(config, mutate) == set()


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c["train_base"].update(log_every=1),
        lambda c: c["prune"]["finetune"].update(log_every=1),
        lambda c: c["unlearn"].update(log_every=1, subsets_per_job=3),
        lambda c: c["behaviour"].update(batch_size=7),
    ],
)
def test_logging_and_batching_are_not_hashed(config, mutate):
    assert _changed(config, mutate) == set()


def test_prune_round_to_at_null_or_absent_renames_nothing(config):
    """prune.round_to came after stores existed: at null (the authors' rule) it is left out of the
    prune stage's hash, so its absence, an explicit null and the stores made before it all agree;
    config.yaml's 16 is hashed, and setting it renames exactly what a ratio change renames."""
    assert config["prune"]["round_to"] == 16
    assert build_plan(config).specs["prune"]["config"]["prune"]["round_to"] == 16
    authors = copy.deepcopy(config)
    authors["prune"]["round_to"] = None
    assert "round_to" not in build_plan(authors).specs["prune"]["config"]["prune"]
    assert _changed(authors, lambda c: c["prune"].pop("round_to")) == set()
    assert _changed(authors, lambda c: c["prune"].update(round_to=16)) == _changed(
        authors, lambda c: c["prune"].update(ratio=0.5)
    )
    assert "train_base" not in _changed(authors, lambda c: c["prune"].update(round_to=16))


def test_feature_batch_at_null_or_absent_renames_nothing(config, tmp_path):
    """behaviour.feature_batch came after stores existed: at null (500 images a batch, as every store
    was made) it is hashed nowhere, with the classifier's features or Inception's (whose reference is
    named by the weights' content); set, it renames the reference either way."""
    assert config["behaviour"]["feature_batch"] is None
    assert _changed(config, lambda c: c["behaviour"].pop("feature_batch")) == set()
    assert "feature_batch" not in build_plan(config).specs["behaviour_base"]["config"]["behaviour"]
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"stand-in weights: only their sha256 is read here")
    inception = copy.deepcopy(config)
    inception["behaviour"].update(features="inception", inception_weights=str(weights))
    assert _changed(inception, lambda c: c["behaviour"].pop("feature_batch")) == set()
    changed = _changed(inception, lambda c: c["behaviour"].update(feature_batch=16))
    assert {"reference", "pairs", "behaviour_unlearn"} <= changed and "samples_unlearn" not in changed
    spec = build_plan({**inception, "behaviour": {**inception["behaviour"], "feature_batch": 16}}).specs["reference"]
    assert spec["config"]["behaviour.feature_batch"] == 16


def test_changing_back_restores_hashes(config):
    original = build_plan(config).hashes
    cfg = copy.deepcopy(config)
    cfg["unlearn"]["steps"] += 1
    assert build_plan(cfg).hashes != original
    cfg["unlearn"]["steps"] -= 1
    assert build_plan(cfg).hashes == original


def test_unlearn_batches_cover_each_subset_once_and_name_their_range():
    batches = subset_chunks("train", 23, 10)
    assert list(batches) == ["train-0000-0009", "train-0010-0019", "train-0020-0022"]
    members = [s for m in batches.values() for s in m]
    assert members == [f"train-{i:04d}" for i in range(23)]
    # Growing n_train never changes a complete batch under its name.
    assert subset_chunks("train", 30, 10)["train-0010-0019"] == batches["train-0010-0019"]


def test_rule_resources_merge_default_and_drop_gpu_for_cpu_jobs():
    from diffattr.core.resources import one_rule_resources as rule_resources

    cfg = {
        "default": {"threads": 2, "runtime": 30, "mem_mb": 1000, "gpu": 0},
        "unlearn": {"gpu": 1, "constraint": "a100", "runtime": 90},
    }
    threads, res = rule_resources(cfg, "unlearn")
    assert threads == 2 and res == {"runtime": 90, "mem_mb": 1000, "gpu": 1, "constraint": "a100", "cpus_per_task": 2}
    threads, res = rule_resources(cfg, "behaviour")
    assert "gpu" not in res and res["runtime"] == 30
    with pytest.raises(ValueError, match="resources.retrain: unknown resource 'gpus'"):
        rule_resources({"default": {}, "retrain": {"gpus": 1}}, "retrain")


def test_slurm_partition_account_qos_from_the_environment():
    from diffattr.core.resources import env_resources, rule_resources

    env = env_resources(
        {
            "DIFFATTR_SLURM_PARTITION": "gpu",
            "DIFFATTR_SLURM_ACCOUNT": "lab",
            "DIFFATTR_SLURM_QOS": "",
            "SBATCH_PARTITION": "ignored",
        }
    )
    assert env == {"slurm_partition": "gpu", "slurm_account": "lab"}
    cfg = {"default": {"slurm_partition": "cpu"}, "retrain": {"slurm_partition": "long"}}
    _, res = rule_resources(cfg, ["unlearn", "retrain"], env)
    # The environment beats resources.default, a rule's own entry beats the environment.
    assert res["unlearn"]["slurm_partition"] == "gpu" and res["unlearn"]["slurm_account"] == "lab"
    assert res["retrain"]["slurm_partition"] == "long"


def test_runtime_settings_are_exactly_the_unhashed_keys_of_a_section(config):
    from diffattr.core.settings import runtime_settings
    from diffattr.workflow.addressing import stage_config

    assert runtime_settings(config, "train_base") == {"log_every": 200, "checkpoint_every": 500}
    assert runtime_settings(config, "prune.finetune") == {"log_every": 100, "checkpoint_every": 200}
    assert runtime_settings(config, "unlearn") == {
        "log_every": 100,
        "subsets_per_job": 10,
        "concurrent": 1,
        "concurrent_mode": "streams",
    }
    # Hashed part + runtime part = the whole section, with no key in both.
    hashed = stage_config(config, "unlearn")["unlearn"]
    assert not set(hashed) & set(runtime_settings(config, "unlearn"))
    assert {**hashed, **runtime_settings(config, "unlearn")} == config["unlearn"]


def test_a_job_gets_its_sections_run_time_type_and_defaults(config):
    """Each section's run-time keys in its own type (settings.RUNTIMES), a key left out of the config
    taking that type's default: a baselines batch is 32 images, a sampling batch 500."""
    import copy

    from diffattr.core.settings import BaselinesRuntime, SamplingRuntime, TrainRuntime, UnlearnRuntime, job_settings

    unlearn = job_settings("unlearn", config["unlearn"], config).runtime
    assert unlearn == UnlearnRuntime(log_every=100, checkpoint_every=0, concurrent=1, concurrent_mode="streams")
    assert job_settings("train_base", config["train_base"], config).runtime == TrainRuntime(200, 500)
    bare = copy.deepcopy(config)
    del bare["behaviour"]["batch_size"], bare["baselines"]["batch_size"]
    assert job_settings("behaviour", bare["behaviour"], bare).runtime == SamplingRuntime(500)
    assert job_settings("baselines", bare["baselines"], bare).runtime == BaselinesRuntime(32)
    config["baselines"]["batch_size"] = 4
    assert job_settings("baselines", config["baselines"], config).runtime.batch_size == 4


def test_baseline_scores_are_named_by_the_device_that_computes_them(config):
    """dattri projects TRAK's gradients with another random matrix on a GPU than on the CPU, and TF32
    changes the gradients: the scores' folder names the device kind the plan sends them to
    (compute.device, or for `auto` a GPU asked of the cluster), so GPU and CPU scores never share a
    path; CPU scores keep their names."""
    from diffattr.workflow.addressing import baseline_device

    config["datamodel"]["estimators"] = [*config["datamodel"]["estimators"], "trak"]
    downstream = {"baselines", "datamodel", "lds", "estimators", "budget", "figures", "summary", "cf_plan"}
    downstream |= {"counterfactual"}
    assert baseline_device(config) == "cpu"
    assert _changed(config, lambda c: c["compute"].update(device="cpu")) == set()
    for mutate in (
        lambda c: c["compute"].update(device="cuda"),
        lambda c: c["resources"].update(baselines={"gpu": 1}),
        lambda c: c["resources"]["default"].update(gres="gpu:a100:1"),
    ):
        cfg = copy.deepcopy(config)
        mutate(cfg)
        assert baseline_device(cfg) == "cuda"
        assert _changed(config, mutate) == downstream
    cuda = copy.deepcopy(config)
    cuda["compute"].update(device="cuda")
    # TF32 on a GPU renames the scores (and the images and models it also changes).
    assert "baselines" in _changed(cuda, lambda c: c["compute"].update(tf32=True))
    # A GPU asked for another rule does not move the baselines.
    assert _changed(config, lambda c: c["resources"].update(unlearn={"gpu": 1})) == set()
