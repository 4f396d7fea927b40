"""Config validation: every problem at once, one line each naming the key and the fix."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .draws import SubsetPlan


class ConfigError(ValueError):
    """All the problems of a config, one line each (`problems`), joined by newlines."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


# What classifier_gate.ClassifierGate reads.
GATE_KEYS = ("classifier", "behaviour.features", "behaviour.metrics")


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


class Problems:
    """The lines found so far, and the keys they are about. A check is skipped when a key it reads
    already has a problem (or lies inside or around one): its line would only restate the first, or
    it would trip over a value of the wrong type."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.bad: set[str] = set()

    def add(self, key: str, text: str, mark: bool = True) -> None:
        line = f"config key {key}: {text}"
        if line not in self.lines:
            self.lines.append(line)
        if mark:
            self.bad.add(key)

    def add_raised(self, key: str, exc: ValueError) -> None:
        """A deeper check's ValueError under `key`, or under the key its message starts with
        ('config key X: ...', 'X: ...' or 'X=value ...' for a dotted X)."""
        import re

        text = str(exc).removeprefix("config key ")
        named = re.match(r"([a-z_]+(?:\.\w+)+)(: |=)", text)
        if named:
            self.add(named[1], text[named.end() :] if named[2] == ": " else text)
        else:
            self.add(key, text)
        self.bad.add(key)

    def ok(self, *keys: str) -> bool:
        return not any(k == b or k.startswith(b + ".") or b.startswith(k + ".") for k in keys for b in self.bad)


def validate_config(config: Mapping[str, Any], schema_path: str | os.PathLike) -> SubsetPlan:
    """Raise ConfigError listing every problem, one line each naming the key and the fix: the schema's,
    the rules across keys, the local files the config names (data, CSV units, pretrained model,
    Inception weights), the model against the data's image size, and the domain classifier's held-out
    count. The subsets are drawn here, at start-up, so an impossible count stops before any job.
    Returns the drawn subsets."""
    found = Problems()
    _check_schema(config, schema_path, found)
    for section, keys in (("train_base", ("train_base",)), ("prune.finetune", ("prune.finetune",))):
        if found.ok(*keys) and "init" in _get(config, section):
            found.add(f"{section}.init", "only unlearn has a start point (unlearn.init); remove it")
    shape, n_images, class_names = _check_data(config, found)
    _check_files_and_model(config, found, shape, class_names)
    if found.ok("model", "prune.round_to") and config["prune"].get("round_to") is not None:
        from .config_checks import round_to_problems

        for key, text in round_to_problems(config["model"], config["prune"]["round_to"]):
            found.add(key, text)
    if n_images is not None and found.ok("attribution") and config["attribution"]["unit"] == "csv":
        from .config_checks import csv_problems

        for key, text in csv_problems(config["attribution"].get("csv", ""), n_images):
            found.add(key, text)
    if n_images is not None and found.ok(*GATE_KEYS):
        from ..core.classifier_gate import ClassifierGate

        gate = ClassifierGate.from_config(config)
        problem = gate.startup_problem(n_images) if gate else None
        if problem:
            found.add("classifier.holdout", problem)
    if (
        found.ok("behaviour.target", "behaviour.metrics")
        and config["behaviour"]["target"] not in config["behaviour"]["metrics"]
    ):
        found.add("behaviour.target", f"must be one of behaviour.metrics {config['behaviour']['metrics']}")
    if (
        found.ok("datamodel.primary", "datamodel.estimators")
        and config["datamodel"]["primary"] not in config["datamodel"]["estimators"]
    ):
        found.add("datamodel.primary", f"must be one of datamodel.estimators {config['datamodel']['estimators']}")
    _check_baseline_counts(config, found)
    if found.ok("slurm_limits", "resources"):
        from .config_checks import slurm_limit_problems

        for key, text in slurm_limit_problems(config["slurm_limits"], config["resources"]):
            found.add(key, text)
    if found.ok("baselines", "datamodel.estimators", "scheduler.num_train_timesteps"):
        from ..attribution.baselines.checks import config_problems as baseline_problems

        for key, text in baseline_problems(config):
            found.add(key, text)
    subsets = None
    # What SubsetPlan reads: the units (data, attribution), the counts, and the id lists' sizes.
    plan_keys = ("data", "attribution", "subsets", "datamodel.estimators", "lds", "unlearn.subsets_per_job")
    plan_keys += ("baseline.n_models", "table1.n_pairs", "retrain.models_per_job")
    if found.ok(*plan_keys):
        try:
            subsets = SubsetPlan(config)
        except ValueError as exc:
            found.add_raised("subsets", exc)
    if subsets is not None:
        if found.ok("datamodel.min_models"):
            _check_exclusions(config, subsets, found)
        _check_plan_counts(config, subsets, found)
    if found.lines:
        raise ConfigError(found.lines)
    return subsets


def _get(config: Mapping[str, Any], dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        node = node[part]
    return node


def _check_schema(config: Mapping[str, Any], schema_path: str | os.PathLike, found: Problems) -> None:
    import jsonschema
    import yaml

    with open(schema_path) as fh:
        schema = yaml.safe_load(fh)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.path)))
    for err in errors:
        err = jsonschema.exceptions.best_match([err])  # the deepest cause of an anyOf/oneOf
        if err.validator == "additionalProperties":
            # An unknown key breaks no other check: it is listed, not marked.
            for extra in sorted(set(err.instance) - set(err.schema.get("properties", {}))):
                key = _key(list(err.path) + [extra])
                head, _, rest = str(extra).partition(".")
                if rest and head in err.schema.get("properties", {}):
                    # `lds.ceiling_models: 4` in a YAML file is a key with a dot in it, not a nested one.
                    fix = f"a dotted key is not nested; write `{head}: {{{rest}: ...}}` in an overlay (--configfile)"
                else:
                    fix = "unknown key; remove it or fix its spelling (see config/config.yaml)"
                found.add(key, fix, mark=False)
            continue
        if err.validator == "required":
            missing = err.message.split("'")[1] if err.message.count("'") >= 2 else ""
            found.add(_key(list(err.path) + [missing]), "missing; add it (config/config.yaml has every key)")
            continue
        hint = ""
        if isinstance(err.instance, str) and err.validator in ("type", "minimum", "exclusiveMinimum"):
            hint = " (--config passes nested values as strings: put them in an overlay --configfile)"
        found.add(_key(err.path), f"{err.message}{hint}")


def _check_data(
    config: Mapping[str, Any], found: Problems
) -> tuple[tuple[int, int, int] | None, int | None, tuple[str, ...] | None]:
    """The data's folder, then what start-up needs of the data: (image shape, image count, class
    names), each None when the data cannot be read (its problem is listed)."""
    from pathlib import Path

    from ..core.data import class_names_of, image_shape, sample_count
    from ..core.settings import DataSource

    if not found.ok("data"):
        return None, None, None
    data = config["data"]
    if data["kind"] in ("cifar10", "imagefolder") and not Path(data.get("path") or "").is_dir():
        what = (
            "CIFAR-10's python batches (data_batch_1..5, batches.meta)"
            if data["kind"] == "cifar10"
            else "one subfolder of images per class"
        )
        found.add(
            "data.path", f"{data.get('path')!r} is not a directory; data.kind {data['kind']} reads {what} from it"
        )
        return None, None, None
    try:
        source = DataSource.from_config(data)
        shape, names = image_shape(source), class_names_of(source)
    except ValueError as exc:
        found.add_raised("data.path", exc)
        return None, None, None
    # Counting CIFAR-10's images reads its batches: only when something needs the count.
    if not _needs_count(config, found):
        return shape, None, names
    try:
        return shape, sample_count(source), names
    except ValueError as exc:
        found.add_raised("data.path", exc)
        return shape, None, names


def _needs_count(config: Mapping[str, Any], found: Problems) -> bool:
    """The CSV units, sample units and the classifier's held-out count need the number of images."""
    from ..core.classifier_gate import ClassifierGate

    units = found.ok("attribution") and config["attribution"]["unit"] in ("csv", "sample")
    return units or (found.ok(*GATE_KEYS) and ClassifierGate.from_config(config) is not None)


def _check_files_and_model(
    config: Mapping[str, Any],
    found: Problems,
    shape: tuple[int, int, int] | None,
    class_names: tuple[str, ...] | None,
) -> None:
    from .config_checks import base_model_problems, inception_problems, share_class_problems, unet_problems

    checks = []
    if shape is not None and found.ok("model"):
        key = "data.resolution" if config["data"]["kind"] == "imagefolder" else "model.block_out_channels"
        checks += unet_problems(config["model"], shape, key)
    if found.ok("base_model.path") and config["base_model"].get("path"):
        sched = config["scheduler"] if found.ok("scheduler") else None
        checks += base_model_problems(config["base_model"]["path"], shape, sched)
    behaviour = config.get("behaviour")
    if found.ok("behaviour.features", "behaviour.inception_weights") and behaviour.get("features") == "inception":
        checks += inception_problems(behaviour.get("inception_weights", ""))
    if (
        found.ok("behaviour.metrics", "behaviour.share_class")
        and class_names is not None
        and "class_share" in behaviour["metrics"]
    ):
        checks += share_class_problems(str(behaviour.get("share_class")), class_names)
    for key, text in checks:
        found.add(key, text)


def _check_exclusions(config: Mapping[str, Any], subsets: SubsetPlan, found: Problems) -> None:
    known = {sid for family in subsets.draws for sid in subsets.used(family)}
    unknown = [s for s in subsets.exclude if s not in known]
    if unknown:
        last = {family: subsets.used(family)[-1] for family in ("train", "test")}
        found.add(
            "subsets.exclude",
            f"{unknown[0]!r} is not among the configured subsets "
            f"(train-0000..{last['train']}, test-0000..{last['test']} and the estimators' families, "
            "less the candidates skipped for equalling a test subset); remove it",
        )
        return
    train, test = subsets.ids("train"), subsets.ids("test")
    need = config["datamodel"].get("min_models", 2)
    if len(train) < need:
        found.add(
            "subsets.exclude",
            f"leaves {len(train)} unlearned models, fewer than "
            f"datamodel.min_models={need}; rerun the failed subsets or lower datamodel.min_models",
        )
    if len(test) < 3:
        found.add("subsets.exclude", f"leaves {len(test)} test models; the LDS needs at least 3")


def _check_baseline_counts(config: Mapping[str, Any], found: Problems) -> None:
    """The baseline's rules that need no subsets drawn."""
    if found.ok("subsets.n_train", "baseline.n_models"):
        n_train, n_models = config["subsets"]["n_train"], config["baseline"]["n_models"]
        if n_models > n_train:
            found.add(
                "baseline.n_models",
                f"{n_models} exceeds subsets.n_train={n_train} (the baseline retrains the first training "
                "subsets); lower it or raise subsets.n_train",
            )
    if found.ok("table1.floor_seed", "retrain.seed") and config["table1"]["floor_seed"] == config["retrain"]["seed"]:
        found.add("table1.floor_seed", "must differ from retrain.seed, or the floor retrains the same model")


def _check_plan_counts(config: Mapping[str, Any], subsets: SubsetPlan, found: Problems) -> None:
    """The rules on counts of drawn subsets (after subsets.exclude)."""
    if found.ok("baseline.n_models") and len(subsets.baseline) < 2:
        found.add("subsets.exclude", "leaves fewer than 2 baseline models; raise baseline.n_models")
    if found.ok("baseline.n_models", "table1.n_pairs") and config["table1"]["n_pairs"] > len(subsets.baseline):
        found.add(
            "table1.n_pairs",
            f"{config['table1']['n_pairs']} exceeds the {len(subsets.baseline)} baseline models; lower it or "
            "raise baseline.n_models",
        )
    n = int(config["lds"].get("ceiling_models", 0))
    tests = len(subsets.ids("test"))
    if n and not 3 <= n <= tests:
        found.add(
            "lds.ceiling_models",
            f"{n}; use 0 (no ceiling) or 3 to {tests} (the test subsets not excluded): a Spearman over fewer "
            "than 3 retrained pairs says nothing",
        )
