"""The paper's CIFAR-10 preset plans the paper's DAG from local files (dry run, nothing trained)."""

import pytest
from conftest import copy_workflow, planned_jobs, snakemake
from test_data_sources import write_cifar

PAPER = ["--configfile", "config/config.yaml", "config/presets/cifar10-paper.yaml"]


@pytest.fixture(scope="module")
def paper_copy(tmp_path_factory):
    work = copy_workflow(tmp_path_factory.mktemp("paper") / "wf")
    write_cifar(work / "data" / "cifar-10-batches-py")
    (work / "data" / "pt_inception-2015-12-05-6726825d.pth").write_bytes(b"stand-in: only hashed by a dry run")
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
