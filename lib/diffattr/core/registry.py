"""The one table of the workflow's stages: everything else that lists stages is derived from it.

A stage is one content-addressed artifact folder, results/store/<folder>/<hash>/. Its row says what
names it (version, hashed config keys, upstream stages: addressing.build_plan), what it holds (files:
layout.Layout), which rule builds it (rules/<rule>.smk, workflow/scripts/<rule>.py,
lib/diffattr/stages/<rule>.py; tests/test_registry.py checks the four agree) and in which conda env, whose
`resources.<key>` entry its jobs take on a cluster (None: a local rule), and what kind of model it is or
reads. Derived here: STAGES, COMPUTED_STAGES, BASELINE_STAGES, CLUSTER_RULES, MODEL_KINDS (behaviour
sources), SAMPLE_STAGE (report grids), FILES (layout); `downstream` gives a stage's dependants.

Adding a stage: a row below (order matters: upstream stages first), rules/<name>.smk included in the
Snakefile, workflow/scripts/<name>.py and lib/diffattr/stages/<name>.py (docs/architecture.md).
Imports nothing from diffattr: the ground floor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

TORCH, ANALYSIS = "envs/torch.yaml", "envs/analysis.yaml"


@dataclass(frozen=True)
class Stage:
    """One stage. `version`: bump it when the stage's code changes what it writes or how its folder is
    laid out, so old artifacts are not reused. `rule`/`resources` default to the stage's name;
    `folder`: the store folder several stages share (behaviour, samples). `computed`: it trains or
    samples, so compute.precision/tf32 are hashed into it. `draws`: it draws images with DDIM, so
    compute.sampling_precision is hashed into it too. `model_job`: its script starts a model job
    (compute.start_model_job: torch imported, a device chosen). `baseline`: planned only when
    datamodel.estimators lists a cheap baseline. `model_kind`: a model stage's short name (the
    behaviour stage evaluating it is behaviour_<kind>; baselines.model and behaviour's `source` use it);
    `model`: the model stage a behaviour or samples stage reads; `grid`: a sample grid's name (its
    file <grid>.png and the samples rule's {kind} wildcard)."""

    name: str
    version: str
    hashed_keys: tuple[str, ...]
    upstream: tuple[str, ...]
    files: Mapping[str, str]
    env: str
    rule: str = ""
    resources: str | None = ""
    folder: str = ""
    computed: bool = False
    draws: bool = False
    model_job: bool = False
    baseline: bool = False
    model_kind: str | None = None
    model: str | None = None
    grid: str | None = None

    def __post_init__(self) -> None:
        for name in ("rule", "resources", "folder"):
            if getattr(self, name) == "":
                object.__setattr__(self, name, self.name)


MODEL = {"model": "model", "train": "train.json", "benchmark": "benchmark.tsv"}
# Inside one batch folder of models (unlearned, retrained): one entry per subset, and the job's record.
_MODEL_BATCH = {"model": "{subset}/model", "train": "{subset}/train.json", "job": "job.json"}
_BEHAVIOUR_BATCH = {"behaviour": "{subset}.json", "job": "job.json"}
BEHAVIOUR = {"behaviour": "{subset}.json", "benchmark": "benchmarks/{subset}.tsv"}
SAMPLES = {"grid": "{kind}.png", "benchmark": "benchmarks/{kind}.tsv"}


def _batch(files: Mapping[str, str]) -> dict[str, str]:
    return {
        "batch": "{batch}",
        **{name: "{batch}/" + rel for name, rel in files.items()},
        "benchmark": "benchmarks/{batch}.tsv",
    }


def _retraining(name: str, keys: tuple[str, ...]) -> Stage:
    """Models trained from scratch, one per subset, with the base recipe (keys name its seed), a batch of
    retrain.models_per_job per job (draws.SubsetPlan.retrain_batches) as unlearning batches are."""
    return Stage(
        name,
        "1",
        keys,
        ("data", "subsets"),
        files=_batch(_MODEL_BATCH),
        env=TORCH,
        model_job=True,
        computed=True,
        model_kind=name,
    )


# Model kinds evaluated in batches: unlearned models per unlearning batch (rule behaviour_unlearn),
# retrained ones per evaluation batch (rule behaviour_retrained, draws.evaluation_batches).
BATCH_RULE = {
    "unlearn": "behaviour_unlearn",
    "retrain": "behaviour_retrained",
    "retrain_floor": "behaviour_retrained",
    "retrain_cf": "behaviour_retrained",
}


def _behaviour(kind: str, model: str, version: str = "2") -> Stage:
    """The behaviour of model stage `model`, in the one folder they share, the {bhash} wildcard
    saying which: one model per job for the base, pruned and untrained models (rule behaviour), a
    batch per job for the others (BATCH_RULE)."""
    batched = kind in BATCH_RULE
    return Stage(
        f"behaviour_{kind}",
        version,
        ("behaviour",),
        ("reference", model),
        files=_batch(_BEHAVIOUR_BATCH) if batched else BEHAVIOUR,
        env=TORCH,
        rule=BATCH_RULE.get(kind, "behaviour"),
        resources="behaviour",
        folder="behaviour",
        computed=True,
        draws=True,
        model_job=True,
        model=model,
    )


def _samples(model: str, grid: str) -> Stage:
    """One sample grid per model kind, each named by its own model, so a change to unlearning redraws
    only the unlearned model's grid."""
    keys = ("report.n_images", "behaviour.seed", "behaviour.ddim_steps", "behaviour.eta")
    return Stage(
        f"samples_{model}",
        "2",
        keys,
        (model,),
        files=SAMPLES,
        env=TORCH,
        rule="samples",
        resources="samples",
        folder="samples",
        computed=True,
        draws=True,
        model_job=True,
        model=model,
        grid=grid,
    )


_RETRAIN_KEYS = ("model", "scheduler", "train_base", "retrain")

# Versions' history: prune 3: also keeps the raw weights; prune 4, unlearn 3: every model stage writes
# model/ and train.json; unlearn 2: starts from the raw weights by default; behaviour 2, pairs 2,
# samples 2: image j's initial noise depends only on (seed, j), no longer on the batch size. The
# retrain stages keep version 1 although their models moved into batch folders ({batch}/{subset}/
# model, was {subset}/model): the models are the same computation, and no old path can be read as
# a new one.
_ROWS: tuple[Stage, ...] = (
    Stage(
        "data",
        "1",
        ("data",),
        (),
        files={"data": "data.npz", "info": "data.json", "benchmark": "benchmark.tsv"},
        env=TORCH,
    ),
    Stage(
        "classifier",
        "1",
        ("classifier",),
        ("data",),
        files={"weights": "classifier.pt", "info": "classifier.json", "benchmark": "benchmark.tsv"},
        env=TORCH,
        model_job=True,
    ),
    Stage(
        "reference",
        "2",
        ("behaviour.feature_batch",),
        ("data", "classifier"),
        files={"stats": "stats.npz", "benchmark": "benchmark.tsv"},
        env=TORCH,
        model_job=True,
    ),
    Stage(
        "train_base",
        "1",
        ("model", "scheduler", "train_base"),
        ("data",),
        files=MODEL,
        env=TORCH,
        model_job=True,
        computed=True,
        model_kind="base",
    ),
    Stage(
        "prune",
        "4",
        ("prune",),
        ("train_base",),
        files={**MODEL, "raw": "raw"},
        env=TORCH,
        model_job=True,
        computed=True,
        model_kind="prune",
    ),
    # 2: a subset repeating an earlier one of its family is redrawn (and records its redraws).
    Stage(
        "subsets",
        "2",
        ("attribution", "subsets.alpha", "subsets.seed"),
        ("data",),
        files={"chunk": "{chunk}.json"},
        env=ANALYSIS,
        resources=None,
    ),
    Stage(
        "unlearn",
        "3",
        ("unlearn",),
        ("prune", "subsets"),
        files=_batch(_MODEL_BATCH),
        env=TORCH,
        model_job=True,
        computed=True,
        model_kind="unlearn",
    ),
    _retraining("retrain", _RETRAIN_KEYS),
    _behaviour("base", "train_base"),
    _behaviour("prune", "prune"),
    _behaviour("unlearn", "unlearn"),
    _behaviour("retrain", "retrain"),
    # The untrained model: v(empty) for the constrained KernelSHAP fit.
    Stage(
        "init",
        "1",
        ("model", "train_base.seed"),
        ("data",),
        files=MODEL,
        env=TORCH,
        model_job=True,
        model_kind="init",
    ),
    _behaviour("init", "init"),
    # A retraining with seeds from table1.floor_seed: Table 1's floor (pair subsets), the LDS ceiling's
    # second retraining and the test subsets' seeds 2..lds.test_seeds (ids families.seed_id).
    _retraining("retrain_floor", ("model", "scheduler", "train_base", "table1.floor_seed")),
    # Their behaviours: the LDS ceiling and the seed-averaged LDS target (lds, estimators, budget).
    _behaviour("retrain_floor", "retrain_floor"),
    # The cheap baselines (TRAK, D-TRAK, pixel/feature similarity; lib/diffattr/attribution/baselines), planned only
    # when datamodel.estimators lists one: the attributed model's (baselines.model, an extra upstream:
    # addressing.extra_upstream) generated images, then each method's scores: per method its support
    # per unit (scores.json) and per training image (per_image.npy).
    Stage(
        "baseline_images",
        "1",
        (
            "behaviour.n_samples",
            "behaviour.ddim_steps",
            "behaviour.seed",
            "behaviour.eta",
            "compute.precision",
            "compute.tf32",
        ),
        (),
        files={"images": "images.npz", "info": "images.json", "benchmark": "benchmark.tsv"},
        env=TORCH,
        model_job=True,
        draws=True,
        baseline=True,
    ),
    Stage(
        "baselines",
        "1",
        ("baselines", "attribution"),
        ("data", "classifier", "reference", "baseline_images"),
        files={
            "scores": "{method}/scores.json",
            "per_image": "{method}/per_image.npy",
            "benchmark": "benchmarks/{method}.tsv",
        },
        env=TORCH,
        model_job=True,
        baseline=True,
    ),
    # 3: used subsets only (none equal to a test subset); the attribute `subsets` reports the draws.
    # 4: uniform and kernel draws equal to a test subset are kept (reported as kept_equal_to_test).
    Stage(
        "matrix",
        "4",
        (
            "subsets.n_train",
            "subsets.n_test",
            "subsets.exclude",
            "subsets.n_uniform",
            "subsets.n_kernel",
            "datamodel.estimators",
            "lds.extra_alphas",
        ),
        ("behaviour_unlearn", "behaviour_retrain", "behaviour_init", "subsets"),
        files={"matrix": "matrix.h5"},
        env=ANALYSIS,
    ),
    # 3: the CV's no-signal rule, relative scores and the sign_identified flag. 4: the CV scores each fold
    # on its own; lasso's grid from the data; a fit whose scores are all tied ranks nothing.
    Stage(
        "datamodel",
        "4",
        ("datamodel", "behaviour.target"),
        ("matrix",),
        files={
            "attributions": "attributions.csv",
            "info": "datamodel.json",
            "matrix": "matrix.h5",
            "benchmark": "benchmark.tsv",
        },
        env=ANALYSIS,
    ),
    # 4: the subsets' draws reported; the proxy fidelity on the baseline subsets (their retrained models'
    # behaviours) and the ceiling's place. 5: the ceiling's noise sd, spread and noise share.
    Stage(
        "lds",
        "5",
        ("lds", "baseline"),
        ("datamodel", "behaviour_retrain", "behaviour_retrain_floor"),
        files={"lds": "lds.json"},
        env=ANALYSIS,
    ),
    # 3: gaps to the primary estimator, not to the best on the test models. 4: the ceiling's noise sd.
    # 5: Holm-adjusted p-values of the gaps (better/worse only where they allow it); no LDS without a ranking.
    Stage(
        "estimators",
        "5",
        ("datamodel", "lds"),
        ("matrix", "behaviour_retrain_floor"),
        files={
            "table": "estimators.csv",
            "html": "estimators.html",
            "info": "estimators.json",
            "benchmark": "benchmark.tsv",
        },
        env=ANALYSIS,
    ),
    # Counterfactual check: the removal sets follow the attributions; their retrainings are named by
    # the removed units, so estimators that agree share one retraining.
    Stage("cf_plan", "1", ("counterfactual",), ("datamodel", "subsets"), files={"plan": "plan.json"}, env=ANALYSIS),
    # One removal's record from the plan, named by the data and units alone (the removal's id names its
    # units): retrain_cf reads it, so a new plan that removes the same units retrains nothing.
    Stage(
        "cf_removal",
        "1",
        (),
        ("data", "subsets"),
        files={"removal": "{subset}.json"},
        env=ANALYSIS,
        resources=None,
    ),
    _retraining("retrain_cf", _RETRAIN_KEYS),
    _behaviour("retrain_cf", "retrain_cf"),
    Stage(
        "counterfactual",
        "1",
        (),
        ("cf_plan", "behaviour_retrain_cf", "behaviour_base"),
        files={"table": "counterfactual.csv", "figure": "counterfactual.png", "info": "counterfactual.json"},
        env=ANALYSIS,
    ),
    Stage(
        "pairs",
        "2",
        ("behaviour",),
        ("classifier", "unlearn", "retrain", "retrain_floor"),
        files={"pair": "{subset}.json", "benchmark": "benchmarks/{subset}.tsv"},
        env=TORCH,
        model_job=True,
        computed=True,
        draws=True,
    ),
    # 2: the paired gap at every budget. 3: an unlearning batch's cost charged to the models the matrix
    # holds (not to every candidate it trains).
    Stage(
        "budget",
        "3",
        (
            "baseline",
            "budget",
            "datamodel",
            "lds.n_bootstrap",
            "lds.ci_level",
            "lds.seed",
            "lds.test_seeds",  # hashed only above 1 (addressing.HASHED_UNLESS_DEFAULT)
            "behaviour.target",
        ),
        # With lds.test_seeds above 1 also behaviour_retrain_floor (addressing.extra_upstream).
        ("matrix", "behaviour_retrain", "behaviour_unlearn", "train_base", "prune"),
        files={"budget": "budget.json", "figure": "budget.png", "benchmark": "benchmark.tsv"},
        env=ANALYSIS,
    ),
    Stage(
        "table1",
        "1",
        ("table1", "baseline"),
        ("behaviour_base", "behaviour_prune", "behaviour_retrain", "matrix", "pairs"),
        files={"csv": "table1.csv", "html": "table1.html", "benchmark": "benchmark.tsv"},
        env=ANALYSIS,
    ),
    # The grid names "pruned", "unlearned", "retrained" name files in the store and the run view.
    _samples("train_base", "base"),
    _samples("prune", "pruned"),
    _samples("unlearn", "unlearned"),
    _samples("retrain", "retrained"),
    # 3: unit grids by rank when the primary fit does not identify the level.
    Stage(
        "figures",
        "3",
        ("report.top_k",),
        ("lds", "datamodel", "data", "subsets"),
        files={
            "scatter": "scatter.png",
            "histogram": "histogram.png",
            "top": "units_top.png",
            "bottom": "units_bottom.png",
            "benchmark": "benchmark.tsv",
        },
        env=ANALYSIS,
    ),
    # 2: the paired gap, the ceiling and the proxy fidelity. 3: the ceiling's noise against the spread.
    Stage(
        "summary", "3", (), ("lds", "budget", "table1"), files={"html": "summary.html"}, env=ANALYSIS, resources=None
    ),
)

REGISTRY: dict[str, Stage] = {stage.name: stage for stage in _ROWS}
# Rules of rules/ that build no stage's artifacts, with their conda env: the human view of a run
# (layout.run_dir). The Snakefile's `all` is the default target.
OTHER_RULES = {"run_view": ANALYSIS}

# stage: (version, config keys, upstream stages), for addressing.build_plan.
STAGES: dict[str, tuple[str, list[str], list[str]]] = {
    s.name: (s.version, list(s.hashed_keys), list(s.upstream)) for s in _ROWS
}
COMPUTED_STAGES = {s.name for s in _ROWS if s.computed}
DRAWING_STAGES = {s.name for s in _ROWS if s.draws}
# Rules whose jobs start a model job (torch, a device): the heavy start-up.
MODEL_JOB_RULES = {s.rule for s in _ROWS if s.model_job}
BASELINE_STAGES = tuple(s.name for s in _ROWS if s.baseline)
# Rules sent to the cluster; each takes resources.<rule> over resources.default (behaviour_unlearn and
# behaviour_retrained take the behaviour rule's).
CLUSTER_RULES = list(dict.fromkeys(s.resources for s in _ROWS if s.resources))
# cluster rule -> the resources.<key> entry it takes.
RESOURCES_KEY = {s.rule: s.resources for s in _ROWS if s.resources}
# model kind -> model stage (behaviour_<kind> evaluates it; baselines.model names one).
MODEL_KINDS = {s.model_kind: s.name for s in _ROWS if s.model_kind}
# sample grid name -> its samples stage.
SAMPLE_STAGE = {s.grid: s.name for s in _ROWS if s.grid}
# store folder -> file name -> path inside the folder; a shared folder's stages (behaviour, samples)
# have one entry each besides the folder's.
FILES: dict[str, dict[str, str]] = {
    **{s.name: dict(s.files) for s in _ROWS},
    # rule behaviour_retrained's output and benchmark, under its {bhash}
    "behaviour": {**BEHAVIOUR, "batch": "{batch}", "batch_benchmark": "benchmarks/{batch}.tsv"},
    "samples": dict(SAMPLES),
}
SHARED_FOLDERS = {s.folder for s in _ROWS if s.folder != s.name}


def downstream(stages: set[str] | str) -> set[str]:
    """`stages` and every stage whose hash includes one of theirs (static upstream only: the extra
    inputs of addressing.extra_upstream are not followed)."""
    out = {stages} if isinstance(stages, str) else set(stages)
    for s in _ROWS:
        if out & set(s.upstream):
            out.add(s.name)
    return out
