"""docs/own-data.md, executed: its overlay, its units script and its two snakemake commands, through
the CLI, on an image folder, a pretrained DDPM in the hub's layout and Inception weights that this
test writes at the page's paths. The dry run runs as the page shows it (the paper preset's sizes); the
run gets one more overlay, TINY, appended to its --configfile list, as the page says."""

import csv
import json
import re
import shlex
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml
from conftest import (
    ROOT,
    SCHED,
    copy_workflow,
    job_counts,
    snakemake,
    write_folder,
    write_inception_weights,
    write_pretrained,
)

from diffattr.modelling.models import build_unet, load_model

PAGE = ROOT / "docs" / "own-data.md"
# What the test changes: a 41k-parameter UNet (the pretrained folder holds one of this shape), a few
# steps and models, 8 generated images, one thread per job. Everything else is the page's.
TINY = {
    "model": {"block_out_channels": [8, 16], "layers_per_block": 1, "norm_num_groups": 4, "attention": False},
    "train_base": {"steps": 4, "batch_size": 8, "log_every": 2, "checkpoint_every": 0},
    "prune": {"finetune": {"steps": 2, "batch_size": 8, "log_every": 1, "checkpoint_every": 0}},
    "subsets": {"n_train": 3, "n_test": 3},
    "unlearn": {"steps": 2, "batch_size": 8, "log_every": 1, "subsets_per_job": 3},
    "baseline": {"n_models": 2},
    "budget": {"grid": [1, 2]},
    "table1": {"n_pairs": 1},
    "lds": {"ceiling_models": 0, "n_bootstrap": 100},
    "counterfactual": {"n_random": 1},
    "datamodel": {"cv_folds": 2},
    "classifier": {"epochs": 1},
    "behaviour": {"n_samples": 8, "ddim_steps": 2, "batch_size": 8},
    "report": {"n_images": 4, "top_k": 2},
    "resources": {"default": {"threads": 1}},
}
CLASSES = {"beach": (230, 200, 120), "forest": (30, 120, 40), "street": (90, 90, 100)}
ROLLS = 12  # image i of every class was shot on roll i: 12 units of 3 images


def page_steps() -> list[tuple[str, str]]:
    """(marker, block) for each code block the page marks with <!-- own-data-test: MARKER -->."""
    text = PAGE.read_text()
    steps = re.findall(r"<!-- own-data-test: ([\w-]+(?: [\w./-]+)?) -->\s*```\w*\n(.*?)```", text, re.S)
    assert [m.split()[0] for m, _ in steps] == ["python", "write", "dry-run", "run"], steps
    return steps


def snakemake_args(block: str) -> list[str]:
    lines = [line for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(lines) == 1 and lines[0].startswith("snakemake "), block
    return shlex.split(lines[0])[1:]


@pytest.mark.integration
def test_own_data_page_runs_through_the_cli(tmp_path):
    work = copy_workflow(tmp_path / "wf")
    write_folder(
        work / "data" / "my-images",
        size=(20, 20),  # resized to the pretrained model's 32x32 by data.resolution
        colors=CLASSES,
        per_class=ROLLS,
        noise=40,
        name=lambda i: f"roll{i:02d}_{i:04d}.png",
    )
    steps = page_steps()
    overlay = yaml.safe_load(next(block for marker, block in steps if marker.startswith("write ")))
    # The pretrained model of the run's `model` section: the page's, with TINY's values over it.
    torch.manual_seed(0)
    model = build_unet({**overlay["model"], **TINY["model"]}, overlay["data"]["resolution"], 3)
    write_pretrained(work / "data" / "ddpm-cifar10-32", model, SCHED, "hub")
    write_inception_weights(work / "data" / "weights-inception-2015-12-05-6726825d.pth")
    (work / "tiny.yaml").write_text(yaml.safe_dump(TINY))

    for marker, block in steps:
        kind = marker.split()[0]
        if kind == "write":
            (work / marker.split()[1]).write_text(block)
        elif kind == "python":
            subprocess.run([sys.executable, "-c", block], cwd=work, check=True)
        elif kind == "dry-run":
            args = snakemake_args(block)
            assert "-n" in args
            jobs = job_counts(snakemake(work, *args).stdout)
            # The paper preset's sizes: 64 test + 30 baseline retrainings, Table 1's 2 floors and the
            # LDS ceiling's 8; the base model is imported, not trained (one quick job).
            assert jobs["retrain"] == 64 + 30 and jobs["retrain_floor"] == 2 + 8, jobs
            assert jobs["train_base"] == 1 and jobs["reference"] == 1, jobs
            # The counts the page quotes for this data.
            text = PAGE.read_text()
            assert jobs["unlearn"] == int(re.search(r"; (\d+) with the test's 12 units", text)[1]), jobs
            assert sum(jobs.values()) == int(re.search(r"; (\d+) jobs here", text)[1]), jobs
        else:
            args = snakemake_args(block)
            assert args[-1].endswith(".yaml"), "the run command must end with its --configfile list"
            snakemake(work, *args, "tiny.yaml")

    run = work / "results" / "runs" / "my-data"
    for name in ("lds.json", "attributions.csv", "matrix.h5", "manifest.json", "budget.json"):
        assert (run / name).is_file(), name
    units = {row["unit"] for row in csv.DictReader((work / "data" / "my-units.csv").open())}
    assert units == {f"roll{i:02d}" for i in range(ROLLS)}
    assert {row["unit_id"] for row in csv.DictReader((run / "attributions.csv").open())} == units
    lds = json.loads((run / "lds.json").read_text())
    assert lds["behaviour"] == "fid" and lds["n_test_models"] == TINY["subsets"]["n_test"]
    manifest = json.loads((run / "manifest.json").read_text())
    base = work / manifest["stores"]["train_base"]
    info = json.loads((base / "train.json").read_text())
    assert info["steps"] == 0 and info["pretrained_unet"] == "data/ddpm-cifar10-32"
    assert info["pretrained_hashed"] == ["config.json", "diffusion_pytorch_model.bin"]
    log = (work / "results" / "logs" / "train_base" / f"{base.name}.log").read_text()
    assert "train_base: imported data/ddpm-cifar10-32 (" in log
    for (key, a), b in zip(model.state_dict().items(), load_model(base / "model").state_dict().values()):
        assert torch.equal(a, b), key
    assert json.loads((run / "budget.json").read_text())["costs"]["base_imported"] is True
    # FID on Inception's 2048-d pool features of the training set (the reference statistics).
    with np.load(work / manifest["stores"]["reference"] / "stats.npz") as f:
        assert f["mu"].shape == (2048,) and f["features"].shape == (len(CLASSES) * ROLLS, 2048)
