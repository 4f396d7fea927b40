"""Config validation with one-line errors that name the offending key."""

from __future__ import annotations

import os
from typing import Any, Mapping


class ConfigError(ValueError):
    pass


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def validate_config(config: Mapping[str, Any], schema_path: str | os.PathLike) -> None:
    """Raise ConfigError with one line naming the key and the fix; then check cross-key rules."""
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
    _check_subsets(config)
    _check_exclusions(config)
    if config["behaviour"]["target"] not in config["behaviour"]["metrics"]:
        raise ConfigError("config key behaviour.target: must be one of behaviour.metrics "
                          f"{config['behaviour']['metrics']}")
    _check_baseline(config)
    if config["datamodel"]["primary"] not in config["datamodel"]["estimators"]:
        raise ConfigError("config key datamodel.primary: must be one of datamodel.estimators "
                          f"{config['datamodel']['estimators']}")
    from .baselines.checks import check_config as check_baselines

    check_baselines(config)


def _check_data(config: Mapping[str, Any]) -> None:
    from pathlib import Path

    data = config["data"]
    if data["kind"] in ("cifar10", "imagefolder") and not Path(data.get("path") or "").is_dir():
        what = ("CIFAR-10's python batches (data_batch_1..5, batches.meta)" if data["kind"] == "cifar10"
                else "one subfolder of images per class")
        raise ConfigError(f"config key data.path: {data.get('path')!r} is not a directory; data.kind "
                          f"{data['kind']} reads {what} from it")


def _check_subsets(config: Mapping[str, Any]) -> None:
    """Every family's subsets can be drawn distinct and apart from the test subsets (drawn here, at
    start-up, so an impossible count stops before any job)."""
    from .plan import subset_draws

    try:
        subset_draws(config)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _check_exclusions(config: Mapping[str, Any]) -> None:
    from .plan import matrix_ids, subset_draws, used_ids

    draws = subset_draws(config)
    known = {sid for family in draws for sid in used_ids(config, family)}
    unknown = [s for s in config["subsets"].get("exclude", []) if s not in known]
    if unknown:
        last = {family: used_ids(config, family)[-1] for family in ("train", "test")}
        raise ConfigError(f"config key subsets.exclude: {unknown[0]!r} is not among the configured subsets "
                          f"(train-0000..{last['train']}, test-0000..{last['test']} and the estimators' families, "
                          "less the candidates skipped for equalling a test subset); remove it")
    train, test = matrix_ids(config)
    need = config["datamodel"].get("min_models", 2)
    if len(train) < need:
        raise ConfigError(f"config key subsets.exclude: leaves {len(train)} unlearned models, fewer than "
                          f"datamodel.min_models={need}; rerun the failed subsets or lower datamodel.min_models")
    if len(test) < 3:
        raise ConfigError(f"config key subsets.exclude: leaves {len(test)} test models; the LDS needs at least 3")


def _check_baseline(config: Mapping[str, Any]) -> None:
    from .plan import baseline_ids

    n_train, n_models = config["subsets"]["n_train"], config["baseline"]["n_models"]
    if n_models > n_train:
        raise ConfigError(f"config key baseline.n_models: {n_models} exceeds subsets.n_train={n_train} (the baseline "
                          "retrains the first training subsets); lower it or raise subsets.n_train")
    if len(baseline_ids(config)) < 2:
        raise ConfigError("config key subsets.exclude: leaves fewer than 2 baseline models; raise baseline.n_models")
    if config["table1"]["n_pairs"] > len(baseline_ids(config)):
        raise ConfigError(f"config key table1.n_pairs: {config['table1']['n_pairs']} exceeds the "
                          f"{len(baseline_ids(config))} baseline models; lower it or raise baseline.n_models")
    if config["table1"]["floor_seed"] == config["retrain"]["seed"]:
        raise ConfigError("config key table1.floor_seed: must differ from retrain.seed, or the floor retrains the "
                          "same model")
    _check_ceiling(config)


def _check_ceiling(config: Mapping[str, Any]) -> None:
    from .plan import matrix_ids

    n = int(config["lds"].get("ceiling_models", 0))
    tests = len(matrix_ids(config)[1])
    if n and not 3 <= n <= tests:
        raise ConfigError(f"config key lds.ceiling_models: {n}; use 0 (no ceiling) or 3 to {tests} (the test subsets "
                          "not excluded): a Spearman over fewer than 3 retrained pairs says nothing")
