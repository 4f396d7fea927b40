"""Where every artifact lives: the one owner of the store's layout.

A stage's artifacts are files in its folder results/store/<folder>/<hash>/ (the hash from
addressing.build_plan). `Layout.path(stage, name, **wildcards)` answers "where does stage S's file F live
for these wildcards"; the rules, the stage scripts, `missing` and the run view all ask it. A
wildcard left out stays a Snakemake pattern ({subset}); a subset's unlearning batch is looked up
when only the subset is given. Every model stage names its files alike: model/ (the checkpoint
folder models.save_model writes) and train.json (its training record) beside benchmark.tsv.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..core.atomic import write_json
from ..core.hashing import spec_hash
from ..core.registry import FILES, REGISTRY

RESULTS = "results"
STORE = f"{RESULTS}/store"
LOGS = f"{RESULTS}/logs"
RESUME = f"{RESULTS}/resume"
RUNS = f"{RESULTS}/runs"

# The folders several stages share (one per model stage) and the rule's hash wildcard that tells them
# apart; each stage's files are its row in registry.FILES.
SHARED = {"behaviour": "bhash", "samples": "shash"}

_WILDCARD = re.compile(r"\{(\w+)\}")


def folder(stage: str) -> str:
    """The store folder of a stage (behaviour_<kind> -> behaviour, samples_<model> -> samples) or of a
    shared folder."""
    return REGISTRY[stage].folder if stage in REGISTRY else stage


def _files(stage: str) -> dict[str, str]:
    return FILES[stage] if stage in FILES else FILES[folder(stage)]


def _fill(pattern: str, wildcards: Mapping[str, Any]) -> str:
    return _WILDCARD.sub(lambda m: str(wildcards[m[1]]) if m[1] in wildcards else m[0], pattern)


def stage_dir(stage: str, digest: str, store: str = STORE) -> str:
    return f"{store}/{folder(stage)}/{digest}"


def write_spec(spec: Mapping[str, Any], store: str = STORE) -> None:
    """Record beside a stage's artifacts exactly what was hashed into their folder's name (the folder
    follows from the spec itself, as addressing.build_plan hashed it)."""
    write_json(Path(stage_dir(spec["stage"], spec_hash(spec), store)) / "spec.json", dict(spec))


def in_batch(batch_dir: str | Path, stage: str, name: str, subset: str | None = None) -> Path:
    """A file inside one batch folder of `stage` (unlearn, retrain, behaviour_unlearn, ...): a subset's
    model, training record or behaviour, or the job's record."""
    rel = FILES[stage][name].removeprefix("{batch}/")
    return Path(batch_dir) / _fill(rel, {"subset": subset} if subset is not None else {})


def batch_members(batch_dir: str | Path, stage: str) -> list[str]:
    """The subsets of one batch folder of `stage` (unlearn, retrain, behaviour_unlearn, ...), from its job
    record."""
    from ..core.atomic import read_json

    return list(read_json(in_batch(batch_dir, stage, "job"))["subsets"])


def batch_files(
    batch_dirs: Sequence[str | Path], stage: str, name: str, subset_ids: Sequence[str] | None = None
) -> list[str]:
    """File `name` of each wanted subset (`subset_ids`; None: every member, in batch order) inside
    batch folders of `stage` (a batch may hold models the caller does not want: a subset excluded
    from the matrix, a ceiling model beside a seed)."""
    found = {}
    for d in batch_dirs:
        for sid in batch_members(d, stage):
            found[sid] = str(in_batch(d, stage, name, sid))
    if subset_ids is None:
        return list(found.values())
    missing = [s for s in subset_ids if s not in found]
    if missing:
        raise ValueError(f"no {name} of {missing[:5]} in {list(batch_dirs)[:2]}...; rerun the workflow")
    return [found[s] for s in subset_ids]


def batch_behaviours(batch_dirs: Sequence[str | Path], subset_ids: Sequence[str] | None = None) -> list[str]:
    """The behaviour JSON of each wanted model inside behaviour batch folders, of unlearned or of
    retrained models (batch_files)."""
    return batch_files(batch_dirs, "behaviour_unlearn", "behaviour", subset_ids)


def wanted_behaviours(
    inputs: Mapping[str, Any] | Iterable[tuple[str, Any]], ids: Mapping[str, Sequence[str]]
) -> dict[str, Any]:
    """A job's named inputs (a mapping or its items) with every key of `ids` that it has (batch folders) replaced by the
    behaviour files of that key's model ids inside them (batch_behaviours)."""
    out = dict(inputs)
    out |= {key: batch_behaviours(out[key], wanted) for key, wanted in ids.items() if key in out}
    return out


class Layout:
    """The artifact paths of one plan. `hashes`: stage -> hash (plan.Plan.hashes); `chunk_of`: subset
    id -> its chunk (draws.SubsetPlan.chunk_of), so a subset alone finds its unlearning batch;
    `batch_of`: stage -> model id -> batch where a stage batches otherwise (the retrained models'
    retraining and evaluation batches, draws.SubsetPlan.retrain_batch_of and eval_batch_of)."""

    def __init__(
        self,
        hashes: Mapping[str, str],
        chunk_of: Mapping[str, str] | None = None,
        store: str = STORE,
        logs: str = LOGS,
        resume: str = RESUME,
        batch_of: Mapping[str, Mapping[str, str]] | None = None,
    ):
        self.hashes, self.chunk_of = dict(hashes), dict(chunk_of or {})
        self.batch_of = {stage: dict(m) for stage, m in (batch_of or {}).items()}
        self.store, self.logs, self.resume_root = store, logs, resume

    def dir(self, stage: str) -> str:
        """A stage's folder; for a shared folder (behaviour, samples) the pattern with its hash wildcard."""
        if stage in SHARED:
            return f"{self.store}/{stage}/{{{SHARED[stage]}}}"
        return stage_dir(stage, self.hashes[stage], self.store)

    def dirs(self) -> dict[str, str]:
        return {stage: self.dir(stage) for stage in self.hashes}

    def path(self, stage: str, name: str, **wildcards: Any) -> str:
        pattern = _files(stage)[name]
        if "{batch}" in pattern and "batch" not in wildcards and "subset" in wildcards:
            wildcards["batch"] = self.batch_of.get(stage, self.chunk_of)[wildcards["subset"]]
        return f"{self.dir(stage)}/{_fill(pattern, wildcards)}"

    def _keyed(self, root: str, stage: str, wildcards: tuple[str, ...], suffix: str) -> str:
        digest = f"{{{SHARED[stage]}}}" if stage in SHARED else self.hashes[stage]
        key = "/".join(f"{{{w}}}" for w in wildcards)
        return f"{root}/{folder(stage)}/{digest}" + (f"/{key}" if key else "") + suffix

    def log(self, stage: str, *wildcards: str) -> str:
        """The log of one job of `stage`, keyed by the named wildcards."""
        return self._keyed(self.logs, stage, wildcards, ".log")

    def resume(self, stage: str, *wildcards: str) -> str:
        """Where a training job keeps its resumable state (train.checkpoint_every)."""
        return self._keyed(self.resume_root, stage, wildcards, ".pt")


# The run view's files (copies of final artifacts, and the manifest), and its folder of the report's
# figures: view name -> (stage, file) of the stored PNG; the sample grids (one per model kind) join
# them in rules/run_view.smk as samples_<kind>.png.
VIEW_FILES = (
    "attributions.csv",
    "lds.json",
    "estimators.csv",
    "budget.json",
    "table1.csv",
    "counterfactual.csv",
    "matrix.h5",
    "summary.html",
    "manifest.json",
)
VIEW_FIGURES_DIR = "figures"
VIEW_FIGURES = {
    "units_top.png": ("figures", "top"),
    "units_bottom.png": ("figures", "bottom"),
    "scatter.png": ("figures", "scatter"),
    "histogram.png": ("figures", "histogram"),
    "budget.png": ("budget", "figure"),
    "counterfactual.png": ("counterfactual", "figure"),
}


def run_dir(run_name: str) -> str:
    """The human view of a run: copies of its final artifacts and of the report's figures, and a manifest."""
    return f"{RUNS}/{run_name}"


def view_marker(run_name: str, hashes: Mapping[str, str], excluded: list[str]) -> str:
    """A marker whose name changes with the plan, so a stale view is rebuilt even where Snakemake lost
    its metadata (a fresh clone on a shared store)."""
    return f"{run_dir(run_name)}/.view-{spec_hash({'hashes': dict(hashes), 'excluded': list(excluded)})}"
