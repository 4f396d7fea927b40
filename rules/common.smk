# Parse-time set-up shared by every rule: the library on the path, config checks with one-line
# errors, and the content-addressed plan (stage hashes -> store paths). Script jobs find the same
# library through workflow/scripts/_libpath.py.
import os
import sys
from pathlib import Path

LIBDIR = str(Path(workflow.basedir) / "lib")
if LIBDIR not in sys.path:
    sys.path.insert(0, LIBDIR)

from diffattr.atomic import read_json
from diffattr.hashing import spec_hash
from diffattr.config import ConfigError, validate_config
from diffattr.estimators import LEVEL_BY_DESIGN
from diffattr.plan import (
    UNLEARN_FAMILIES,
    all_chunks,
    baseline_ids,
    build_plan,
    ceiling_ids,
    chunk_of,
    family_ids,
    matrix_ids,
    pair_ids,
    subset_report,
    test_ids,
    train_batches,
    train_ids,
    unit_count,
)
from diffattr.pipeline import inception_path
from diffattr.resources import env_resources, rule_resources

try:
    validate_config(config, Path(workflow.basedir) / "config" / "schema.yaml")
except ConfigError as exc:
    raise WorkflowError(str(exc)) from None

try:
    PLAN = build_plan(config)
    # The subsets are drawn at start-up (cheap: permutations of N): which candidate ids exist,
    # which equal a test subset and are skipped, and so the chunks and every id list below.
    N_UNITS = unit_count(config)
    TRAIN_IDS = train_ids(config, N_UNITS)
except ValueError as exc:
    raise WorkflowError(str(exc)) from None
D = {stage: PLAN.dir(stage) for stage in PLAN.hashes}
TEST_IDS = test_ids(config, N_UNITS)
MATRIX_TRAIN_IDS, MATRIX_TEST_IDS = matrix_ids(config, N_UNITS)
# The datamodel's unlearning batches: train chunks holding a used subset.
BATCHES = train_batches(config, N_UNITS)
BASELINE_IDS = baseline_ids(config, N_UNITS)
PAIR_IDS = pair_ids(config, N_UNITS)
# Test subsets retrained a second time (another seed): the LDS ceiling.
CEILING_IDS = ceiling_ids(config, N_UNITS)
ALL_CHUNKS = all_chunks(config, N_UNITS)
CHUNK_OF = chunk_of(config, N_UNITS)
# Per family: candidates, skips for equalling a test subset, redraws (the matrix, lds.json, manifest).
SUBSET_REPORT = subset_report(config, N_UNITS)
# Every unlearning batch: the datamodel's train family and the other estimators' families.
UNLEARN_BATCHES = {
    name: members
    for name, members in ALL_CHUNKS.items()
    if name.split("-")[0] in UNLEARN_FAMILIES
}
# Used subsets per family entering the matrix (all but subsets.exclude).
FAMILY_IDS = {
    family: family_ids(config, family, N_UNITS)
    for family in {name.split("-")[0] for name in ALL_CHUNKS}
}
UNLEARN_IDS = [sid for family in UNLEARN_FAMILIES for sid in FAMILY_IDS.get(family, [])]
RETRAIN_TEST_IDS = [
    sid for family in ("test", "test25", "test75") for sid in FAMILY_IDS.get(family, [])
]
WITH_INIT = "shapley" in config["datamodel"]["estimators"]
RUN_DIR = f"results/runs/{config['run_name']}"
# The run view's outputs keep their names across configs; this marker's name changes with the plan,
# so a stale view is rebuilt even where Snakemake lost its metadata (a fresh clone on a shared store).
VIEW_MARKER = f"{RUN_DIR}/.view-{spec_hash({'hashes': PLAN.hashes, 'excluded': config['subsets']['exclude']})}"
LOGS = "results/logs"
# Rules sent to the cluster; each takes resources.<rule> over resources.default.
CLUSTER_RULES = [
    "data",
    "classifier",
    "reference",
    "train_base",
    "prune",
    "unlearn",
    "retrain",
    "retrain_floor",
    "behaviour",
    "pair_fid",
    "budget",
    "table1",
    "samples",
    "figures",
    "matrix",
    "datamodel",
    "lds",
    "init_model",
    "estimators",
    "cf_plan",
    "retrain_cf",
    "counterfactual",
]
try:
    THREADS_OF, RESOURCES_OF = rule_resources(
        config["resources"], CLUSTER_RULES, env_resources(os.environ)
    )
except ValueError as exc:
    raise WorkflowError(str(exc)) from None
GROUPS = config.get("groups", {})
RESUME = "results/resume"

# Behaviour artifacts are keyed by the hash of (behaviour config, reference, model stage).
BEHAVIOUR_SOURCE = {
    PLAN.hashes[f"behaviour_{src}"]: src
    for src in (
        "base",
        "prune",
        "unlearn",
        "retrain",
        "init",
        "retrain_cf",
        "retrain_floor",
    )
}


def spec(stage):
    return PLAN.specs[stage]


def hashed(stage, section):
    """A config section as hashed into `stage`'s path: runtime keys (logging, checkpointing,
    batching) are left out so that changing them does not trip the params rerun trigger.
    """
    return PLAN.specs[stage]["config"].get(section)


def unit_inputs(wildcards):
    """What defines the attribution units: the data, plus the reference features for k-means
    clusters (a CSV's content is hashed into the stage instead)."""
    inputs = {"data": f"{D['data']}/data.npz"}
    if config["attribution"]["unit"] == "kmeans":
        inputs["reference"] = f"{D['reference']}/stats.npz"
    return inputs


def chunk_json(sid):
    """The subsets file holding subset `sid` (one file per chunk of unlearn.subsets_per_job)."""
    return f"{D['subsets']}/{CHUNK_OF[sid]}.json"


def model_inputs(wildcards):
    """The checkpoint and training record that behaviour {bhash}/{subset} evaluates (unlearned
    models are evaluated per batch by rule behaviour_batch)."""
    src = BEHAVIOUR_SOURCE[wildcards.bhash]
    sid = wildcards.subset
    if src == "base":
        return {
            "model": f"{D['train_base']}/model",
            "train": f"{D['train_base']}/train.json",
        }
    if src == "prune":
        return {"model": f"{D['prune']}/model.pt", "train": f"{D['prune']}/prune.json"}
    if src == "init":
        return {"model": f"{D['init']}/model", "train": f"{D['init']}/train.json"}
    stage = src if src in ("retrain_cf", "retrain_floor") else "retrain"
    return {
        "model": f"{D[stage]}/{sid}/model",
        "train": f"{D[stage]}/{sid}/train.json",
    }


def ceiling_inputs(wildcards):
    """The second retrainings' behaviours of the ceiling's test subsets (none when lds.ceiling_models
    is 0); the first retrainings' are in the matrix."""
    if not CEILING_IDS:
        return {}
    return {
        "ceiling": [
            behaviour_json("behaviour_retrain_floor", sid) for sid in CEILING_IDS
        ]
    }


def behaviour_json(stage, sid):
    if stage == "behaviour_unlearn":
        return f"{D[stage]}/{CHUNK_OF[sid]}/{sid}.json"
    return f"{D[stage]}/{sid}.json"


# Report sample grids: kind -> the stage that names it (its own model's hash).
SAMPLE_STAGE = {
    "base": "samples_train_base",
    "pruned": "samples_prune",
    "unlearned": "samples_unlearn",
    "retrained": "samples_retrain",
}
SAMPLE_KIND_OF = {PLAN.hashes[stage]: kind for kind, stage in SAMPLE_STAGE.items()}


def sample_png(kind):
    return f"{D[SAMPLE_STAGE[kind]]}/{kind}.png"


def sample_model(wildcards):
    sid = PAIR_IDS[0]  # a subset with both an unlearned and a retrained model
    return {
        "base": f"{D['train_base']}/model",
        "pruned": f"{D['prune']}/model.pt",
        "unlearned": f"{D['unlearn']}/{CHUNK_OF[sid]}",
        "retrained": f"{D['retrain']}/{sid}/model",
    }[wildcards.kind]


wildcard_constraints:
    subset=r"(train|test|test25|test75)-\d{4}|full|empty|cf-[0-9a-f]{12}",
    batch=r"(train|uniform|kernel|loo|full)-\d{4}-\d{4}",
    chunk=r"(train|test|test25|test75|uniform|kernel|loo|full)-\d{4}-\d{4}",


def cf_behaviours(wildcards):
    """The behaviours of the counterfactual retrainings, known once checkpoint cf_plan has run."""
    plan = read_json(checkpoints.cf_plan.get().output.plan)
    return [
        behaviour_json("behaviour_retrain_cf", sid) for sid in sorted(plan["subsets"])
    ]
