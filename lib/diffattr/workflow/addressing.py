"""Content addressing: which config keys and upstream hashes name each stage's artifacts.

Computed once at parse time from the config alone (never from cores, resources or paths), so a
config change renames exactly the artifacts it affects, and changing it back finds the old ones.
Where the artifacts then live is `layout.Layout`'s business; each stage's version, hashed keys and
upstream stages are its row in `registry` (STAGES, re-exported here).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..attribution.baselines import MODEL_STAGE as BASELINE_MODEL_STAGE
from ..attribution.baselines import configured as configured_baselines
from ..core.hashing import select, stage_hash, stage_spec
from ..core.pretrained import sha256 as pretrained_sha256
from ..core.registry import BASELINE_STAGES, COMPUTED_STAGES, DRAWING_STAGES, STAGES
from ..core.settings import UNHASHED

# Keys added after stores existed, hashed only away from their default, so that adding them renamed
# nothing: lds.test_seeds (1: each test subset retrained once, the LDS target one retraining),
# prune.round_to (null: the authors' pruned widths, the default until config.yaml set 16; still left
# out of the hash at null, so the stores made with the authors' rule keep their names),
# behaviour.feature_batch (null: the 500 images per feature batch every store was made with).
HASHED_UNLESS_DEFAULT = {"lds.test_seeds": 1, "prune.round_to": None, "behaviour.feature_batch": None}


def _lookup(config: Mapping[str, Any], dotted: str, default: Any) -> Any:
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def at_default(config: Mapping[str, Any], dotted: str) -> bool:
    """Whether a key of HASHED_UNLESS_DEFAULT is at its default (or absent), so hashed nowhere."""
    default = HASHED_UNLESS_DEFAULT[dotted]
    return _lookup(config, dotted, default) == default


def n_test_seeds(config: Mapping[str, Any]) -> int:
    """lds.test_seeds: how many retrainings (seeds) of each test subset the LDS target averages."""
    return int(_lookup(config, "lds.test_seeds", 1))


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
# compute settings that change the numbers, with their defaults (hashed only when changed into the
# stages that train or sample: registry.COMPUTED_STAGES).
NUMERICS = {"precision": "fp32", "tf32": False}


def sampling_override(compute: Mapping[str, Any]) -> str | None:
    """compute.sampling_precision where it differs from compute.precision, else None (null, or the
    same value, draws as before). Only then is it hashed, into registry.DRAWING_STAGES alone (a
    trained model's store is shared by every sampling precision), and into the calibration key."""
    sampling = compute.get("sampling_precision")
    return None if sampling in (None, compute.get("precision", NUMERICS["precision"])) else sampling


DATA_SETTINGS = {"path": ("cifar10", "imagefolder"), "resolution": ("imagefolder",)}


def stage_config(config: Mapping[str, Any], stage: str) -> dict:
    defaulted = {k for k in HASHED_UNLESS_DEFAULT if at_default(config, k)}
    keys = [k for k in STAGES[stage][1] if k not in defaulted]
    selected = copy.deepcopy(select(config, keys))
    for dotted in UNHASHED | defaulted:
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
        selected = {
            "features": "inception",
            "inception_sha256": file_sha256(path, "behaviour.inception_weights"),
            # the stage's own keys (its feature batch, only when set: HASHED_UNLESS_DEFAULT)
            **selected,
        }
    numerics = {k: v for k, v in (config.get("compute") or {}).items() if k in NUMERICS and v != NUMERICS[k]}
    if numerics and stage in COMPUTED_STAGES:
        selected["compute"] = numerics
    sampling = sampling_override(config.get("compute") or {})
    if sampling and stage in DRAWING_STAGES:
        selected.setdefault("compute", {})["sampling_precision"] = sampling
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
    """Inputs a stage has under some configs only: k-means units cluster the reference features; the
    budget averages the test subsets' further retrainings (lds.test_seeds above 1; lds and estimators
    list their stage always, for the ceiling)."""
    if stage == "subsets" and config["attribution"]["unit"] == "kmeans":
        return ["reference"]
    if stage in BASELINE_STAGES:
        return [BASELINE_MODEL_STAGE[config["baselines"]["model"]]]
    extra = []
    if stage == "budget" and n_test_seeds(config) > 1:
        extra.append("behaviour_retrain_floor")
    if stage in ("datamodel", "estimators", "budget") and configured_baselines(config["datamodel"]["estimators"]):
        extra.append("baselines")
    return extra


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
