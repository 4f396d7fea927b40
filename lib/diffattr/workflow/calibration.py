"""This machine's speeds for the configured models: a few timed training steps, one sampling batch,
a classifier epoch, a job's process start-up, the feature extraction and metrics of a model's
samples and (where the config lists TRAK or D-TRAK) a few per-sample gradients, measured with the
library's own functions; and the peak memory of a job process at each kind of work (a fresh
interpreter each: `peak_memory`).

`diffattr.plan` turns them into per-job costs (`forecast.py`). A calibration takes about half a
minute on a CPU (about 4 more with Inception features) and is cached in `results/.calibration/`
(never inside a store artifact), one file per CPU model and per what the timings depend on
(`calibration_key`), so a second plan re-times nothing.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import os
import platform
import re
import resource
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..core.atomic import read_json, write_json
from ..core.hashing import spec_hash

CACHE_DIR = Path("results") / ".calibration"
# Bumped when Speeds gains a measurement, so an older cached calibration is measured again.
FORMAT = 3
# What peak_memory runs in a fresh interpreter: the imports alone, or the data and one model at work.
PROBES = ("light", "train_full", "train_pruned", "sample_full", "features")
# What a job process imports before it works: the script preamble, and for model jobs the heavy
# modules start_model_job imports (compute.HEAVY), so the start-up timed is the one jobs log.
LIGHT_IMPORTS = "import snakemake.script, numpy, yaml"
HEAVY_IMPORTS = (
    LIGHT_IMPORTS + "; import torch, diffusers.models.unets.unet_2d, diffusers.training_utils, torch_fidelity"
)
# What a TRAK / D-TRAK image's gradient costs depends on (baselines.seed and regularization do not).
GRADIENT_KEYS = ("model", "timesteps", "proj_dim", "proj_type", "batch_size")


def cpu_model() -> str:
    """The CPU's model name (what a calibration is keyed by; bench/machine.py names benchmarks so)."""
    try:
        with open("/proc/cpuinfo") as fh:
            return next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown"


def device_name(want: str) -> str:
    """The device a job of `compute.device` would get here: 'cpu' or the GPU's name."""
    import torch

    if want in ("auto", "cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return "cpu"


@dataclass(frozen=True)
class Speeds:
    """Seconds (wall, CPU) per unit of work on one machine. Steps are at the batch sizes of the key
    (`calibration_key`); image-steps are one image through one DDIM step."""

    train_step: tuple[float, float]  # the full-size model, train_base.batch_size
    pruned_step: tuple[float, float]  # the pruned model, unlearn.batch_size
    full_image_step: tuple[float, float]
    pruned_image_step: tuple[float, float]
    classifier_epoch: tuple[float, float]
    startup_heavy: tuple[float, float]  # a job that imports torch (every model job)
    startup_light: tuple[float, float]  # any other script job
    params_full: int
    params_pruned: int
    train_batch: int
    pruned_batch: int
    device: str
    cpu_model: str
    threads: int
    loadavg: tuple[float, float, float]  # while calibrating: other processes inflate the timings
    # Peak resident bytes of a job process (PROBES): start-up only, and with the data and one model
    # training one batch or sampling one batch, or the feature extractors on one batch ("features",
    # absent from a file written before FORMAT 3).
    peak_rss: Mapping[str, int]
    # One image's projected per-sample gradient for TRAK / D-TRAK (dattri, at the key's `baselines`
    # settings: all its timesteps); measured only when the config lists one of them.
    grad_image: tuple[float, float] | None = None
    # One image through the behaviour's feature extractors, and the metrics of one model's samples
    # (evaluation_seconds); None in a file written before FORMAT 3.
    feature_image: tuple[float, float] | None = None
    score_model: tuple[float, float] | None = None
    # FID alone on one model's features (the pairs compare models by FID only)
    fid_model: tuple[float, float] | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Speeds:
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**fields)


def calibration_key(config: Mapping[str, Any], threads: int) -> dict[str, Any]:
    """What the timings depend on: the machine, the device a job gets (machine_key), the models,
    batch sizes and what a model's scoring computes (config_key)."""
    return {**machine_key(config, threads), **config_key(config)}


def machine_key(config: Mapping[str, Any], threads: int) -> dict[str, Any]:
    """The parts of a calibration's key that name the machine, which a file written on a cluster's
    node differs in by design."""
    import torch

    return {
        "format": FORMAT,
        "cpu_model": cpu_model(),
        "device": device_name(config["compute"]["device"]),
        "torch": torch.__version__,
        "threads": int(threads),
    }


def config_key(config: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a calibration's key that the config decides."""
    from ..core.data import image_shape, sample_count
    from ..core.settings import DataSource
    from .addressing import sampling_override

    source = DataSource.from_config(config["data"])
    key = {
        "precision": config["compute"]["precision"],
        "model": config["model"],
        "image_shape": list(image_shape(source)),
        "n_images": int(sample_count(source)),
        # round_to only when set, so the caches measured before it existed still match
        "prune": {
            k: config["prune"][k] for k in ("ratio", "importance_p", "round_to") if config["prune"].get(k) is not None
        },
        # what scoring a model's samples costs depends on (evaluation_seconds)
        "evaluation": {
            **{k: config["behaviour"][k] for k in ("features", "metrics", "n_samples", "kid_subsets")},
            "feature_batch": config["behaviour"].get("feature_batch"),
        },
        "batch": {
            "train": int(config["train_base"]["batch_size"]),
            "unlearn": int(config["unlearn"]["batch_size"]),
            "sample": int(min(config["behaviour"]["batch_size"], config["behaviour"]["n_samples"])),
        },
    }
    sampling = sampling_override(config["compute"])
    if sampling:  # only when it changes the draws, so older caches still match
        key["sampling_precision"] = sampling
    if gradient_baselines(config):  # only where timed: a config without TRAK times no gradients
        key["baselines"] = {k: config["baselines"][k] for k in GRADIENT_KEYS}
    return key


def config_differences(stated: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    """The config-decided parts (config_key) in which the key `stated` (a calibration file's) differs
    from this config's, in the key's order; the parts machine_key writes are not compared."""
    own = json.loads(json.dumps(config_key(config)))
    machine = set(machine_key(config, threads=1))
    parts = [*own, *(part for part in stated if part not in own and part not in machine)]
    return [part for part in parts if stated.get(part) != own.get(part)]


def gradient_baselines(config: Mapping[str, Any]) -> list[str]:
    """The per-sample-gradient baselines (TRAK, D-TRAK) that `datamodel.estimators` lists."""
    from ..attribution.baselines import GRADIENT

    return [name for name in config["datamodel"]["estimators"] if name in GRADIENT]


def cache_path(key: Mapping[str, Any], cache_dir: str | os.PathLike = CACHE_DIR) -> Path:
    digest = spec_hash(key)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", str(key["cpu_model"])).strip("-")[:40] or "cpu"
    return Path(cache_dir) / f"{slug}-{digest}.json"


def _timed(fn) -> tuple[float, float]:
    import torch

    start, cpu = time.perf_counter(), time.process_time()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()  # a GPU's kernels run asynchronously: count them all
    return time.perf_counter() - start, time.process_time() - cpu


def _per_unit(short: tuple[float, float], long: tuple[float, float], units: float) -> tuple[float, float]:
    """The marginal cost of `units` more (the long run's minus the short run's, set-up cancelled)."""
    return tuple(max(b - a, 1e-9) / units for a, b in zip(short, long))  # type: ignore[return-value]


def startup_seconds(imports: str) -> tuple[float, float]:
    """Wall and CPU seconds of a fresh interpreter importing `imports` (a job's start-up)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", imports], check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def peak_memory(config: Mapping[str, Any], probes: Sequence[str] = PROBES) -> dict[str, int]:
    """Peak resident bytes of a fresh interpreter doing each of `probes` (PROBES) as a job would, run
    side by side: a job's memory is its process's peak, which one process timing several kinds of
    work cannot tell apart."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")]),
    }
    children = {}
    for probe in probes:
        code = (
            LIGHT_IMPORTS if probe == "light" else HEAVY_IMPORTS
        ) + "; from diffattr.workflow.calibration import _probe; _probe()"
        children[probe] = subprocess.Popen(
            [sys.executable, "-c", code, json.dumps({"config": config, "probe": probe})],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
    peaks = {}
    for probe, child in children.items():
        out, err = child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"memory probe {probe} failed: {err.strip()[-500:]}")
        peaks[probe] = int(out.split()[-1])
    return peaks


def _quiet_logger() -> logging.Logger:
    """A logger that drops the training loop's lines (calibration and probes time, not report)."""
    quiet = logging.getLogger("diffattr.workflow.calibration")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    return quiet


def _timing_recipe(steps: int, batch_size: int):
    """A training recipe for timing and probing: the step's cost does not depend on its values."""
    from ..core.settings import Recipe

    return Recipe(
        steps=steps, batch_size=batch_size, lr=1e-4, grad_clip=1.0, ema_max_decay=0.999, ema_power=0.75, seed=0
    )


def _probe() -> None:
    """peak_memory's child: the imports alone, or one training step of a model at its batch size, or
    one sampling batch, or one feature batch; prints its peak resident bytes."""
    job = json.loads(sys.argv[1])
    config, probe = job["config"], job["probe"]
    if probe != "light":
        _work(config, probe)
    print(_own_peak_bytes())


def _own_peak_bytes() -> int:
    try:  # Linux: this process image's own peak (ru_maxrss would carry over the forking parent's)
        with open("/proc/self/status") as fh:
            return int(next(line.split()[1] for line in fh if line.startswith("VmHWM"))) * 1024
    except (OSError, StopIteration):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024  # macOS reports bytes, others kB


def _work(config: Mapping[str, Any], probe: str) -> None:
    import torch

    from ..core.data import load_source
    from ..core.settings import DataSource
    from ..modelling.models import ddim_scheduler, ddpm_scheduler, initial_unet
    from ..modelling.sampling import ddim_sample
    from ..modelling.training import train_ddpm

    torch.set_num_threads(1)
    quiet = _quiet_logger()
    ds = load_source(DataSource.from_config(config["data"]))
    if probe == "features":
        # the largest batch a job extracts: the reference's training images or a model's samples
        from ..evaluation.behaviour import extract

        batch = feature_batch(config, max(len(ds.images), int(config["behaviour"]["n_samples"])))
        with _feature_extractor(config, ds, job_compute(config)) as extractor:
            extract(extractor, _uint8_images(ds, batch), batch)
        return
    model = initial_unet(config["model"], ds.images, 0)
    if probe == "train_pruned":
        model = pruned_model(model, config["prune"])
    # On the device a job gets: a GPU job's host memory is its CUDA context and staging, and one
    # batch of a GPU-sized model on one CPU thread would take minutes.
    compute = job_compute(config)
    if probe == "sample_full":
        n = int(min(config["behaviour"]["batch_size"], config["behaviour"]["n_samples"]))
        ddim_sample(model, ddim_scheduler(config["scheduler"]), n, 1, 0, n, 0.0, compute)
        return
    batch = int(config["train_base" if probe == "train_full" else "unlearn"]["batch_size"])
    recipe = _timing_recipe(steps=2, batch_size=batch)
    train_ddpm(model, torch.from_numpy(ds.images), recipe, ddpm_scheduler(config["scheduler"]), quiet, compute=compute)


def job_compute(config: Mapping[str, Any]):
    """The Compute a job of this config gets on this machine, through resolve_compute as jobs get it:
    on a GPU that also sets TF32 as `compute.tf32` says (PyTorch's own default turns cuDNN's on,
    which once made a GPU calibration time TF32 convolutions for fp32 jobs)."""
    from ..modelling.compute import resolve_compute

    device = "cpu" if device_name(config["compute"]["device"]) == "cpu" else "cuda"
    return resolve_compute({**config["compute"], "device": device})


def pruned_model(model, prune: Mapping[str, Any]):
    """`model` pruned as the prune stage prunes it under the config's prune section (calibration and
    the benchmarks that time the pruned model)."""
    from ..modelling.pruning import prune_unet

    round_to = prune.get("round_to")
    return prune_unet(
        model,
        float(prune["ratio"]),
        int(prune["importance_p"]),
        round_to=None if round_to is None else int(round_to),
    )


def _fastest(run, repeats: int) -> tuple[float, float]:
    # Other processes on a shared machine only ever slow a timing down (in CPU time too: caches and
    # memory bandwidth are shared), so the fastest of a few repeats is the closest to the work's own.
    timings = [run() for _ in range(max(1, repeats))]
    return min(t[0] for t in timings), min(t[1] for t in timings)


def measure(config: Mapping[str, Any], threads: int, steps: int = 4, repeats: int = 3) -> Speeds:
    """Time `steps` training steps of the full and the pruned model, one sampling batch of each (two
    DDIM steps), one classifier epoch, both job start-ups, the scoring of a model's samples
    (evaluation_seconds) and, where the config lists TRAK or D-TRAK, one image's per-sample
    gradient (gradient_seconds), the fastest of `repeats` each, on this machine's device for the
    config (the CPU when the config asks for a device not present)."""
    import numpy as np
    import torch

    from ..core.data import load_source
    from ..core.settings import DataSource
    from ..evaluation.classifier import train_classifier
    from ..modelling.models import count_params, ddim_scheduler, ddpm_scheduler, initial_unet
    from ..modelling.sampling import ddim_sample
    from ..modelling.training import train_ddpm

    torch.set_num_threads(max(1, int(threads)))
    key = calibration_key(config, threads)
    compute = job_compute(config)
    quiet = _quiet_logger()
    ds = load_source(DataSource.from_config(config["data"]))
    images = torch.from_numpy(ds.images)
    sched = ddpm_scheduler(config["scheduler"])
    full = initial_unet(config["model"], ds.images, 0)
    pruned = pruned_model(copy.deepcopy(full), config["prune"])

    def train_cost(model, batch: int) -> tuple[float, float]:
        def run(n: int) -> tuple[float, float]:
            recipe = _timing_recipe(steps=n, batch_size=batch)
            _, stats = train_ddpm(copy.deepcopy(model), images, recipe, sched, quiet, compute=compute)
            return stats["train_seconds"], stats["train_cpu_seconds"]

        run(2)  # warm-up: the first steps allocate what later steps reuse
        return tuple(x / steps for x in _fastest(lambda: run(steps), repeats))  # type: ignore[return-value]

    def sample_cost(model, n: int) -> tuple[float, float]:
        def run(k: int) -> tuple[float, float]:
            return _timed(lambda: ddim_sample(model, ddim_scheduler(config["scheduler"]), n, k, 0, n, 0.0, compute))

        return _per_unit(_fastest(lambda: run(1), repeats), _fastest(lambda: run(3), repeats), 2 * n)

    def classifier_cost() -> tuple[float, float]:
        labels = np.asarray(ds.labels)

        def run(epochs: int) -> tuple[float, float]:
            return _timed(lambda: train_classifier(ds.images, labels, epochs, 0, 0.1, quiet, compute))

        return _per_unit(run(1), run(2), 1)  # a small share of any run: timed once

    gradient = gradient_baselines(config)
    features, scoring, fid = evaluation_seconds(config, ds, compute, repeats)
    n_sample = key["batch"]["sample"]
    return Speeds(
        train_step=train_cost(full, key["batch"]["train"]),
        pruned_step=train_cost(pruned, key["batch"]["unlearn"]),
        full_image_step=sample_cost(full, n_sample),
        pruned_image_step=sample_cost(pruned, n_sample),
        classifier_epoch=classifier_cost(),
        startup_heavy=startup_seconds(HEAVY_IMPORTS),
        startup_light=startup_seconds(LIGHT_IMPORTS),
        params_full=count_params(full),
        params_pruned=count_params(pruned),
        train_batch=key["batch"]["train"],
        pruned_batch=key["batch"]["unlearn"],
        device=key["device"],
        cpu_model=key["cpu_model"],
        threads=int(threads),
        loadavg=tuple(round(x, 2) for x in os.getloadavg()),
        peak_rss=peak_memory(config),
        grad_image=gradient_seconds(config, full, pruned, ds.images, gradient[0], compute, repeats)
        if gradient
        else None,
        feature_image=features,
        score_model=scoring,
        fid_model=fid,
    )


def gradient_seconds(  # noqa: PLR0913  (the config, the two models, the data and the timing's settings)
    config: Mapping[str, Any], full, pruned, images, method: str, compute, repeats: int
) -> tuple[float, float]:
    """Seconds (wall, CPU) of one training image's projected per-sample gradient for `method` (trak
    or dtrak) as the baselines job takes it (dattri, the config's `baselines` settings, the model
    baselines.model names): the marginal cost of two batches more, so that dattri's per-job set-up
    (projector, kernel inverse) is left out, as the forecast charges per image."""
    from ..attribution.baselines.gradient import gradient_support
    from ..modelling.models import ddpm_scheduler

    cfg = config["baselines"]
    model = full if cfg["model"] == "base" else pruned
    alphas = ddpm_scheduler(config["scheduler"]).alphas_cumprod
    batch = int(cfg["batch_size"])
    long = min(3 * batch, len(images))
    short = max(1, min(batch, long // 3))

    def run(n: int) -> tuple[float, float]:
        with contextlib.redirect_stderr(io.StringIO()):  # dattri's progress bars (tqdm writes there)
            return _timed(
                lambda: gradient_support(
                    copy.deepcopy(model), images[:n], images[:1], method, cfg, alphas, batch, compute.device
                )
            )

    run(short)  # warm-up: the first call allocates what later calls reuse
    return _per_unit(_fastest(lambda: run(short), repeats), _fastest(lambda: run(long), repeats), max(1, long - short))


def evaluation_seconds(
    config: Mapping[str, Any], ds, compute, repeats: int
) -> tuple[tuple[float, float], tuple[float, float], tuple[float, float]]:
    """What scoring a model's samples costs beyond sampling them: seconds (wall, CPU) of one image
    through the configured feature extractors (the domain classifier, an untrained one of the real
    shape, and Inception-v3 from behaviour.inception_weights where behaviour.features is inception),
    timed on one batch of the size the behaviours extract in (behaviour.feature_batch, or
    FEATURE_BATCH; at most n_samples: per image a CPU's Inception costs more in larger batches, so
    with n_samples under the batch the reference's larger batches cost up to 1.2x more than
    charged; the behaviours, one per model, are what a run repeats); and of the configured
    metrics on one model's behaviour.n_samples features against a reference of the training set's
    size (FID's matrix square root at 2048 dimensions, KID's subsets, precision's neighbours), and
    of FID alone (what the pairs compute). With Inception on a CPU a batch of 500 takes minutes
    (0.215 s an image on one thread of this project's CPU, against 0.04 ms for the classifier):
    after the warm-up it is timed once."""
    import torch

    from ..evaluation.behaviour import compute_metrics, extract, feature_statistics

    beh = config["behaviour"]
    batch = feature_batch(config, int(beh["n_samples"]))
    uint8 = _uint8_images(ds, batch)
    with _feature_extractor(config, ds, compute) as extractor:
        feats, logits, class_logits = extract(extractor, uint8[:2])
        # a first batch pays for its memory's page faults (on a CPU, Inception's first batch of 500
        # took 0.30 s an image, the later ones of a job 0.21-0.22 s): warm up on a whole one
        extract(extractor, uint8, batch)

        def run() -> tuple[float, float]:
            return _timed(lambda: extract(extractor, uint8, batch))

        wall, cpu = _fastest(run, 1 if beh["features"] == "inception" else repeats)
    per_image = wall / batch, cpu / batch
    n, gen = len(ds.images), torch.Generator().manual_seed(0)
    m = int(beh["n_samples"])

    def like(t, count: int):  # random values of the real widths: the metrics' cost does not depend on them
        return None if t is None else torch.randn(count, t.shape[1], generator=gen, dtype=torch.float64)

    train = like(feats, n)
    reference = {**feature_statistics(train), "features": train.numpy(), "class_names": list(ds.class_names)}
    share = beh["share_class"] if beh["share_class"] in ds.class_names else ds.class_names[0]
    args = list(beh["metrics"]), like(feats, m), like(logits, m), reference, share, 0, int(beh["kid_subsets"])
    scoring = _fastest(lambda: _timed(lambda: compute_metrics(*args, like(class_logits, m))), repeats)
    fid = _fastest(lambda: _timed(lambda: compute_metrics(["fid"], *args[1:], like(class_logits, m))), repeats)
    return per_image, scoring, fid


def feature_batch(config: Mapping[str, Any], images: int) -> int:
    """Images per feature batch of a job extracting `images` images (behaviour.feature_batch, or the
    default FEATURE_BATCH; fewer when the job has fewer)."""
    from ..evaluation.behaviour import FEATURE_BATCH

    return max(1, min(config["behaviour"].get("feature_batch") or FEATURE_BATCH, int(images)))


def _uint8_images(ds, n: int):
    """`n` training images as extractors take them; a training set smaller than `n`: its images again."""
    import torch

    from ..modelling.sampling import to_uint8_rgb

    return to_uint8_rgb(torch.from_numpy(ds.images)[torch.arange(n) % len(ds.images)])


@contextlib.contextmanager
def _feature_extractor(config: Mapping[str, Any], ds, compute):
    """The configured feature extractors as a job builds them (make_extractor), with an untrained
    domain classifier of the data's shape in a temporary file: their cost does not depend on its weights."""
    import tempfile

    from ..evaluation.behaviour import make_extractor
    from ..evaluation.classifier import DigitsCNN, save_classifier

    beh = config["behaviour"]
    inception = beh["inception_weights"] if beh["features"] == "inception" else None
    with tempfile.TemporaryDirectory() as tmp:
        classifier = Path(tmp) / "classifier.pt"
        save_classifier(DigitsCNN(n_classes=len(ds.class_names), channels=ds.images.shape[1]), classifier)
        yield make_extractor(classifier, inception, compute.device)


def load_or_measure(
    config: Mapping[str, Any], threads: int, cache_dir: str | os.PathLike = CACHE_DIR, force: bool = False
) -> tuple[Speeds, Path, bool]:
    """(speeds, cache file, whether they came from the cache). Measures only when no calibration of
    this machine and config is cached (or `force`)."""
    key = calibration_key(config, threads)
    path = cache_path(key, cache_dir)
    if path.is_file() and not force:
        cached = read_json(path)
        if cached.get("key") == json.loads(json.dumps(key)):
            return Speeds.from_json(cached["speeds"]), path, True
    speeds = measure(config, threads)
    write_json(
        path, {"key": key, "speeds": asdict(speeds), "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    )
    return speeds, path, False


def missing_timings(
    config: Mapping[str, Any], speeds: Speeds, stated_key: Mapping[str, Any] | None = None
) -> list[str]:
    """What a forecast from `speeds` (a calibration file an older diffattr, or another config, wrote;
    `stated_key` its key, where it has one) gets wrong for `config`: one phrase each, empty when
    it was timed for this config with every timing."""
    effects = []
    if speeds.feature_image is None:
        effects.append("leave out the samples' features and metrics")
    if gradient_baselines(config) and speeds.grad_image is None:
        effects.append("charge TRAK's per-sample gradients as training images (9-43x too little on a CPU)")
    differing = config_differences(stated_key, config) if stated_key else []
    if differing:
        effects.append(f"use timings of another config (its {', '.join(differing)} differ from this one's)")
    return effects


def stated_file_note(
    config: Mapping[str, Any], path: str | os.PathLike, speeds: Speeds, configfiles: Sequence[str]
) -> str | None:
    """What `make plan` notes and a Slurm run logs of the calibration file `path` (slurm_limits.calibration
    or --slurm-calibration, `speeds` read from it) where it lacks a timing `config` needs or was timed
    for another config (missing_timings), with the command that writes it again; None where it fits."""
    effects = missing_timings(config, speeds, load_key(path))
    if not effects:
        return None
    return (
        f"the Slurm calibration file {path} was written by an older diffattr or for another config: the "
        f"Slurm estimate and time limits {' and '.join(effects)}; run `{calibrate_command(configfiles)}` on a "
        "node of the partition again"
    )


def calibrate_command(configfiles: Sequence[str]) -> str:
    """The command that writes a calibration of the config of `configfiles` where it runs."""
    return " ".join(
        ["python -m diffattr.plan --calibrate-only", *(["--configfile", *map(str, configfiles)] if configfiles else [])]
    )


def load_key(path: str | os.PathLike) -> dict[str, Any] | None:
    """The key a calibration file was written under (None: a file without one)."""
    try:
        return read_json(path).get("key")
    except (OSError, ValueError, AttributeError):
        return None


def load_file(path: str | os.PathLike) -> Speeds:
    """A calibration written elsewhere (e.g. `--calibrate-only` on a cluster node)."""
    try:
        return Speeds.from_json(read_json(path)["speeds"])
    except TypeError:
        raise ValueError(
            f"calibration file {path}: written by an older diffattr (no peak memory); "
            "write it again with --calibrate-only"
        ) from None
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f"calibration file {path}: not readable ({exc}); write one with --calibrate-only") from None
