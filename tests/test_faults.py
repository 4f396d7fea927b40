"""Faults: a training job killed mid-way resumes to the identical result; a snakemake run killed
with SIGKILL is completed by a rerun without half-written artifacts or duplicate rows."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import pytest
import yaml
from conftest import ROOT, SMOKE, remove_for_rerun, snakemake
from snakemake.utils import update_config

from diffattr.core.families import UNLEARN_FAMILIES
from diffattr.core.settings import DataSource
from diffattr.workflow.draws import SubsetPlan

TRAIN = textwrap.dedent("""
    import sys
    sys.path.insert(0, {lib!r})
    import numpy as np, torch, yaml
    from diffattr.core.progress import get_logger
    from diffattr.core.settings import job_settings
    from diffattr.stages.train_base import train_base
    torch.set_num_threads(1)
    cfg = yaml.safe_load(open({config!r}))
    cfg["train_base"].update(steps=120, checkpoint_every=20, log_every=20)
    job = job_settings("train_base", cfg["train_base"], cfg, scheduler=cfg["scheduler"], model=cfg["model"])
    train_base(data={data!r}, settings=job,
               model=sys.argv[1], info=sys.argv[2], log=get_logger(sys.argv[3]),
               resume=sys.argv[4] if len(sys.argv) > 4 else None)
""")


def _data(tmp_path: Path) -> Path:
    sys.path.insert(0, str(ROOT / "lib"))
    from diffattr.stages.data import make_data

    make_data(settings=DataSource("digits"), data=tmp_path / "data.npz", info=tmp_path / "data.json")
    return tmp_path / "data.npz"


def test_killed_training_resumes_to_the_identical_result(tmp_path):
    import torch

    from diffattr.modelling.models import load_model

    script = tmp_path / "train.py"
    script.write_text(
        TRAIN.format(lib=str(ROOT / "lib"), config=str(ROOT / "config/config.yaml"), data=str(_data(tmp_path)))
    )
    run = lambda *a: subprocess.Popen([sys.executable, str(script), *map(str, a)])  # noqa: E731
    assert run(tmp_path / "full", tmp_path / "full.json", tmp_path / "full.log").wait() == 0
    resume = tmp_path / "resume.pt"
    proc = run(tmp_path / "cut", tmp_path / "cut.json", tmp_path / "cut.log", resume)
    deadline = time.time() + 300
    while not resume.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert resume.exists() and not (tmp_path / "cut").exists()
    assert run(tmp_path / "cut", tmp_path / "cut.json", tmp_path / "cut.log", resume).wait() == 0
    stats = json.loads((tmp_path / "cut.json").read_text())
    assert 0 < stats["resumed_from_step"] < 120 and stats["resumed_from_step"] % 20 == 0
    assert "resumed from" in (tmp_path / "cut.log").read_text() and not resume.exists()
    full, cut = load_model(tmp_path / "full"), load_model(tmp_path / "cut")
    assert all(torch.equal(a, b) for a, b in zip(full.state_dict().values(), cut.state_dict().values()))


def test_resume_state_of_another_recipe_is_refused(tmp_path, config):
    import torch

    from diffattr.core.progress import get_logger
    from diffattr.core.settings import Recipe
    from diffattr.modelling.models import build_unet, ddpm_scheduler
    from diffattr.modelling.training import train_ddpm

    images = torch.zeros(8, 1, 8, 8)
    tiny = {"block_out_channels": [8, 16], "layers_per_block": 1, "norm_num_groups": 4}
    recipe = Recipe(steps=4, batch_size=4, lr=1e-3, grad_clip=1.0, ema_max_decay=0.999, ema_power=0.75, seed=0)
    resume = tmp_path / "r.pt"
    log = get_logger(None)

    class Stop(Exception):
        pass

    import diffattr.modelling.training as training

    original = training.StepLogger.step

    def stop_after_three(self, step, loss):
        original(self, step, loss)
        if step == 2:  # after the state saved at step 2
            raise Stop

    training.StepLogger.step = stop_after_three
    try:
        with pytest.raises(Stop):
            train_ddpm(
                build_unet(tiny, 8, 1),
                images,
                recipe,
                ddpm_scheduler(config["scheduler"]),
                log,
                resume_path=resume,
                checkpoint_every=2,
            )
    finally:
        training.StepLogger.step = original
    assert resume.exists()
    other = Recipe(**{**recipe.__dict__, "lr": 1e-2})
    with pytest.raises(ValueError, match="r.pt: resume state of another recipe"):
        train_ddpm(
            build_unet(tiny, 8, 1),
            images,
            other,
            ddpm_scheduler(config["scheduler"]),
            log,
            resume_path=resume,
            checkpoint_every=2,
        )


@pytest.mark.integration
def test_sigkilled_run_is_completed_by_a_rerun(smoke_run, tmp_path):
    """On a copy of the smoke store without two unlearning batches, their behaviours and the analysis
    (as a half-finished run leaves it), the run is SIGKILLed while a batch trains, then completed by
    the documented recovery: every matrix row once, with the uninterrupted run's values."""
    import numpy as np

    from diffattr.attribution.matrix import read_matrix

    work = tmp_path / "wf"
    shutil.copytree(smoke_run, work, symlinks=True)
    logs_dir = work / "results/logs/unlearn"
    remove_for_rerun(work, batches=("train-0006-0006", "loo-0006-0009"))
    run = SMOKE
    before = {p.relative_to(logs_dir) for p in logs_dir.rglob("*.log")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--cores", "2", *run],
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 600
    # Kill once a new unlearning batch has started training and nothing has finished it.
    while time.time() < deadline and proc.poll() is None:
        logs = [p for p in logs_dir.rglob("*.log") if p.relative_to(logs_dir) not in before]
        if any("step" in p.read_text() for p in logs):
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # Nothing that looks complete is half-written: partial writes are hidden .tmp siblings, and
    # every visible JSON parses.
    for path in (work / "results/store").rglob("*"):
        if path.name.endswith(".tmp"):
            assert path.name.startswith("."), path
        elif path.suffix == ".json":
            json.loads(path.read_text())
    # A SIGKILLed snakemake leaves its lock behind: the documented recovery is --unlock, then the
    # same command (the default profile sets rerun-incomplete).
    locked = snakemake(work, "--cores", "2", *run, check=False)
    assert locked.returncode != 0 and "--unlock" in locked.stdout + locked.stderr
    snakemake(work, "--unlock", *run)
    snakemake(work, "--cores", "2", *run)
    with h5py.File(work / "results/runs/smoke/matrix.h5") as f:
        rows = list(zip([s.decode() for s in f["source"][()]], [s.decode() for s in f["subset_ids"][()]]))
    # Every family's model exactly once: unlearned (train, uniform, kernel, loo, full), retrained
    # (test, test25) and the untrained model.
    cfg = yaml.safe_load((work / "config/config.yaml").read_text())
    update_config(cfg, yaml.safe_load((work / "config/presets/smoke.yaml").read_text()))
    expected = {("unlearn", sid) for fam in UNLEARN_FAMILIES for sid in SubsetPlan(cfg, 10).ids(fam)}
    expected |= {("retrain", sid) for fam in ("test", "test25") for sid in SubsetPlan(cfg, 10).ids(fam)}
    assert len(rows) == len(set(rows)) and set(rows) == expected | {("init", "empty")}
    assert snakemake(work, "-n", *run).stdout.count("Nothing to be done") == 1
    # The killed batches were trained again, and the rerun's matrix holds the uninterrupted run's values.
    assert {p.relative_to(logs_dir) for p in logs_dir.rglob("*.log")} > before
    done, killed = (
        read_matrix(smoke_run / "results/runs/smoke/matrix.h5"),
        read_matrix(work / "results/runs/smoke/matrix.h5"),
    )
    assert (killed.source, killed.subset_ids) == (done.source, done.subset_ids)
    assert killed.behaviour_names == done.behaviour_names and np.array_equal(killed.masks, done.masks)
    np.testing.assert_allclose(killed.behaviours, done.behaviours, rtol=1e-6, atol=1e-6)
