"""Content addressing: which config keys and upstream hashes name each stage's artifacts.

Computed once at parse time from the config alone (never from cores, resources or paths), so a
config change renames exactly the artifacts it affects, and changing it back finds the old ones.
Where the artifacts then live is `layout.Layout`'s business.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Mapping

from .baselines import MODEL_STAGE as BASELINE_MODEL_STAGE
from .baselines import configured as configured_baselines
from .hashing import select, stage_hash, stage_spec
from .pretrained import sha256 as pretrained_sha256

# stage: (version, config keys, upstream stages). Bump a version when a stage's code changes what it
# produces or how its folder is laid out, so old artifacts are not reused. (prune 3: also keeps the
# raw weights; prune 4, unlearn 3: every model stage writes model/ and train.json (layout.py);
# unlearn 2: starts from the raw weights by default; behaviour 2, pairs 2, samples 2: image j's
# initial noise depends only on (seed, j), no longer on the batch size.)
STAGES: dict[str, tuple[str, list[str], list[str]]] = {
    "data": ("1", ["data"], []),
    "classifier": ("1", ["classifier"], ["data"]),
    "reference": ("2", [], ["data", "classifier"]),
    "train_base": ("1", ["model", "scheduler", "train_base"], ["data"]),
    "prune": ("4", ["prune"], ["train_base"]),
    # 2: a subset repeating an earlier one of its family is redrawn (and records its redraws).
    "subsets": ("2", ["attribution", "subsets.alpha", "subsets.seed"], ["data"]),
    "unlearn": ("3", ["unlearn"], ["prune", "subsets"]),
    "retrain": ("1", ["model", "scheduler", "train_base", "retrain"], ["data", "subsets"]),
    "behaviour_base": ("2", ["behaviour"], ["reference", "train_base"]),
    "behaviour_prune": ("2", ["behaviour"], ["reference", "prune"]),
    "behaviour_unlearn": ("2", ["behaviour"], ["reference", "unlearn"]),
    "behaviour_retrain": ("2", ["behaviour"], ["reference", "retrain"]),
    # The untrained model: v(empty) for the constrained KernelSHAP fit.
    "init": ("1", ["model", "train_base.seed"], ["data"]),
    "behaviour_init": ("2", ["behaviour"], ["reference", "init"]),
    "retrain_floor": ("1", ["model", "scheduler", "train_base", "table1.floor_seed"], ["data", "subsets"]),
    # The second retrainings' behaviours: the LDS ceiling (test subsets retrained twice).
    "behaviour_retrain_floor": ("2", ["behaviour"], ["reference", "retrain_floor"]),
    # The cheap baselines (TRAK, D-TRAK, pixel/feature similarity; lib/diffattr/baselines), planned only
    # when datamodel.estimators lists one: the attributed model's (baselines.model, an extra upstream)
    # generated images, then each method's scores.
    "baseline_images": (
        "1",
        [
            "behaviour.n_samples",
            "behaviour.ddim_steps",
            "behaviour.seed",
            "behaviour.eta",
            "compute.precision",
            "compute.tf32",
        ],
        [],
    ),
    "baselines": ("1", ["baselines", "attribution"], ["data", "classifier", "reference", "baseline_images"]),
    # 3: used subsets only (none equal to a test subset); the attribute `subsets` reports the draws.
    # 4: uniform and kernel draws equal to a test subset are kept (reported as kept_equal_to_test).
    "matrix": (
        "4",
        [
            "subsets.n_train",
            "subsets.n_test",
            "subsets.exclude",
            "subsets.n_uniform",
            "subsets.n_kernel",
            "datamodel.estimators",
            "lds.extra_alphas",
        ],
        ["behaviour_unlearn", "behaviour_retrain", "behaviour_init", "subsets"],
    ),
    # 3: the CV's no-signal rule, relative scores and the sign_identified flag. 4: the CV scores each fold
    # on its own; lasso's grid from the data; a fit whose scores are all tied ranks nothing.
    "datamodel": ("4", ["datamodel", "behaviour.target"], ["matrix"]),
    # 4: the subsets' draws reported; the proxy fidelity on the baseline subsets (their retrained models'
    # behaviours) and the ceiling's place. 5: the ceiling's noise sd, spread and noise share.
    "lds": ("5", ["lds", "baseline"], ["datamodel", "behaviour_retrain", "behaviour_retrain_floor"]),
    # 3: gaps to the primary estimator, not to the best on the test models. 4: the ceiling's noise sd.
    # 5: Holm-adjusted p-values of the gaps (better/worse only where they allow it); no LDS without a ranking.
    "estimators": ("5", ["datamodel", "lds"], ["matrix", "behaviour_retrain_floor"]),
    # Counterfactual check: the removal sets follow the attributions; their retrainings are named by
    # the removed units, so estimators that agree share one retraining.
    "cf_plan": ("1", ["counterfactual"], ["datamodel", "subsets"]),
    "retrain_cf": ("1", ["model", "scheduler", "train_base", "retrain"], ["data", "subsets"]),
    "behaviour_retrain_cf": ("2", ["behaviour"], ["reference", "retrain_cf"]),
    "counterfactual": ("1", [], ["cf_plan", "behaviour_retrain_cf", "behaviour_base"]),
    "pairs": ("2", ["behaviour"], ["classifier", "unlearn", "retrain", "retrain_floor"]),
    # 2: the paired gap at every budget. 3: an unlearning batch's cost charged to the models the matrix
    # holds (not to every candidate it trains).
    "budget": (
        "3",
        ["baseline", "budget", "datamodel", "lds.n_bootstrap", "lds.ci_level", "lds.seed", "behaviour.target"],
        ["matrix", "behaviour_retrain", "behaviour_unlearn", "train_base", "prune"],
    ),
    "table1": (
        "1",
        ["table1", "baseline"],
        ["behaviour_base", "behaviour_prune", "behaviour_retrain", "matrix", "pairs"],
    ),
    # One sample grid per model kind, each named by its own model, so a change to unlearning
    # redraws only the unlearned model's grid.
    **{
        f"samples_{src}": ("2", ["report.n_images", "behaviour.seed", "behaviour.ddim_steps", "behaviour.eta"], [src])
        for src in ("train_base", "prune", "unlearn", "retrain")
    },
    # 3: unit grids by rank when the primary fit does not identify the level.
    "figures": ("3", ["report.top_k"], ["lds", "datamodel", "data", "subsets"]),
    # 2: the paired gap, the ceiling and the proxy fidelity. 3: the ceiling's noise against the spread.
    "summary": ("3", [], ["lds", "budget", "table1"]),
}

# Keys that change how a job runs or logs, not what it produces.
UNHASHED = {
    "train_base.log_every",
    "prune.finetune.log_every",
    "unlearn.log_every",
    "unlearn.subsets_per_job",
    "unlearn.concurrent",
    "unlearn.concurrent_mode",
    "train_base.checkpoint_every",
    "prune.finetune.checkpoint_every",
    "unlearn.checkpoint_every",
    "behaviour.target",
    "behaviour.batch_size",
    "datamodel.min_models",
    "baselines.batch_size",
    # The domain classifier's gate (classifier_gate.py): whether a run may use it, not what it is.
    "classifier.min_heldout",
    "classifier.min_accuracy",
}


def _drop(cfg: dict, dotted: str) -> None:
    head, _, rest = dotted.partition(".")
    if head not in cfg:
        return
    if rest:
        if isinstance(cfg[head], dict):
            _drop(cfg[head], rest)
    else:
        del cfg[head]


# attribution.<unit> holds the settings of that unit only: the others are left out of the hash, so
# adding a unit kind did not rename the sample and class stores.
UNIT_SETTINGS = ("kmeans", "csv")
# compute settings that change the numbers, with their defaults (hashed only when changed), and
# the stages that train or sample.
NUMERICS = {"precision": "fp32", "tf32": False}
COMPUTED_STAGES = {
    "train_base",
    "prune",
    "unlearn",
    "retrain",
    "retrain_floor",
    "retrain_cf",
    "behaviour_base",
    "behaviour_prune",
    "behaviour_unlearn",
    "behaviour_retrain",
    "behaviour_init",
    "behaviour_retrain_cf",
    "behaviour_retrain_floor",
    "pairs",
    "samples_train_base",
    "samples_prune",
    "samples_unlearn",
    "samples_retrain",
}
DATA_SETTINGS = {"path": ("cifar10", "imagefolder"), "resolution": ("imagefolder",)}


def stage_config(config: Mapping[str, Any], stage: str) -> dict:
    keys = STAGES[stage][1]
    selected = copy.deepcopy(select(config, keys))
    for dotted in UNHASHED:
        for key in keys:
            if dotted.startswith(key + ".") and dotted not in keys:
                _drop(selected[key], dotted[len(key) + 1 :])
    pretrained = (config.get("base_model") or {}).get("path")
    if stage == "train_base" and pretrained:
        # An imported model is determined by its UNet's config.json and weights (pretrained.sha256;
        # checked against `model` and `scheduler`), not by the training recipe.
        selected = {
            "model": selected["model"],
            "scheduler": selected["scheduler"],
            "base_model": {"sha256": pretrained_sha256(pretrained)},
        }
    features = config["behaviour"].get("features", "classifier")
    if "behaviour" in selected and features == "classifier":
        # The default feature extractor: left out so the digits stores kept their names.
        for name in ("features", "inception_weights"):
            selected["behaviour"].pop(name, None)
    if stage == "reference" and features == "inception":
        path = config["behaviour"].get("inception_weights", "")
        selected = {"features": "inception", "inception_sha256": file_sha256(path, "behaviour.inception_weights")}
    numerics = {k: v for k, v in (config.get("compute") or {}).items() if k in NUMERICS and v != NUMERICS[k]}
    if numerics and stage in COMPUTED_STAGES:
        selected["compute"] = numerics
    if stage == "baselines" and baseline_device(config) != "cpu":
        # dattri projects the gradients with another random matrix on a GPU (CudaProjector) than on the
        # CPU (BasicProjector), and TF32 changes the gradients: GPU scores never share the CPU's path.
        selected["compute"] = {"device": baseline_device(config), **numerics}
    if "data" in selected:
        # A local dataset's location (and size) matter only for the kinds that read one.
        kind = selected["data"]["kind"]
        for name, kinds in DATA_SETTINGS.items():
            if kind not in kinds:
                selected["data"].pop(name, None)
    if "attribution" in selected:
        unit = selected["attribution"]["unit"]
        for name in UNIT_SETTINGS:
            if name != unit:
                selected["attribution"].pop(name, None)
        if unit == "csv":
            # The file's content, not its path, decides the units.
            selected["attribution"]["csv_sha256"] = file_sha256(
                selected["attribution"].get("csv", ""), "attribution.csv", "a CSV with columns index,unit"
            )
    return selected


def file_sha256(path: str, key: str, what: str = "the file") -> str:
    import hashlib

    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except (FileNotFoundError, IsADirectoryError):
        raise ValueError(f"{key}: {path!r} not found; give {what}") from None
    return h.hexdigest()


BASELINE_STAGES = ("baseline_images", "baselines")


def baseline_device(config: Mapping[str, Any]) -> str:
    """The device kind the baselines stage runs on, fixed at start-up because it names the scores:
    compute.device when it is cpu or cuda; for `auto`, cuda when the baselines rule asks the cluster
    for a GPU (resources.baselines or resources.default: gpu, or a gres naming one), else the CPU.
    The job then runs there whatever else it sees (workflow/scripts/baselines.py)."""
    want = (config.get("compute") or {}).get("device", "auto")
    if want != "auto":
        return str(want)
    res = config.get("resources") or {}
    merged = {**(res.get("default") or {}), **(res.get("baselines") or {})}
    return "cuda" if merged.get("gpu") or "gpu" in str(merged.get("gres") or "") else "cpu"


def extra_upstream(config: Mapping[str, Any], stage: str) -> list[str]:
    """Inputs a stage has under some configs only: k-means units cluster the reference features."""
    if stage == "subsets" and config["attribution"]["unit"] == "kmeans":
        return ["reference"]
    if stage in BASELINE_STAGES:
        return [BASELINE_MODEL_STAGE[config["baselines"]["model"]]]
    if stage in ("datamodel", "estimators", "budget") and configured_baselines(config["datamodel"]["estimators"]):
        return ["baselines"]
    return []


@dataclass
class Plan:
    hashes: dict[str, str] = field(default_factory=dict)
    specs: dict[str, dict] = field(default_factory=dict)


def build_plan(config: Mapping[str, Any]) -> Plan:
    plan = Plan()
    for stage, (version, _, upstream) in STAGES.items():
        if stage in BASELINE_STAGES and not configured_baselines(config["datamodel"]["estimators"]):
            continue  # no baseline configured: no stage, and every other stage keeps its name
        up = {name: plan.hashes[name] for name in upstream + extra_upstream(config, stage)}
        cfg = stage_config(config, stage)
        plan.specs[stage] = stage_spec(stage, version, cfg, up)
        plan.hashes[stage] = stage_hash(stage, version, cfg, up)
    return plan


def runtime_settings(config: Mapping[str, Any], section: str) -> dict:
    """The unhashed keys directly under a dotted config section (e.g. `train_base` -> log_every,
    checkpoint_every). Jobs read these from the full config, not from params, so changing them
    neither renames artifacts nor trips Snakemake's params rerun trigger."""
    node: Any = config
    for part in section.split("."):
        node = node[part]
    prefix = section + "."
    names = {k[len(prefix) :] for k in UNHASHED if k.startswith(prefix) and "." not in k[len(prefix) :]}
    return {k: node[k] for k in names if k in node}
