"""What one job of the workflow does (`Work`: models, training steps, images sampled, their features
and metrics, TRAK's per-sample gradients, bytes) and what it costs on a calibrated machine (`cost`),
from its rule, its wildcards and the config, as the stage code does it. `job_seconds(rule,
wildcards, context, speeds)` and `job_memory` are the per-job cost and peak memory a Slurm
`runtime` and `mem_mb` are derived from (slurm_limits.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..attribution.baselines import GRADIENT as GRADIENT_BASELINES
from ..attribution.baselines import MODEL_STAGE as BASELINE_MODEL_STAGE
from ..core.registry import MODEL_JOB_RULES, MODEL_KINDS, REGISTRY, SAMPLE_STAGE, downstream
from .calibration import Speeds

# Which model (full-size or pruned) each behaviour source, report grid and baseline samples: a model
# stage is pruned when the pruned model is among its upstream stages (registry).
_PRUNED = downstream("prune")
BEHAVIOUR_MODEL = {kind: "pruned" if stage in _PRUNED else "full" for kind, stage in MODEL_KINDS.items()}
SAMPLES_MODEL = {grid: "pruned" if REGISTRY[stage].model in _PRUNED else "full" for grid, stage in SAMPLE_STAGE.items()}
BASELINE_MODEL = {kind: BEHAVIOUR_MODEL[kind] for kind in BASELINE_MODEL_STAGE}
# Jobs whose script trains, samples or extracts features: they import torch before working
# (compute.start_model_job), the heavy start-up (registry.MODEL_JOB_RULES). Every other script job
# pays the light one.
HEAVY_RULES = MODEL_JOB_RULES
# Target rules with no script: no process, no cost.
NO_PROCESS = {"all"}
FLOAT32 = 4
FLOAT64 = 8
# A model in training holds its weights, their gradients, Adam's two moments and the EMA copy.
TRAIN_STATE_COPIES = 5
# The attribution jobs' copies of the matrix at once (masks and behaviours as float64, a design
# matrix, a bootstrap resample).
MATRIX_COPIES = 4
# Jobs that hold the matrix (or the datamodel's arrays of its size).
MATRIX_RULES = {"matrix", "datamodel", "lds", "estimators", "budget", "table1", "cf_plan", "counterfactual"}
# Jobs that train the full-size model (or take its gradients): calibration probe train_full.
FULL_TRAINING = {"train_base", "retrain", "retrain_floor", "retrain_cf", "prune", "classifier"}


@dataclass(frozen=True)
class Context:
    """What a job's work depends on beyond its wildcards: the config, the members of each subset chunk
    (unlearning batches), of each retraining batch and of each retrained models' evaluation batch,
    the model stage of each behaviour hash, and the training set's size."""

    config: Mapping[str, Any]
    chunks: Mapping[str, list[str]]
    behaviour_source: Mapping[str, str]
    n_images: int
    image_values: int  # channels x height x width
    matrix_values: int = 0  # subsets x units: what the attribution jobs hold as float64 arrays
    eval_batches: Mapping[str, list[str]] = field(default_factory=dict)
    # the models of a counterfactual evaluation batch, unknown before its plan: at most this many
    cf_batch_models: int = 1
    retrain_batches: Mapping[str, list[str]] = field(default_factory=dict)
    # ... and of a counterfactual retraining batch
    cf_retrain_models: int = 1


def cf_retrainings(config: Mapping[str, Any]) -> int:
    """The counterfactual retrainings checkpoint cf_plan can add, at most: one per estimator and random
    draw at each fraction (rankings that pick the same units share one)."""
    cf = config["counterfactual"]
    return len(cf["fractions"]) * (len(config["datamodel"]["estimators"]) + int(cf["n_random"]))


def context(config: Mapping[str, Any], subsets: Any, behaviour_source: Mapping[str, str]) -> Context:
    """The Context of a config whose subsets are drawn (`subsets`: draws.SubsetPlan) and whose
    behaviour hashes name their model stage (`behaviour_source`, rules/common.smk's)."""
    from ..core.data import image_shape, sample_count
    from ..core.settings import DataSource

    source = DataSource.from_config(config["data"])
    shape = image_shape(source)
    rows = sum(len(ids) for ids in subsets.chunks.values())
    return Context(
        config=config,
        chunks=subsets.chunks,
        behaviour_source=behaviour_source,
        n_images=int(sample_count(source)),
        image_values=int(shape[0] * shape[1] * shape[2]),
        matrix_values=rows * int(subsets.n_units),
        eval_batches={name: ids for batches in subsets.eval_batches.values() for name, ids in batches.items()},
        cf_batch_models=max(1, min(int(subsets.per_job), cf_retrainings(config))),
        # a batch's name determines its members (a digest of them), so one table serves every kind
        retrain_batches={name: ids for batches in subsets.retrain_batches.values() for name, ids in batches.items()},
        cf_retrain_models=max(1, min(int(subsets.models_per_job), cf_retrainings(config))),
    )


@dataclass(frozen=True)
class Work:
    models: int = 0
    train_steps: int = 0  # full-size model steps at train_base.batch_size
    pruned_steps: int = 0  # pruned model steps (fine-tune and unlearning)
    pruned_scale: float = 1.0  # their batch size over unlearn.batch_size (the calibrated one)
    image_steps: Mapping[str, int] = field(default_factory=dict)  # {"full"|"pruned": images x DDIM steps}
    images: int = 0  # images sampled
    grad_images: int = 0  # images whose per-sample gradient TRAK or D-TRAK projects
    grad_timesteps: int = 0  # ... each at this many timesteps (baselines.timesteps)
    feature_images: int = 0  # images through the behaviour's feature extractors
    scored_models: int = 0  # models whose metrics are computed from their samples' features
    fids: int = 0  # FIDs between two models' samples (the pairs')
    classifier_epochs: int = 0
    bytes: int = 0  # model weights and saved images (JSON, CSV, logs not counted)
    startup: str | None = "light"  # "heavy", "light" or None (no process)


@dataclass(frozen=True)
class Cost:
    wall: float
    cpu: float


def _sampling(model: str, n: int, ddim_steps: int, models: int = 1) -> dict:
    return {"image_steps": {model: n * ddim_steps * models}, "images": n * models}


def _evaluation(model: str, n: int, ddim_steps: int, models: int = 1) -> dict:
    """Sampling `models` models' n images each, their features and their metrics (a behaviour)."""
    return {**_sampling(model, n, ddim_steps, models), "feature_images": n * models, "scored_models": models}


def rule_work(rule: str, wildcards: Mapping[str, str], ctx: Context, params: Mapping[str, int]) -> Work:
    """The work of one job of `rule`; `params` holds the model sizes (`params_full`, `params_pruned`)."""
    cfg = ctx.config
    beh = cfg["behaviour"]
    n, ddim = int(beh["n_samples"]), int(beh["ddim_steps"])
    full_bytes, pruned_bytes = params["params_full"] * FLOAT32, params["params_pruned"] * FLOAT32
    startup = "heavy" if rule in HEAVY_RULES else "light"
    if rule in NO_PROCESS:
        return Work(startup=None)
    if rule == "data":
        return Work(bytes=ctx.n_images * ctx.image_values * FLOAT32, startup=startup)
    if rule == "classifier":
        return Work(classifier_epochs=int(cfg["classifier"]["epochs"]), startup=startup)
    if rule == "train_base":
        steps = 0 if cfg["base_model"]["path"] else int(cfg["train_base"]["steps"])
        return Work(models=1, train_steps=steps, bytes=full_bytes, startup=startup)
    if rule in ("retrain", "retrain_floor", "retrain_cf"):
        members = ctx.retrain_batches.get(wildcards["batch"])
        m = len(members) if members is not None else ctx.cf_retrain_models
        return Work(models=m, train_steps=m * int(cfg["train_base"]["steps"]), bytes=m * full_bytes, startup=startup)
    if rule == "init":
        return Work(models=1, bytes=full_bytes, startup=startup)
    if rule == "prune":
        ft = cfg["prune"]["finetune"]
        scale = int(ft["batch_size"]) / int(cfg["unlearn"]["batch_size"])
        # the fine-tuned model and the raw weights (unlearn.init: raw starts from them)
        return Work(
            models=1, pruned_steps=int(ft["steps"]), pruned_scale=scale, bytes=2 * pruned_bytes, startup=startup
        )
    if rule == "unlearn":
        m = len(ctx.chunks[wildcards["batch"]])
        return Work(models=m, pruned_steps=m * int(cfg["unlearn"]["steps"]), bytes=m * pruned_bytes, startup=startup)
    if rule == "behaviour":
        model = BEHAVIOUR_MODEL[ctx.behaviour_source[wildcards["bhash"]]]
        return Work(**_evaluation(model, n, ddim), startup=startup)
    if rule == "behaviour_retrained":
        model = BEHAVIOUR_MODEL[ctx.behaviour_source[wildcards["bhash"]]]
        members = ctx.eval_batches.get(wildcards["batch"])
        m = len(members) if members is not None else ctx.cf_batch_models
        return Work(**_evaluation(model, n, ddim, m), startup=startup)
    if rule == "behaviour_unlearn":
        return Work(**_evaluation("pruned", n, ddim, len(ctx.chunks[wildcards["batch"]])), startup=startup)
    if rule == "pairs":
        # the unlearned model (pruned) against the retrained one and its second retraining: three
        # models' images and features, two FIDs between them
        return Work(
            image_steps={"pruned": n * ddim, "full": 2 * n * ddim},
            images=3 * n,
            feature_images=3 * n,
            fids=2,
            startup=startup,
        )
    if rule == "reference":
        return Work(feature_images=ctx.n_images, startup=startup)
    if rule == "samples":
        return Work(
            **_sampling(SAMPLES_MODEL[wildcards["kind"]], int(cfg["report"]["n_images"]), ddim), startup=startup
        )
    if rule == "baseline_images":
        sampled = _sampling(BASELINE_MODEL[cfg["baselines"]["model"]], n, ddim)
        return Work(**sampled, bytes=n * ctx.image_values * FLOAT32, startup=startup)
    if rule == "baselines":
        if wildcards.get("method") == "feature":  # the generated images' (the training images' are the reference's)
            return Work(feature_images=n, startup=startup)
        if wildcards.get("method") not in GRADIENT_BASELINES:
            return Work(startup=startup)
        # every training and generated image's gradient, averaged over `timesteps` timesteps
        return Work(grad_images=ctx.n_images + n, grad_timesteps=int(cfg["baselines"]["timesteps"]), startup=startup)
    return Work(startup=startup)


def _unit(pair: tuple[float, float]) -> tuple[float, float]:
    # (wall, CPU) of a unit of work. Other processes on the machine add wall time beyond the CPU time
    # a single-threaded job needs, never take it away: the smaller of the two is the work's own wall.
    return min(pair), pair[1]


def _gradients(work: Work, speeds: Speeds) -> tuple[float, tuple[float, float]]:
    """(count, seconds each) of a job's per-sample gradients: images at the calibration's timed cost
    of one (speeds.grad_image), or, from a calibration of a config without TRAK (a --slurm-calibration
    file), each image and timestep charged as one training image of the full model, which on a CPU
    is 9-43x too little (docs/results.md "The cost estimate (make plan)")."""
    if speeds.grad_image is not None:
        return work.grad_images, speeds.grad_image
    return work.grad_images * work.grad_timesteps / speeds.train_batch, speeds.train_step


def cost(work: Work, speeds: Speeds) -> Cost:
    """Wall and CPU seconds of one job of `work` on the machine `speeds` were measured on."""
    terms = [
        (work.train_steps, speeds.train_step),
        (work.pruned_steps * work.pruned_scale, speeds.pruned_step),
        (work.image_steps.get("full", 0), speeds.full_image_step),
        (work.image_steps.get("pruned", 0), speeds.pruned_image_step),
        _gradients(work, speeds),
        # not in a calibration file written before they were timed (calibration.FORMAT 3)
        (work.feature_images, speeds.feature_image or (0.0, 0.0)),
        (work.scored_models, speeds.score_model or (0.0, 0.0)),
        (work.fids, speeds.fid_model or speeds.score_model or (0.0, 0.0)),
        (work.classifier_epochs, speeds.classifier_epoch),
    ]
    if work.startup is not None:
        terms.append((1, getattr(speeds, f"startup_{work.startup}")))
    wall = sum(k * _unit(pair)[0] for k, pair in terms)
    cpu = sum(k * pair[1] for k, pair in terms)
    return Cost(wall=wall, cpu=cpu)


def model_sizes(speeds: Speeds) -> dict[str, int]:
    """The model sizes rule_work takes, from a calibration."""
    return {"params_full": speeds.params_full, "params_pruned": speeds.params_pruned}


def job_seconds(rule: str, wildcards: Mapping[str, str], ctx: Context, speeds: Speeds) -> float:
    """Estimated wall seconds of one job of `rule` with `wildcards` (e.g. for its Slurm runtime)."""
    return cost(rule_work(rule, wildcards, ctx, model_sizes(speeds)), speeds).wall


def job_memory(rule: str, wildcards: Mapping[str, str], ctx: Context, speeds: Speeds) -> float:
    """Estimated peak resident bytes of one job of `rule` with `wildcards` (work_memory)."""
    return work_memory(rule, rule_work(rule, wildcards, ctx, model_sizes(speeds)), ctx, speeds)


def work_memory(rule: str, work: Work, ctx: Context, speeds: Speeds) -> float:
    """Peak resident bytes of a job of `rule` doing `work`: the calibration's measured peak of a job
    process doing that kind of work with one model (speeds.peak_rss), plus what this job holds beyond
    it: the other models of an unlearning batch, the images it samples, the matrix. A job that
    extracts features peaks at least where the `features` probe did (one batch through the configured
    extractors: Inception's activations take gigabytes at 500 images) plus its images."""
    peak = speeds.peak_rss
    if work.startup is None:
        return 0.0
    images = work.images * ctx.image_values * FLOAT32
    # a file written before the probe existed has no entry: the sampling peak stands for it, as before
    features = peak.get("features", 0) + images if work.feature_images else 0
    if rule == "unlearn":
        return peak["train_pruned"] + (work.models - 1) * TRAIN_STATE_COPIES * speeds.params_pruned * FLOAT32
    if rule in FULL_TRAINING:
        return float(max(peak["train_full"], peak["train_pruned"]))
    if rule == "baselines":
        # gradients are taken one batch at a time; every training and generated image is held
        n_generated = int(ctx.config["behaviour"]["n_samples"])
        return max(peak["train_full"] + (ctx.n_images + n_generated) * ctx.image_values * FLOAT32, features)
    if work.startup == "heavy":
        # sampling (its images held until they are scored) or building a model
        return max(peak["sample_full"] + images, features)
    held = ctx.matrix_values * FLOAT64 * MATRIX_COPIES if rule in MATRIX_RULES else 0
    if rule == "data":
        held = 2 * ctx.n_images * ctx.image_values * FLOAT32  # the decoded images and their array
    return float(peak["light"] + held)
