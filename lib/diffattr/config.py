"""Config validation with one-line errors that name the offending key."""

from __future__ import annotations

import os
from typing import Any, Mapping

from .draws import SubsetPlan


class ConfigError(ValueError):
    pass


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def validate_config(config: Mapping[str, Any], schema_path: str | os.PathLike) -> SubsetPlan:
    """Raise ConfigError with one line naming the key and the fix: the schema first, then the rules
    across keys (the subsets are drawn here, at start-up, so an impossible count stops before any
    job). Returns the drawn subsets."""
    import jsonschema
    import yaml

    with open(schema_path) as fh:
        schema = yaml.safe_load(fh)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.path), list(map(str, e.path))))
    if errors:
        err = jsonschema.exceptions.best_match(errors)
        key = _key(err.path)
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            key = _key(list(err.path) + extra[:1])
            raise ConfigError(f"config key {key}: unknown key; remove it or fix its spelling (see config/config.yaml)")
        hint = ""
        if isinstance(err.instance, str) and err.validator in ("type", "minimum", "exclusiveMinimum"):
            hint = " (--config passes nested values as strings: put them in an overlay --configfile)"
        raise ConfigError(f"config key {key}: {err.message}{hint}")
    for section, recipe in (("train_base", config["train_base"]), ("prune.finetune", config["prune"]["finetune"])):
        if "init" in recipe:
            raise ConfigError(f"config key {section}.init: only unlearn has a start point (unlearn.init); remove it")
    _check_data(config)
    try:
        subsets = SubsetPlan(config)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    _check_exclusions(config, subsets)
    if config["behaviour"]["target"] not in config["behaviour"]["metrics"]:
        raise ConfigError(
            f"config key behaviour.target: must be one of behaviour.metrics {config['behaviour']['metrics']}"
        )
    _check_baseline(config, subsets)
    if config["datamodel"]["primary"] not in config["datamodel"]["estimators"]:
        raise ConfigError(
            f"config key datamodel.primary: must be one of datamodel.estimators {config['datamodel']['estimators']}"
        )
    from .baselines.checks import check_config as check_baselines

    check_baselines(config)
    return subsets


def _check_data(config: Mapping[str, Any]) -> None:
    from pathlib import Path

    data = config["data"]
    if data["kind"] in ("cifar10", "imagefolder") and not Path(data.get("path") or "").is_dir():
        what = (
            "CIFAR-10's python batches (data_batch_1..5, batches.meta)"
            if data["kind"] == "cifar10"
            else "one subfolder of images per class"
        )
        raise ConfigError(
            f"config key data.path: {data.get('path')!r} is not a directory; data.kind "
            f"{data['kind']} reads {what} from it"
        )


def _check_exclusions(config: Mapping[str, Any], subsets: SubsetPlan) -> None:
    known = {sid for family in subsets.draws for sid in subsets.used(family)}
    unknown = [s for s in subsets.exclude if s not in known]
    if unknown:
        last = {family: subsets.used(family)[-1] for family in ("train", "test")}
        raise ConfigError(
            f"config key subsets.exclude: {unknown[0]!r} is not among the configured subsets "
            f"(train-0000..{last['train']}, test-0000..{last['test']} and the estimators' families, "
            "less the candidates skipped for equalling a test subset); remove it"
        )
    train, test = subsets.ids("train"), subsets.ids("test")
    need = config["datamodel"].get("min_models", 2)
    if len(train) < need:
        raise ConfigError(
            f"config key subsets.exclude: leaves {len(train)} unlearned models, fewer than "
            f"datamodel.min_models={need}; rerun the failed subsets or lower datamodel.min_models"
        )
    if len(test) < 3:
        raise ConfigError(f"config key subsets.exclude: leaves {len(test)} test models; the LDS needs at least 3")


def _check_baseline(config: Mapping[str, Any], subsets: SubsetPlan) -> None:
    n_train, n_models = config["subsets"]["n_train"], config["baseline"]["n_models"]
    if n_models > n_train:
        raise ConfigError(
            f"config key baseline.n_models: {n_models} exceeds subsets.n_train={n_train} (the baseline "
            "retrains the first training subsets); lower it or raise subsets.n_train"
        )
    if len(subsets.baseline) < 2:
        raise ConfigError("config key subsets.exclude: leaves fewer than 2 baseline models; raise baseline.n_models")
    if config["table1"]["n_pairs"] > len(subsets.baseline):
        raise ConfigError(
            f"config key table1.n_pairs: {config['table1']['n_pairs']} exceeds the "
            f"{len(subsets.baseline)} baseline models; lower it or raise baseline.n_models"
        )
    if config["table1"]["floor_seed"] == config["retrain"]["seed"]:
        raise ConfigError(
            "config key table1.floor_seed: must differ from retrain.seed, or the floor retrains the same model"
        )
    n = int(config["lds"].get("ceiling_models", 0))
    tests = len(subsets.ids("test"))
    if n and not 3 <= n <= tests:
        raise ConfigError(
            f"config key lds.ceiling_models: {n}; use 0 (no ceiling) or 3 to {tests} (the test subsets "
            "not excluded): a Spearman over fewer than 3 retrained pairs says nothing"
        )
