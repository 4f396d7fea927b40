"""The presets plan what they promise from local files (dry runs, nothing trained): the paper's CIFAR-10
DAG, and the follow-up's baselines at class and sample level."""

import pytest
from conftest import copy_workflow, planned_jobs, snakemake, write_cifar

PAPER = ["--configfile", "config/config.yaml", "config/presets/cifar10-paper.yaml"]


@pytest.fixture(scope="module")
def paper_copy(tmp_path_factory):
    work = copy_workflow(tmp_path_factory.mktemp("paper") / "wf")
    write_cifar(work / "data" / "cifar-10-batches-py")
    (work / "data" / "weights-inception-2015-12-05-6726825d.pth").write_bytes(b"stand-in: only hashed by a dry run")
    return work


def test_paper_preset_plans_the_papers_dag(paper_copy):
    jobs = planned_jobs(paper_copy, *PAPER)
    # 300 unlearned models in batches of 4, 64 test + 30 baseline retrainings, Table 1's 2 floors and
    # the LDS ceiling's 8 second retrainings of test subsets.
    assert jobs["unlearn"] == 75 and jobs["behaviour_unlearn"] == 75
    assert jobs["retrain"] == 64 + 30 and jobs["retrain_floor"] == 2 + 8
    assert jobs["train_base"] == 1 and jobs["prune"] == 1 and jobs["reference"] == 1


def test_missing_local_files_stop_before_any_job(paper_copy, tmp_path):
    over = tmp_path / "elsewhere.yaml"
    over.write_text("data: {path: /nonexistent/cifar}\n")
    proc = snakemake(paper_copy, "-n", *PAPER, str(over), check=False)
    assert proc.returncode != 0
    assert "config key data.path: '/nonexistent/cifar' is not a directory" in proc.stdout + proc.stderr
    over.write_text("behaviour: {inception_weights: /nonexistent/inception.pth}\n")
    proc = snakemake(paper_copy, "-n", *PAPER, str(over), check=False)
    assert proc.returncode != 0
    assert "behaviour.inception_weights: '/nonexistent/inception.pth' not found" in proc.stdout + proc.stderr


BASELINES = ["--configfile", "config/config.yaml", "config/presets/baselines.yaml"]
BASELINES_SAMPLE = ["--configfile", "config/config.yaml", "config/presets/baselines-sample.yaml"]
SEEDS_SAMPLE = ["--configfile", "config/config.yaml", "config/presets/seeds-sample.yaml"]


@pytest.fixture(scope="module")
def default_copy(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("presets") / "wf")


def test_baseline_rules_exist_only_when_a_baseline_is_listed(default_copy):
    plain = set(snakemake(default_copy, "--list-rules").stdout.split())
    listed = set(snakemake(default_copy, "--list-rules", *BASELINES).stdout.split())
    assert not {"baselines", "baseline_images"} & plain
    assert {"baselines", "baseline_images"} <= listed and listed - plain == {"baselines", "baseline_images"}


def test_baseline_presets_plan_the_four_baselines_beside_their_estimators(default_copy):
    plain = planned_jobs(default_copy)
    classes = planned_jobs(default_copy, *BASELINES)
    samples = planned_jobs(default_copy, *BASELINES_SAMPLE)
    assert "baselines" not in plain and "baseline_images" not in plain
    # Class level: the default's models and the four baselines on one set of generated images.
    assert classes["baselines"] == 4 and classes["baseline_images"] == 1
    assert {k: v for k, v in classes.items() if k not in ("baselines", "baseline_images")} == plain
    # Sample level (1,797 units, no LOO): 40 train + 40 kernel subsets in batches of 10 and the full
    # set for Shapley's v(full); 20 test + 8 retraining-baseline models, 8 ceiling + 2 Table 1 floors,
    # retrained in batches of retrain.models_per_job = 4 (one family's models a batch).
    assert samples["baselines"] == 4 and samples["baseline_images"] == 1
    assert (
        samples["unlearn"] == 4 + 4 + 1 and samples["retrain"] == 20 / 4 + 8 / 4 and samples["retrain_floor"] == 2 + 1
    )


def test_seeds_preset_adds_only_the_test_subsets_further_seeds(default_copy):
    samples = planned_jobs(default_copy, *BASELINES_SAMPLE)
    seeds = planned_jobs(default_copy, *SEEDS_SAMPLE)
    # 4 seeds of 20 test subsets: seed 1 is rule retrain's model; seeds 2..4 are retrain_floor's, where
    # seed 2 of the first 8 is the ceiling's second retraining baselines-sample already plans. So 60
    # test retrainings replace the ceiling's 8 (Table 1's 2 floors stay). Their evaluation batches
    # (one per subsets chunk of 10): the ceiling's one (its 8 subsets in the first chunk) gives way to
    # one per test chunk (2) and one for Table 1's 2 second retrainings, which are evaluated too: the
    # proxy fidelity averages a baseline subset's two retrainings once seeds are averaged. Retrained
    # in batches of retrain.models_per_job = 4 of one family: 60 test models in 15, Table 1's 2 in 1.
    assert seeds["retrain_floor"] == 20 * 3 / 4 + 1 and samples["retrain_floor"] == 8 / 4 + 1
    assert seeds["behaviour_retrained"] - samples["behaviour_retrained"] == 3 - 1
    changed = ("retrain_floor", "behaviour_retrained")
    same = {k: v for k, v in seeds.items() if k not in changed}
    assert same == {k: v for k, v in samples.items() if k not in changed}
