"""The content-addressed layout: which config keys and upstream hashes name each artifact.

Computed once at parse time from the config alone (never from cores, resources or paths), so a
config change renames exactly the artifacts it affects, and changing it back finds the old ones.
"""

from __future__ import annotations

import copy
import functools
import math
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from .baselines import configured as configured_baselines
from .hashing import select, stage_hash, stage_spec
from .subsets import subset_id

STORE = "results/store"

# stage: (version, config keys, upstream stages). Bump a version when a stage's code changes what it
# produces, so old artifacts are not reused. (prune 3: also keeps the raw weights; unlearn 2: starts
# from them by default; behaviour 2, pairs 2, samples 2: image j's initial noise depends only on
# (seed, j), no longer on the batch size.)
STAGES: dict[str, tuple[str, list[str], list[str]]] = {
    "data": ("1", ["data"], []),
    "classifier": ("1", ["classifier"], ["data"]),
    "reference": ("2", [], ["data", "classifier"]),
    "train_base": ("1", ["model", "scheduler", "train_base"], ["data"]),
    "prune": ("3", ["prune"], ["train_base"]),
    # 2: a subset repeating an earlier one of its family is redrawn (and records its redraws).
    "subsets": ("2", ["attribution", "subsets.alpha", "subsets.seed"], ["data"]),
    "unlearn": ("2", ["unlearn"], ["prune", "subsets"]),
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
    "baseline_images": ("1", ["behaviour.n_samples", "behaviour.ddim_steps", "behaviour.seed", "behaviour.eta",
                              "compute.precision", "compute.tf32"], []),
    "baselines": ("1", ["baselines", "attribution"], ["data", "classifier", "reference", "baseline_images"]),
    # 3: used subsets only (none equal to a test subset); the attribute `subsets` reports the draws.
    "matrix": ("3", ["subsets.n_train", "subsets.n_test", "subsets.exclude", "subsets.n_uniform", "subsets.n_kernel",
                     "datamodel.estimators", "lds.extra_alphas"],
               ["behaviour_unlearn", "behaviour_retrain", "behaviour_init", "subsets"]),
    # 3: the CV's no-signal rule, relative scores and the sign_identified flag.
    "datamodel": ("3", ["datamodel", "behaviour.target"], ["matrix"]),
    # 4: the subsets' draws reported; the proxy fidelity on the baseline subsets (their retrained models' behaviours) and the
    # ceiling's place.
    "lds": ("4", ["lds", "baseline"], ["datamodel", "behaviour_retrain", "behaviour_retrain_floor"]),
    # 3: gaps to the primary estimator, not to the best on the test models.
    "estimators": ("3", ["datamodel", "lds"], ["matrix", "behaviour_retrain_floor"]),
    # Counterfactual check: the removal sets follow the attributions; their retrainings are named by
    # the removed units, so estimators that agree share one retraining.
    "cf_plan": ("1", ["counterfactual"], ["datamodel", "subsets"]),
    "retrain_cf": ("1", ["model", "scheduler", "train_base", "retrain"], ["data", "subsets"]),
    "behaviour_retrain_cf": ("2", ["behaviour"], ["reference", "retrain_cf"]),
    "counterfactual": ("1", [], ["cf_plan", "behaviour_retrain_cf", "behaviour_base"]),
    "pairs": ("2", ["behaviour"], ["classifier", "unlearn", "retrain", "retrain_floor"]),
    # 2: the paired gap at every budget.
    "budget": ("2", ["baseline", "budget", "datamodel", "lds.n_bootstrap", "lds.ci_level", "lds.seed",
                       "behaviour.target"],
               ["matrix", "behaviour_retrain", "behaviour_unlearn", "train_base", "prune"]),
    "table1": ("1", ["table1", "baseline"], ["behaviour_base", "behaviour_prune", "behaviour_retrain", "matrix", "pairs"]),
    # One sample grid per model kind, each named by its own model, so a change to unlearning
    # redraws only the unlearned model's grid.
    **{f"samples_{src}": ("2", ["report.n_images", "behaviour.seed", "behaviour.ddim_steps", "behaviour.eta"], [src])
       for src in ("train_base", "prune", "unlearn", "retrain")},
    # 3: unit grids by rank when the primary fit does not identify the level.
    "figures": ("3", ["report.top_k"], ["lds", "datamodel", "data", "subsets"]),
    # 2: the paired gap, the ceiling and the proxy fidelity.
    "summary": ("2", [], ["lds", "budget", "table1"]),
}

# Keys that change how a job runs or logs, not what it produces.
UNHASHED = {
    "train_base.log_every", "prune.finetune.log_every", "unlearn.log_every", "unlearn.subsets_per_job", "unlearn.concurrent",
    "unlearn.concurrent_mode",
    "train_base.checkpoint_every", "prune.finetune.checkpoint_every", "unlearn.checkpoint_every",
    "behaviour.target", "behaviour.batch_size", "datamodel.min_models", "baselines.batch_size",
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
COMPUTED_STAGES = {"train_base", "prune", "unlearn", "retrain", "retrain_floor", "retrain_cf", "behaviour_base",
                   "behaviour_prune", "behaviour_unlearn", "behaviour_retrain", "behaviour_init",
                   "behaviour_retrain_cf", "behaviour_retrain_floor", "pairs", "samples_train_base", "samples_prune", "samples_unlearn",
                   "samples_retrain"}
DATA_SETTINGS = {"path": ("cifar10", "imagefolder"), "resolution": ("imagefolder",)}


def stage_config(config: Mapping[str, Any], stage: str) -> dict:
    keys = STAGES[stage][1]
    selected = copy.deepcopy(select(config, keys))
    for dotted in UNHASHED:
        for key in keys:
            if dotted.startswith(key + ".") and dotted not in keys:
                _drop(selected[key], dotted[len(key) + 1:])
    pretrained = (config.get("base_model") or {}).get("path")
    if stage == "train_base" and pretrained:
        # An imported model is determined by its files (and checked against `model`), not by the
        # training recipe.
        selected = {"model": selected["model"], "scheduler": selected["scheduler"],
                    "base_model": {"sha256": dir_sha256(pretrained)}}
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
            selected["attribution"]["csv_sha256"] = file_sha256(selected["attribution"].get("csv", ""),
                                                                "attribution.csv", "a CSV with columns index,unit")
    return selected


def dir_sha256(path: str | os.PathLike) -> str:
    """sha256 over the names and contents of a directory's files (a pretrained model's folder)."""
    import hashlib
    from pathlib import Path

    root = Path(path)
    if not root.is_dir():
        raise ValueError(f"base_model.path: {str(path)!r} is not a directory; give a local diffusers UNet2DModel "
                         "folder (config.json + weights), or leave it empty to train the base model")
    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(root)).encode() + b"\0")
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


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


def extra_upstream(config: Mapping[str, Any], stage: str) -> list[str]:
    """Inputs a stage has under some configs only: k-means units cluster the reference features."""
    if stage == "subsets" and config["attribution"]["unit"] == "kmeans":
        return ["reference"]
    if stage in BASELINE_STAGES:
        return [{"base": "train_base", "prune": "prune"}[config["baselines"]["model"]]]
    if stage in ("datamodel", "estimators", "budget") and configured_baselines(config["datamodel"]["estimators"]):
        return ["baselines"]
    return []


@dataclass
class Plan:
    hashes: dict[str, str] = field(default_factory=dict)
    specs: dict[str, dict] = field(default_factory=dict)

    def dir(self, stage: str) -> str:
        family = stage.split("_")[0] if stage.startswith(("behaviour", "samples")) else stage
        return f"{STORE}/{family}/{self.hashes[stage]}"


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
    names = {k[len(prefix):] for k in UNHASHED if k.startswith(prefix) and "." not in k[len(prefix):]}
    return {k: node[k] for k in names if k in node}


# The held-out test families, drawn first and fixed; and the families fitted on (by an estimator,
# the retraining baseline or Table 1) whose candidates equal to a test subset are skipped.
TEST_FAMILIES = ("test", "test25", "test75")
SKIPPING_FAMILIES = ("train", "uniform", "kernel")
UNLEARN_FAMILIES = ("train", "uniform", "kernel", "loo", "full")


@dataclass(frozen=True)
class FamilyDraw:
    """One family's subsets: candidate ids family-0000 .. family-{candidates - 1}, of which `used`
    are fitted on (or tested on) and `skipped` equal a test subset; `redrawn` candidates were
    redrawn for equalling an earlier one of the family; `duplicates` used ones equal an earlier
    used one (kernel only: its draws are kept i.i.d.)."""
    candidates: int
    used: tuple[int, ...]
    skipped: tuple[int, ...] = ()
    redrawn: int = 0
    duplicates: int = 0


def unit_count(config: Mapping[str, Any]) -> int:
    """How many attribution units the config defines, known before any job runs (the subsets are
    drawn at start-up: which ids exist and which equal a test subset)."""
    import json

    att = config["attribution"]
    key = json.dumps({"data": config["data"], "unit": att["unit"], "k": (att.get("kmeans") or {}).get("k"),
                      "csv": att.get("csv")}, sort_keys=True)
    return _unit_count(key)


@functools.lru_cache(maxsize=8)
def _unit_count(key: str) -> int:
    import json

    spec = json.loads(key)
    if spec["unit"] == "kmeans":
        return int(spec["k"])
    if spec["unit"] == "csv":
        import csv

        file_sha256(spec["csv"], "attribution.csv", "a CSV with columns index,unit")  # a clear error if missing
        with open(spec["csv"], newline="") as fh:
            return len({(row.get("unit") or "").strip() for row in csv.DictReader(fh)})
    from .data import class_names_of, sample_count

    if spec["unit"] == "sample":
        return sample_count(spec["data"])
    return len(class_names_of(spec["data"]))


def family_sizes(config: Mapping[str, Any], n_units: int | None = None) -> dict[str, int]:
    """Subsets per family the config asks for. The estimators decide which families exist: Banzhaf
    the uniform one, Shapley the kernel one plus the full set, leave-one-out one subset per unit
    (`n_units`) plus the full set; extra test families per lds.extra_alphas."""
    sub, estimators = config["subsets"], set(config["datamodel"]["estimators"])
    sizes = {"train": int(sub["n_train"]), "test": int(sub["n_test"])}
    if "banzhaf" in estimators:
        sizes["uniform"] = int(sub["n_uniform"])
    if "shapley" in estimators:
        sizes["kernel"] = int(sub["n_kernel"])
    if "loo" in estimators:
        if config["attribution"]["unit"] == "sample":
            raise ValueError("config key datamodel.estimators: 'loo' needs one model per unit, so group units "
                             "(attribution.unit class, kmeans or csv), not 'sample'; remove 'loo'")
        sizes["loo"] = n_units if n_units is not None else unit_count(config)
    if estimators & {"shapley", "loo"}:
        sizes["full"] = 1
    for alpha in config["lds"].get("extra_alphas", []):
        sizes[f"test{round(float(alpha) * 100):02d}"] = int(sub["n_test"])
    return sizes


def subset_draws(config: Mapping[str, Any], n_units: int | None = None) -> dict[str, FamilyDraw]:
    """Every family's candidates, used ids and skips (families in `family_sizes` order). Refuses,
    naming the key, a config that asks for more distinct subsets than exist."""
    n_units = unit_count(config) if n_units is None else n_units
    sizes = family_sizes(config, n_units)
    return _subset_draws(n_units, float(config["subsets"]["alpha"]), int(config["subsets"]["seed"]),
                         tuple(sizes.items()))


# Parse time asks for the same draws several times (config checks, then the id lists).
@functools.lru_cache(maxsize=8)
def _subset_draws(n_units: int, alpha: float, seed: int, sizes: tuple[tuple[str, int], ...]) -> dict[str, FamilyDraw]:
    from collections import Counter

    wanted = dict(sizes)
    draws: dict[str, FamilyDraw] = {}
    test_keys: set[bytes] = set()
    test_sizes: Counter[int] = Counter()
    for family in TEST_FAMILIES:
        if family in wanted:
            _check_test_capacity(family, wanted[family], n_units, alpha)
            draws[family], keys = _take(n_units, alpha, seed, family, wanted[family], set())
            test_keys |= keys
            test_sizes[_fixed_size(family, n_units, alpha)] += len(keys)
    if "loo" in wanted:
        _check_loo(wanted, n_units, alpha)
    for family, n in wanted.items():
        if family in SKIPPING_FAMILIES:
            _check_capacity(family, n, n_units, alpha, test_sizes)
            draws[family], _ = _take(n_units, alpha, seed, family, n, test_keys)
        elif family not in draws:  # loo, full: defined sets, nothing to skip
            draws[family] = FamilyDraw(n, tuple(range(n)))
    return {family: draws[family] for family in wanted}


def _take(n_units: int, alpha: float, seed: int, family: str, n: int, forbidden: set[bytes]
          ) -> tuple[FamilyDraw, set[bytes]]:
    """The first n candidates of `family` not in `forbidden` (the test masks); their mask keys."""
    from .subsets import family_subsets, mask_key

    used, skipped, redrawn, duplicates, keys = [], [], 0, 0, set()
    draws = family_subsets(n_units, alpha, seed, family)
    index = 0
    while len(used) < n:
        units, redraws = next(draws)
        key = mask_key(units, n_units)
        redrawn += redraws > 0
        if key in forbidden:
            skipped.append(index)
        else:
            used.append(index)
            duplicates += key in keys
            keys.add(key)
        index += 1
    return FamilyDraw(index, tuple(used), tuple(skipped), redrawn, duplicates), keys


def _fixed_size(family: str, n_units: int, alpha: float) -> int:
    from .subsets import FIXED_ALPHA, subset_size

    return subset_size(n_units, FIXED_ALPHA.get(family, alpha))


def _check_test_capacity(family: str, n: int, n_units: int, alpha: float) -> None:
    size = _fixed_size(family, n_units, alpha)
    exist = math.comb(n_units, size)
    if n > exist:
        extra = "" if family == "test" else f" (lds.extra_alphas {int(family[4:]) / 100:g})"
        fix = "raise the number of units" if family == "test" else f"remove {int(family[4:]) / 100:g} from lds.extra_alphas"
        raise ValueError(f"config key subsets.n_test: {n} distinct test subsets of {size} of {n_units} units{extra} are "
                         f"asked for but only {exist} exist; lower subsets.n_test or {fix}")


def _check_capacity(family: str, n: int, n_units: int, alpha: float, test_sizes: Mapping[int, int]) -> None:
    """Enough distinct subsets of a skipping family besides the test subsets."""
    tests = sum(test_sizes.values())
    if family == "train":
        size = _fixed_size(family, n_units, alpha)
        exist = math.comb(n_units, size) - test_sizes.get(size, 0)
        what = f"training subsets of {size} of {n_units} units"
    else:  # uniform, kernel: any size from 1 to N-1
        exist = 2 ** n_units - 2 - tests
        what = f"{family} subsets of {n_units} units (of 1 to {n_units - 1} units)"
    # kernel draws are i.i.d. (repeats kept), so it needs only one subset that is not a test subset.
    need = 1 if family == "kernel" else n
    if need > exist:
        key = f"subsets.n_{family}"
        raise ValueError(f"config key {key}: {need} distinct {what} are asked for but only {exist} exist besides the "
                         f"{tests} test subsets; lower {key} or raise the number of units")


def _check_loo(wanted: Mapping[str, int], n_units: int, alpha: float) -> None:
    """Leave-one-out fits on every subset of N-1 units: no test family may have that size."""
    for family in TEST_FAMILIES:
        if family in wanted and _fixed_size(family, n_units, alpha) == n_units - 1:
            fix = "lower subsets.alpha" if family == "test" else f"remove {int(family[4:]) / 100:g} from lds.extra_alphas"
            raise ValueError(f"config key datamodel.estimators: 'loo' fits on every subset of {n_units - 1} of "
                             f"{n_units} units, and each {family} subset is one of them; {fix} or remove 'loo'")


def used_ids(config: Mapping[str, Any], family: str, n_units: int | None = None) -> list[str]:
    """The ids of a family that the config uses: its first n candidates not equal to a test subset."""
    draw = subset_draws(config, n_units).get(family)
    return [subset_id(family, i) for i in draw.used] if draw else []


def train_ids(config: Mapping[str, Any], n_units: int | None = None) -> list[str]:
    return used_ids(config, "train", n_units)


def test_ids(config: Mapping[str, Any], n_units: int | None = None) -> list[str]:
    return used_ids(config, "test", n_units)


def matrix_ids(config: Mapping[str, Any], n_units: int | None = None) -> tuple[list[str], list[str]]:
    """The train and test subsets whose models enter the matrix (all used but `subsets.exclude`)."""
    return family_ids(config, "train", n_units), family_ids(config, "test", n_units)


def baseline_ids(config: Mapping[str, Any], n_units: int | None = None) -> list[str]:
    """Training subsets the retraining baseline retrains: the first baseline.n_models used ones not
    excluded."""
    skip = set(config["subsets"].get("exclude", []))
    return [s for s in train_ids(config, n_units)[: int(config["baseline"]["n_models"])] if s not in skip]


def ceiling_ids(config: Mapping[str, Any], n_units: int | None = None) -> list[str]:
    """Test subsets retrained a second time (seed table1.floor_seed) for the LDS ceiling: the first
    lds.ceiling_models used test ids not excluded (0 = no ceiling)."""
    return family_ids(config, "test", n_units)[: int(config["lds"].get("ceiling_models", 0))]


def pair_ids(config: Mapping[str, Any], n_units: int | None = None) -> list[str]:
    """Subsets whose unlearned and retrained models Table 1 compares (FID2)."""
    return baseline_ids(config, n_units)[: int(config["table1"]["n_pairs"])]


def subset_chunks(family: str, n: int, per_job: int) -> dict[str, list[str]]:
    """Chunk name -> its subset ids, `per_job` consecutive candidate ids of one family per chunk.
    The name spells its range (e.g. train-0010-0019), so a chunk's content never changes under the
    same name when the number of subsets does. Train chunks are the unlearning batches."""
    out = {}
    for start in range(0, n, per_job):
        stop = min(start + per_job, n)
        out[f"{family}-{start:04d}-{stop - 1:04d}"] = [subset_id(family, i) for i in range(start, stop)]
    return out


def unlearn_batches(n_train: int, per_job: int) -> dict[str, list[str]]:
    return subset_chunks("train", n_train, per_job)


def all_chunks(config: Mapping[str, Any], n_units: int | None = None) -> dict[str, list[str]]:
    """Every subset chunk of the config, over each family's candidates: a chunk holds the skipped
    candidates of its range too, so its content never depends on the test families (train, uniform,
    kernel, loo and full chunks are unlearning batches; test models are retrained one per job)."""
    per_job = int(config["unlearn"]["subsets_per_job"])
    out: dict[str, list[str]] = {}
    for family, draw in subset_draws(config, n_units).items():
        out.update(subset_chunks(family, draw.candidates, per_job))
    return out


def train_batches(config: Mapping[str, Any], n_units: int | None = None) -> dict[str, list[str]]:
    """The datamodel's unlearning batches: train chunks holding a used subset."""
    used = set(train_ids(config, n_units))
    return {name: members for name, members in all_chunks(config, n_units).items()
            if name.startswith("train-") and used & set(members)}


def family_ids(config: Mapping[str, Any], family: str, n_units: int | None = None) -> list[str]:
    """The used subset ids of one family, all but `subsets.exclude`."""
    skip = set(config["subsets"].get("exclude", []))
    return [s for s in used_ids(config, family, n_units) if s not in skip]


def chunk_of(config: Mapping[str, Any], n_units: int | None = None) -> dict[str, str]:
    """Subset id -> the chunk that holds it (every candidate, skipped ones included)."""
    return {sid: name for name, members in all_chunks(config, n_units).items() for sid in members}


def subset_report(config: Mapping[str, Any], n_units: int | None = None) -> dict[str, dict]:
    """Per family: candidates drawn, used, skipped for equalling a test subset (ids), candidates
    redrawn for equalling an earlier one of the family, and duplicates kept (kernel)."""
    return {family: {"candidates": d.candidates, "used": len(d.used),
                     "skipped_equal_to_test": [subset_id(family, i) for i in d.skipped],
                     "redrawn": d.redrawn, "duplicates_kept": d.duplicates}
            for family, d in subset_draws(config, n_units).items()}
