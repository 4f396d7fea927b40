"""List the subsets whose behaviour is missing after a `--keep-going` run with failed jobs, and
print the overlay that fits the datamodel on the rows that exist.

Usage (from the workflow's directory, with the same config files as the run):
    python -m diffattr.missing config/config.yaml [overlay.yaml ...] > exclude.yaml
    snakemake --configfile config/config.yaml [overlay.yaml ...] exclude.yaml
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from .core.families import FAMILIES
from .workflow.addressing import build_plan
from .workflow.draws import SubsetPlan
from .workflow.layout import Layout


def merge(base: dict, over: Mapping[str, Any]) -> dict:
    """Nested update, as Snakemake merges several --configfile files."""
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = value
    return base


def load_configs(paths: Sequence[str]) -> dict:
    config: dict = {}
    for path in paths:
        with open(path) as fh:
            merge(config, yaml.safe_load(fh) or {})
    return config


def missing_subsets(config: Mapping[str, Any], root: str | Path = ".") -> list[str]:
    """Used subset ids of every family (unlearned and retrained) whose behaviour JSON is not in the
    store (a candidate skipped for equalling a test subset is never needed). A retrained model lost
    with its retraining batch (one job trains retrain.models_per_job of them) is named only if its
    own training failed, the one the batch's log shows last started; one whose evaluation batch
    never ran because another member's retraining failed is not named either: excluding the failed
    one names new batches, which train and evaluate the others."""
    subsets = SubsetPlan(config)
    batches, batch_of = subsets.eval_batches["retrain"], subsets.eval_batch_of["retrain"]
    trained_in = subsets.retrain_batch_of["retrain"]
    layout = Layout(
        build_plan(config).hashes,
        subsets.chunk_of,
        batch_of={"behaviour_retrain": batch_of, "retrain": trained_in},
    )

    def exists(stage: str, name: str, sid: str) -> bool:
        return (Path(root) / layout.path(stage, name, subset=sid)).exists()

    def failed(sid: str) -> bool:
        """Model `sid`'s retraining failed: its batch is not stored and, where its log tells, it is the
        member whose training started last."""
        if exists("retrain", "model", sid):
            return False
        log = Path(root) / layout.log("retrain", "batch").format(batch=trained_in[sid])
        members = subsets.retrain_batches["retrain"][trained_in[sid]]
        return last_started(log, members) in (sid, None)

    def lacks(model: str, sid: str) -> bool:
        if model == "unlearn":
            return not exists("behaviour_unlearn", "behaviour", sid)
        if sid not in batch_of:  # excluded: in no batch of this config
            return True
        if exists("behaviour_retrain", "behaviour", sid):
            return False
        if not exists("retrain", "model", sid):
            return failed(sid)
        return all(exists("retrain", "model", m) for m in batches[batch_of[sid]])

    out = []
    for family in subsets.draws:  # in family order: train, test, then the other estimators' families
        out += [s for s in subsets.used(family) if lacks(FAMILIES[family].model, s)]
    return out


def last_started(log: Path, members: Sequence[str]) -> str | None:
    """The member of a retraining batch whose training its log shows starting last (the batch trains
    its members one after another, so a failed batch failed on it), or None without a log."""
    if not log.is_file():
        return None
    text = log.read_text(errors="replace")
    started = {sid: text.rfind(f"retrain {sid}: ") for sid in members}
    sid, at = max(started.items(), key=lambda item: item[1])
    return sid if at >= 0 else None


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m diffattr.missing",
        description="List the subsets whose behaviour is missing after a --keep-going run with failed jobs "
        "(on stderr) and print the overlay that excludes them (on stdout). Run it from the workflow's "
        "directory with the run's config files.",
        epilog="e.g. python -m diffattr.missing config/config.yaml over.yaml > exclude.yaml; then "
        "snakemake --configfile config/config.yaml over.yaml exclude.yaml",
    )
    parser.add_argument("configs", nargs="+", metavar="CONFIG", help="the run's config files, in --configfile order")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    absent = [p for p in args.configs if not Path(p).is_file()]
    if absent:
        parser.error(f"no such config file: {', '.join(absent)}")
    config = load_configs(args.configs)
    try:
        missing = missing_subsets(config)
    except ValueError as exc:  # a bad config: its one-line message, as snakemake gives it
        parser.exit(1, f"{exc}\n")
    already = list(config["subsets"].get("exclude", []))
    lack = "subset lacks" if len(missing) == 1 else "subsets lack"
    print(f"# {len(missing)} {lack} a behaviour: {', '.join(missing) or 'none'}", file=sys.stderr)
    overlay = {"subsets": {"exclude": sorted(set(already) | set(missing))}}
    print(yaml.safe_dump(overlay, default_flow_style=None), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
