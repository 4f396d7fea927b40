import copy
import dataclasses
import json
import os
import pickle
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import yaml

from diffattr.core.families import EMPTY
from diffattr.core.settings import DataSource

ROOT = Path(__file__).resolve().parents[1]
COPY = ["Snakefile", "rules", "workflow", "config", "lib", "profiles", "envs", "report", "slurm"]
SMOKE = ["--configfile", "config/config.yaml", "config/presets/smoke.yaml"]
# The paper's DDPM forward process (config.yaml `scheduler`), for tests that build models directly.
SCHED = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["scheduler"]
# The default lasso grid (config.yaml datamodel.lasso_path), for tests that fit lasso directly.
LASSO_PATH = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["datamodel"]["lasso_path"]


def copy_workflow(dest: Path) -> Path:
    """A fresh copy of the workflow (no results) to run the snakemake CLI in."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPY:
        src = ROOT / name
        if src.is_symlink():
            (dest / name).symlink_to(src.readlink())
        elif src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, dest / name)
    return dest


@pytest.fixture
def config() -> dict:
    with open(ROOT / "config" / "config.yaml") as fh:
        return copy.deepcopy(yaml.safe_load(fh))


@pytest.fixture
def schema_path() -> Path:
    return ROOT / "config" / "schema.yaml"


def snakemake(workdir: Path, *args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def planned_jobs(workdir: Path, *args: str) -> dict[str, int]:
    return job_counts(snakemake(workdir, "-n", "--quiet", "rules", *args).stdout)


def job_counts(out: str) -> dict[str, int]:
    """Jobs per rule from the job table snakemake prints (a dry run's, or a run's before it starts)."""
    if "Nothing to be done" in out:
        return {}
    jobs, table = {}, False
    for line in out.splitlines():
        parts = line.split()
        if parts[:2] == ["job", "count"]:
            table = True
        elif table and len(parts) == 2 and parts[1].isdigit():
            if parts[0] == "total":
                break
            jobs[parts[0]] = int(parts[1])
    return jobs


def pytest_configure(config: pytest.Config) -> None:
    """An xdist worker computes on one thread: two workers fill the two cores, and more threads than
    cores make torch's thread pools spin against each other and the background smoke run."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)


def _part(item: pytest.Item) -> int:
    """0: the tests that need no smoke run; 1: the Slurm tests (one xdist group, tests/slurm/test_slurm.py)
    that need none, 2: those that need it; 3: the others that read the smoke run."""
    smoke = "smoke_run" in item.fixturenames
    if "slurm" in item.path.parts:
        return 1 + smoke
    return 3 if smoke else 0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that read the shared smoke run go last, so the others run while that run builds in
    the background (`smoke_build`): its jobs are mostly interpreter start-up and waiting, which leaves
    part of the machine idle. Under `make test` (pytest-xdist, `--dist loadgroup`) the Slurm tests'
    group, the largest unit of work, is dispatched first: its worker runs the Slurm tests that need no
    smoke run, then waits for the run (leaving the cores to it and to the other worker), and its
    completion on Slurm, mostly waiting on the cluster, overlaps the other worker's tests."""
    items.sort(key=_part)


# How far below the smoke run an xdist worker's tests (and what they start) run.
NICE_WORKERS = 10


class SmokeBuild:
    """The background smoke run as every xdist worker sees it: `wait()` returns snakemake's return code
    once the file the starting worker writes when the run ends exists."""

    def __init__(self, rc_file: Path) -> None:
        self.rc_file = rc_file

    def wait(self) -> int:
        while not self.rc_file.exists():
            time.sleep(1)
        return int(self.rc_file.read_text())


@pytest.fixture(scope="session", autouse=True)
def smoke_build(request, tmp_path_factory):
    """Starts the smoke preset's run (locally, through the CLI) at the session's first test when a
    selected test reads it; `smoke_run` waits for it. None when no selected test needs it. Under
    pytest-xdist (`make test`) the first worker to get here starts it in the workers' shared temporary
    folder and the others wait for the same run: one smoke store for the session; from then on each
    worker runs at a lower priority than that run."""
    if not any("smoke_run" in item.fixturenames for item in request.session.items):
        yield None
        return
    from filelock import FileLock

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    shared = tmp_path_factory.getbasetemp().parent if worker else tmp_path_factory.getbasetemp()
    work, rc_file = shared / "smoke-workflow", shared / "smoke-workflow.rc"
    with FileLock(shared / "smoke-workflow.lock"):
        started_here = not work.exists()  # else another worker started it
        if started_here:
            copy_workflow(work)
            with open(work.with_suffix(".log"), "w") as out:  # beside the workflow, not in it
                proc = subprocess.Popen(
                    [sys.executable, "-m", "snakemake", "--cores", "2", *SMOKE],
                    cwd=work,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
    if worker:
        # The smoke run is the session's critical path (the Slurm and smoke tests wait for it): the
        # workers' own tests, started by now, take the cores it leaves idle instead of slowing it.
        os.nice(NICE_WORKERS)
    if not started_here:
        yield work, SmokeBuild(rc_file)
        return

    # The return code is written by a thread, not at teardown: another worker may be waiting for it.
    def record() -> None:
        rc = proc.wait()
        rc_file.with_suffix(".tmp").write_text(str(rc))
        rc_file.with_suffix(".tmp").rename(rc_file)  # whole, for a worker polling for it

    threading.Thread(target=record, daemon=True).start()
    try:
        yield work, SmokeBuild(rc_file)
    finally:
        # Alone, or interrupted, the session stops a run no test waits for any more; under xdist
        # another worker may still need it.
        if proc.poll() is None and (request.session.shouldstop or not worker):
            proc.terminate()
        proc.wait()


@pytest.fixture(scope="session")
def smoke_run(smoke_build):
    """The smoke preset run once, locally, through the CLI; shared by the tests that read it."""
    work, proc = smoke_build
    if proc.wait() != 0:
        raise AssertionError(f"the smoke run failed:\n{work.with_suffix('.log').read_text()[-8000:]}")
    return work


# The stores downstream of the behaviours' matrix (run by the analysis rules).
ANALYSIS_STORES = ["matrix", "datamodel", "lds", "estimators", "budget", "table1", "figures", "summary", "cf_plan"]
ANALYSIS_STORES += ["counterfactual"]


def remove_for_rerun(
    work: Path,
    batches: tuple[str, ...] = (),
    retrained: tuple[str, ...] = (),
    counterfactual: bool = False,
    floor: tuple[str, ...] = (),
    leaves: tuple[str, ...] = (),
    baselines: tuple[str, ...] = (),
) -> None:
    """Leaves a copy of the smoke run's results as a half-finished run would: without the unlearning
    `batches`, the retraining batches of the `retrained` test models, of the `floor` second retrainings
    and (`counterfactual`) of the first counterfactual retraining, each with its log and the
    behaviours of its models' evaluation batches, the stores of the `leaves`
    stages (models and images nothing but the analysis reads: `init` with its behaviour, `samples`,
    `pairs`, `baseline_images`, `baselines`), the `baselines` methods' scores (one baseline's job
    without the others), and without the analysis and the run view. Snakemake rebuilds a lost file
    only where something that needs it is missing or out of date, so the analysis goes too; a rerun
    then recomputes these and everything after them."""
    store, logs = work / "results/store", work / "results/logs"
    behaviours = {json.loads(p.read_text())["stage"]: p.parent for p in store.glob("behaviour/*/spec.json")}
    for batch in batches:
        shutil.rmtree(next(store.glob(f"unlearn/*/{batch}")))
        shutil.rmtree(behaviours["behaviour_unlearn"] / batch)
        next(logs.glob(f"unlearn/*/{batch}.log")).unlink()
    for stage in leaves:
        shutil.rmtree(store / stage)
        if stage == "init":
            (behaviours["behaviour_init"] / f"{EMPTY}.json").unlink()  # the untrained model's behaviour
    for method in baselines:
        shutil.rmtree(next(store.glob(f"baselines/*/{method}")))
        next(store.glob(f"baselines/*/benchmarks/{method}.tsv")).unlink()
        next(logs.glob(f"baselines/*/{method}.log")).unlink()
    models = [("retrain", sid) for sid in retrained] + [("retrain_floor", sid) for sid in floor]
    if counterfactual:
        models.append(("retrain_cf", min(p.name for p in store.glob("retrain_cf/*/*/cf-*"))))
    for stage, sid in models:
        # the retraining batch holding the model, its log, and its models' evaluation batches
        batch = next(store.glob(f"{stage}/*/*/{sid}")).parent
        members = json.loads((batch / "job.json").read_text())["subsets"]
        shutil.rmtree(batch)
        next(logs.glob(f"{stage}/*/{batch.name}.log")).unlink()
        for member in members:
            for evaluated in behaviours[f"behaviour_{stage}"].glob(f"*/{member}.json"):
                shutil.rmtree(evaluated.parent, ignore_errors=True)
    for stage in ANALYSIS_STORES:
        shutil.rmtree(store / stage)
    shutil.rmtree(work / "results/runs")


# Local data and weights files that the tests write (nothing is downloaded).
CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_cifar(root: Path, per_batch: int = 4) -> Path:
    """CIFAR-10's python batches (data_batch_1..5, batches.meta) with random images."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(1, 6):
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = [(i * per_batch + j) % 10 for j in range(per_batch)]
        with open(root / f"data_batch_{i}", "wb") as fh:
            pickle.dump({b"data": data, b"labels": labels, b"batch_label": b"x"}, fh)
    with open(root / "batches.meta", "wb") as fh:
        pickle.dump({b"label_names": [n.encode() for n in CIFAR_NAMES]}, fh)
    return root


def write_folder(
    root: Path,
    size: tuple[int, int] = (6, 6),
    colors: dict[str, tuple[int, int, int]] | None = None,
    per_class: int = 3,
    noise: int = 0,
    name: Callable[[int], str] = lambda i: f"{i}.png",
) -> Path:
    """An image folder, one subfolder per class of `per_class` RGB PNGs in the class's colour, each
    pixel moved by up to +-`noise` (seeded); image i of a class is saved as name(i)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for c, color in (colors or {"cats": (255, 0, 0), "dogs": (0, 0, 255)}).items():
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = np.full((size[1], size[0], 3), color, dtype=np.int64)
            if noise:
                pixels += rng.integers(-noise, noise + 1, pixels.shape)
            Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(root / c / name(i))
    return root


def write_inception_weights(path: Path, seed: int = 0) -> Path:
    """A state dict of torch-fidelity's Inception-v3 (the layout of its real weights file) with random
    values: the loading and feature path is the real one, the numbers are not."""
    import torch
    import torch_fidelity.feature_extractor_inceptionv3 as m

    torch.manual_seed(seed)
    with (
        mock.patch.object(m.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd, *a, **k: None),
        mock.patch.object(m.torch, "load", lambda *a, **k: {}),
    ):
        net = m.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path="unused")
    # He-initialised convolutions keep the activations' scale through the ~100 layers; PyTorch's
    # default init shrinks it to ~1e-12, where every FID is 0 and no test of it can fail.
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)
    return path


def write_pretrained(root: Path, model, scheduler: dict, layout: str = "hub") -> Path:
    """A local pretrained DDPM holding `model` (a diffusers UNet2DModel) trained for the forward
    process `scheduler` (config.yaml's section), laid out as
    - "hub": as the hub's google/ddpm-cifar10-32 is: the UNet's config.json and
      diffusion_pytorch_model.bin at the root, beside model_index.json, scheduler_config.json (with
      the keys older diffusers versions wrote: no prediction_type when it is epsilon) and a README.md;
    - "pipeline": what DDPMPipeline.save_pretrained writes (unet/, scheduler/, model_index.json);
    - "unet": what UNet2DModel.save_pretrained writes."""
    import json

    from diffusers import DDPMPipeline, DDPMScheduler

    if layout == "unet":
        model.save_pretrained(root)
    elif layout == "pipeline":
        keys = ("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "prediction_type", "clip_sample")
        DDPMPipeline(unet=model, scheduler=DDPMScheduler(**{k: scheduler[k] for k in keys})).save_pretrained(root)
    elif layout == "hub":
        model.save_pretrained(root, safe_serialization=False)
        sched = {k: scheduler[k] for k in ("beta_end", "beta_schedule", "beta_start", "clip_sample")}
        sched.update(num_train_timesteps=scheduler["num_train_timesteps"], trained_betas=None)
        if scheduler["prediction_type"] != "epsilon":
            sched["prediction_type"] = scheduler["prediction_type"]
        (root / "scheduler_config.json").write_text(json.dumps({"_class_name": "DDPMScheduler", **sched}, indent=2))
        index = {"_class_name": "DDPMPipeline", "scheduler": ["diffusers", "DDPMScheduler"]}
        (root / "model_index.json").write_text(json.dumps({**index, "unet": ["diffusers", "UNet2DModel"]}, indent=2))
        (root / "README.md").write_text("# A DDPM\n")
    else:
        raise ValueError(f"layout {layout!r}: use hub, pipeline or unet")
    return root


# A tiny UNet's model section (two levels, no attention) for the tests that build one directly.
TINY_UNET = {"block_out_channels": [16, 32], "layers_per_block": 1, "norm_num_groups": 4, "attention": False}


def prune_tiny(tmp_path: Path, settings, scheduler: dict) -> None:
    """The prune stage as its rule calls it, with `settings` (settings.Pruning), on the digits and a
    seeded TINY_UNET base (tmp_path/data.npz, base): writes tmp_path/model, raw and train.json."""
    import torch

    from diffattr.core.data import load_digits_dataset, save_dataset
    from diffattr.core.progress import get_logger
    from diffattr.modelling.models import build_unet, save_model
    from diffattr.stages.prune import prune_and_finetune

    save_dataset(tmp_path / "data.npz", load_digits_dataset())
    torch.manual_seed(0)
    save_model(build_unet(TINY_UNET, 8, 1), tmp_path / "base")
    prune_and_finetune(
        base=tmp_path / "base",
        data=tmp_path / "data.npz",
        model=tmp_path / "model",
        info=tmp_path / "train.json",
        raw=tmp_path / "raw",
        # the rule's settings carry the fine-tune's forward process (settings.Pruning.from_config)
        settings=dataclasses.replace(settings, finetune=dataclasses.replace(settings.finetune, scheduler=scheduler)),
        log=get_logger(None),
    )


def write_reference(tmp_path: Path, compute=None) -> Path:
    """data -> classifier -> reference through the library as the rules call them (digits, one
    classifier epoch, on `compute`'s device): tmp_path/data.npz, clf.pt and ref.npz, the reference
    statistics' path returned."""
    import logging

    from diffattr.core.settings import ClassifierTraining
    from diffattr.stages.classifier import make_classifier
    from diffattr.stages.data import make_data
    from diffattr.stages.reference import make_reference

    make_data(settings=DataSource("digits"), data=tmp_path / "data.npz", info=tmp_path / "data.json")
    make_classifier(
        data=tmp_path / "data.npz",
        weights=tmp_path / "clf.pt",
        info=tmp_path / "clf.json",
        settings=ClassifierTraining(epochs=1, seed=0, holdout=0.2),
        log=logging.getLogger("test"),
        compute=compute,
    )
    make_reference(
        data=tmp_path / "data.npz", classifier=tmp_path / "clf.pt", stats=tmp_path / "ref.npz", compute=compute
    )
    return tmp_path / "ref.npz"
