# Parse-time set-up shared by every rule: the library on the path, the config checked (one-line
# errors naming the key) and its subsets drawn, the content-addressed plan, and the layout that
# names every artifact (lib/diffattr/workflow/layout.py). Script jobs find the same library through
# workflow/scripts/_libpath.py.
import functools
import os
import sys
from pathlib import Path

LIBDIR = str(Path(workflow.basedir) / "lib")
if LIBDIR not in sys.path:
    sys.path.insert(0, LIBDIR)

from diffattr.core.atomic import read_json
from diffattr.attribution.baselines import BASELINES, MODEL_STAGE as BASELINE_MODEL_STAGE
from diffattr.attribution.baselines import configured as configured_baselines
from diffattr.core.classifier_gate import ClassifierGate
from diffattr.workflow.config import validate_config
from diffattr.workflow.config_checks import bf16_warning, cpu_flags
from diffattr.attribution.estimators import ESTIMATORS, LEVEL_BY_DESIGN
from diffattr.core.families import (
    BATCH_PATTERN,
    CHUNK_PATTERN,
    EMPTY,
    FULL_DATA,
    SUBSET_PATTERN,
    TEST_FAMILIES,
    UNLEARN_FAMILIES,
    base_id,
)
from diffattr.workflow.draws import evaluation_batches, retraining_batches
from diffattr.workflow.layout import LOGS, Layout, run_dir, view_marker
from diffattr.workflow.addressing import build_plan
from diffattr.core.registry import BATCH_RULE, CLUSTER_RULES, MODEL_KINDS, REGISTRY, RESOURCES_KEY, SAMPLE_STAGE
from diffattr.core.resources import env_resources, rule_resources
from diffattr.core.settings import Sampling
from diffattr.workflow.slurm_limits import KEYS as LIMIT_KEYS, Limits, derived as derived_limits, fixed as fixed_limits

try:
    # The schema, the cross-key rules and the files the config names, every problem at once (a line
    # each); the subsets are drawn here, once (cheap: permutations of N units), so every id list
    # below is known before any job runs.
    SUBSETS = validate_config(config, Path(workflow.basedir) / "config" / "schema.yaml")
    PLAN = build_plan(config)
except ValueError as exc:
    raise WorkflowError(str(exc)) from None
# The retrained models this config evaluates, in evaluation batches (draws.evaluation_batches): model
# kind -> batch -> model ids; the counterfactual's, once its plan exists (cf_batches).
EVAL_BATCHES = SUBSETS.eval_batches
# The retrained models this config trains, in retraining batches of retrain.models_per_job (one job
# each; draws.SubsetPlan.retrain_batches): model kind -> batch -> model ids; the counterfactual's,
# once its plan exists (cf_retrain_batches).
RETRAIN_BATCHES = SUBSETS.retrain_batches
LAYOUT = Layout(
    PLAN.hashes,
    SUBSETS.chunk_of,
    batch_of={
        **{f"behaviour_{kind}": table for kind, table in SUBSETS.eval_batch_of.items()},
        **SUBSETS.retrain_batch_of,
    },
)
# bf16 on a CPU without bf16 arithmetic is many times slower: say so before a local run starts (torch is
# imported only when bf16 is asked for, to see whether a GPU will take it).
if not workflow.remote_exec and "bf16" in (config["compute"]["precision"], config["compute"].get("sampling_precision")):
    import torch

    _BF16 = bf16_warning(config["compute"], cpu_flags(), torch.cuda.is_available())
    if _BF16:
        logger.warning(_BF16)
# compute.preload: a local run forks its model jobs from one process that imported torch and diffusers
# at the run's start (lib/diffattr/core/preload.py); not for Slurm jobs (they start on other nodes),
# nor with a deployment method (conda, apptainer: a job needs that environment's interpreter), nor
# where a job may use a GPU (CUDA cannot be initialised in such a fork).
_PRELOADED = {}


def start_preload():
    from diffattr.core import handover, preload

    # a variable inherited from another run (this one started inside its job) names its server, not ours
    os.environ.pop(handover.PRELOAD_ENV, None)
    if not (
        preload.preloads(config["compute"])
        and workflow.local_exec
        and workflow.is_main_process
        and not workflow.deployment_settings.deployment_method
    ):
        return
    _PRELOADED["proc"], _PRELOADED["path"] = preload.start_server(LIBDIR)
    os.environ[handover.PRELOAD_ENV] = _PRELOADED["path"]


def stop_preload():
    if _PRELOADED:
        from diffattr.core import handover, preload

        os.environ.pop(handover.PRELOAD_ENV, None)
        preload.stop_server(_PRELOADED.pop("proc"), _PRELOADED.pop("path"))


onstart:
    start_preload()


onsuccess:
    stop_preload()


onerror:
    stop_preload()


# A domain classifier already in the store (trained under a config that did not use it, or under
# lower thresholds) passes the same gate as a new one before anything uses it.
CLASSIFIER_GATE = ClassifierGate.from_config(config)
if CLASSIFIER_GATE and Path(LAYOUT.path("classifier", "info")).is_file():
    try:
        CLASSIFIER_GATE.check(read_json(LAYOUT.path("classifier", "info")))
    except ValueError as exc:
        raise WorkflowError(str(exc)) from None
# The cheap baselines datamodel.estimators lists; with none, their two stages are neither planned nor
# included (Snakefile).
BASELINE_METHODS = configured_baselines(config["datamodel"]["estimators"])

# The matrix's used subsets (all but subsets.exclude): the datamodel's train family and the other
# estimators' unlearned families, and the retrained test families.
MATRIX_TRAIN_IDS = SUBSETS.ids("train")
MATRIX_TEST_IDS = SUBSETS.ids("test")
UNLEARN_IDS = SUBSETS.ids_of(UNLEARN_FAMILIES)
RETRAIN_TEST_IDS = SUBSETS.ids_of(TEST_FAMILIES)
# The datamodel's unlearning batches: train chunks holding a used subset.
BATCHES = SUBSETS.train_batches
BASELINE_IDS = SUBSETS.baseline
PAIR_IDS = SUBSETS.pairs
# Test subsets retrained a second time (another seed): the LDS ceiling.
CEILING_IDS = SUBSETS.ceiling
# lds.test_seeds: retrainings per test subset the LDS target averages; the retrain_floor model ids of
# seeds 2..s (seed 2 of a ceiling subset is its second retraining above).
TEST_SEEDS = SUBSETS.test_seeds
SEED_IDS = SUBSETS.seed_ids
# Per input key of the analysis rules that read retrained models' behaviour batches: the model ids
# wanted from them (layout.wanted_behaviours; a rule's params take only its own keys, behaviour_ids,
# so that another key's ids never rerun it).
BEHAVIOUR_IDS = {
    "baseline": BASELINE_IDS,
    "retrained": BASELINE_IDS,
    "ceiling": CEILING_IDS,
    "seeds": SEED_IDS,
    "baseline_seeds": PAIR_IDS,
}


def behaviour_ids(*keys):
    return {key: BEHAVIOUR_IDS[key] for key in keys}


# The untrained model's row, v(empty), where an estimator needs it (Shapley).
WITH_INIT = any(EMPTY in ESTIMATORS[e].needs for e in config["datamodel"]["estimators"])
RUN_DIR = run_dir(config["run_name"])
VIEW_MARKER = view_marker(config["run_name"], PLAN.hashes, config["subsets"]["exclude"])

# Rules sent to the cluster (registry.CLUSTER_RULES); each takes resources.<rule> over resources.default.
try:
    _THREADS, _RESOURCES = rule_resources(config["resources"], CLUSTER_RULES, env_resources(os.environ))
except ValueError as exc:
    raise WorkflowError(str(exc)) from None
GROUPS = config.get("groups", {})
# Each Slurm job's runtime and mem_mb from its forecast (slurm_limits.py), unless the rule's own
# resources entry fixes them. Only sbatch reads them: a local run, a dry run and a job inside Slurm
# get the floors, and need neither the forecast nor a calibration.
SLURM_LIMITS = Limits.from_config(config["slurm_limits"])
LOCAL_LIMITS = {"runtime": SLURM_LIMITS.floor_minutes, "mem_mb": SLURM_LIMITS.mem_floor_mb}


@functools.cache
def limits_inputs():
    """The forecast's context and the speeds of the jobs' machine, once per Slurm run."""
    from diffattr.workflow import calibration
    from diffattr.workflow.forecast import context

    if SLURM_LIMITS.calibration:
        speeds = calibration.load_file(SLURM_LIMITS.calibration)
        stale = calibration.stated_file_note(config, SLURM_LIMITS.calibration, speeds, workflow.configfiles)
        if stale:
            logger.warning(f"Slurm limits: {stale}")
    else:
        logger.info("Slurm limits: calibrating this machine's speeds (once; cached in results/.calibration/)")
        speeds, where, _ = calibration.load_or_measure(config, THREADS_OF["retrain"])
        logger.info(f"Slurm limits: the jobs' speeds from {where} ({speeds.cpu_model})")
    if speeds.device == "cpu" and any(r.get("gpu") for r in _RESOURCES.values()):
        logger.warning(
            "Slurm limits: GPU jobs' time limits are derived from CPU speeds; set slurm_limits.calibration "
            "to a file from `python -m diffattr.plan --calibrate-only` on a GPU node"
        )
    return context(config, SUBSETS, BEHAVIOUR_SOURCE), speeds


def slurm_limit(name, key):
    """Resource `key` of a job of rule `name` as a function of its wildcards and attempt."""

    def value(wildcards, attempt):
        if workflow.local_exec or workflow.remote_exec:
            return LOCAL_LIMITS[key] * attempt
        ctx, speeds = limits_inputs()
        return derived_limits(name, wildcards, ctx, speeds, SLURM_LIMITS, attempt)[key]

    return value


# Keyed by rule (behaviour_unlearn takes behaviour's entry, registry.RESOURCES_KEY); runtime and
# mem_mb derived per rule where its entry does not fix them.
THREADS_OF = {name: _THREADS[key] for name, key in RESOURCES_KEY.items()}
RESOURCES_OF = {
    name: {
        **_RESOURCES[key],
        **{k: slurm_limit(name, k) for k in LIMIT_KEYS if k not in fixed_limits(config["resources"], key)},
    }
    for name, key in RESOURCES_KEY.items()
}

# Behaviour artifacts are keyed by the hash of (behaviour config, reference, model stage): one rule
# serves every behaviour_<kind> stage, its {bhash} wildcard says which (kind -> model stage:
# registry.MODEL_KINDS).
BEHAVIOUR_SOURCE = {PLAN.hashes[f"behaviour_{kind}"]: kind for kind in MODEL_KINDS}
# Report sample grids: grid name -> its samples stage, each named by its own model's hash.
SAMPLE_KIND_OF = {PLAN.hashes[stage]: kind for kind, stage in SAMPLE_STAGE.items()}


wildcard_constraints:
    subset=SUBSET_PATTERN,
    batch=BATCH_PATTERN,
    chunk=CHUNK_PATTERN,


def spec(stage):
    """What is hashed into `stage`'s folder name (written beside its artifacts as spec.json)."""
    return PLAN.specs[stage]


def hashed(stage, section):
    """A config section as hashed into `stage`'s folder: runtime keys (logging, checkpointing,
    batching) are left out so that changing them does not trip the params rerun trigger."""
    return PLAN.specs[stage]["config"].get(section)


def path(stage, name, **wildcards):
    return LAYOUT.path(stage, name, **wildcards)


def unit_inputs(wildcards):
    """What defines the attribution units: the data, plus the reference features for k-means
    clusters (a CSV's content is hashed into the stage instead)."""
    inputs = {"data": path("data", "data")}
    if config["attribution"]["unit"] == "kmeans":
        inputs["reference"] = path("reference", "stats")
    return inputs


def chunk_json(sid):
    """The subsets file holding subset `sid` (one file per chunk of unlearn.subsets_per_job; a test
    seed's model id, its subset's)."""
    return path("subsets", "chunk", chunk=SUBSETS.chunk_of[base_id(sid)])


def behaviour_json(stage, sid):
    return path(stage, "behaviour", subset=sid)


def behaviour_batches(sids, kind="unlearn"):
    """The behaviour batch folders holding the models `sids` of model kind `kind` (unlearned models:
    their unlearning batches; retrained ones: their evaluation batches)."""
    return sorted({path(f"behaviour_{kind}", "batch", subset=sid) for sid in sids})


def retrain_batch_names(sids):
    """The retraining batches (names, sorted) of rule retrain holding the models `sids`."""
    return sorted({SUBSETS.retrain_batch_of["retrain"][sid] for sid in sids})


def retrain_batch_dirs(sids):
    """Their folders, in the same order."""
    return [path("retrain", "batch", batch=b) for b in retrain_batch_names(sids)]


def eval_batches_of(sids):
    """The evaluation batches (names, sorted) holding the retrained models `sids`."""
    return sorted({SUBSETS.eval_batch_of["retrain"][sid] for sid in sids})


def eval_shares(sids):
    """Per retrained model of `sids`: (its evaluation batch's place in eval_batches_of(sids), the
    models that batch evaluates), so the budget charges each model its share of the batch."""
    names = eval_batches_of(sids)
    of = SUBSETS.eval_batch_of["retrain"]
    return [(names.index(of[sid]), len(EVAL_BATCHES["retrain"][of[sid]])) for sid in sids]


def cf_removal_ids():
    """The counterfactual removals' ids (cf-<hash>), known once checkpoint cf_plan has run."""
    return sorted(read_json(checkpoints.cf_plan.get().output.plan)["subsets"])


def cf_batches():
    """The counterfactual retrainings' evaluation batches (batch -> model ids)."""
    return evaluation_batches(cf_removal_ids(), SUBSETS.chunk_of, SUBSETS.per_job)


def cf_retrain_batches():
    """The counterfactual retrainings' retraining batches (batch -> model ids)."""
    return retraining_batches(cf_removal_ids(), SUBSETS.models_per_job)


def retrain_batches_of(stage):
    """Retraining batch -> its model ids, of retraining stage `stage`."""
    return cf_retrain_batches() if stage == "retrain_cf" else RETRAIN_BATCHES[stage]


def retrain_members(stage):
    """The model ids retraining batch {batch} of `stage` trains, as a function of the wildcards."""

    def members(wildcards):
        return retrain_batches_of(stage)[wildcards.batch]

    return members


def retrain_subsets(stage):
    """The subsets files of the models of retraining batch {batch} of `stage` (retrain, retrain_floor;
    retrain_cf reads its removals' records: cf_removal_records)."""

    def files(wildcards):
        return sorted({chunk_json(sid) for sid in retrain_batches_of(stage)[wildcards.batch]})

    return files


def cf_removal_records(wildcards):
    """The removals' records of counterfactual retraining batch {batch}, as ancient(): a rewritten
    record (a new plan with the same removal) retrains nothing."""
    return [ancient(path("cf_removal", "removal", subset=sid)) for sid in cf_retrain_batches()[wildcards.batch]]


def retrain_resumes(stage):
    """Per model of retraining batch {batch} of `stage`: where it keeps its resumable state (keyed by
    the model, so a renamed batch resumes it too)."""
    pattern = LAYOUT.resume(stage, "subset")

    def resumes(wildcards):
        return {sid: pattern.replace("{subset}", sid) for sid in retrain_batches_of(stage)[wildcards.batch]}

    return resumes


def retrained_batch(stage, sid):
    """The retraining batch folder holding model `sid` of retraining stage `stage`."""
    if stage == "retrain_cf":
        batch = next(b for b, ids in cf_retrain_batches().items() if sid in ids)
        return path(stage, "batch", batch=batch)
    return path(stage, "batch", subset=sid)


def batch_members(wildcards):
    """The model ids of evaluation batch {batch} of the retrained kind {bhash} names."""
    kind = BEHAVIOUR_SOURCE[wildcards.bhash]
    batches = cf_batches() if kind == "retrain_cf" else EVAL_BATCHES[kind]
    return batches[wildcards.batch]


def batch_models(wildcards):
    """The retraining batch folders holding the models evaluation batch {bhash}/{batch} evaluates."""
    stage = MODEL_KINDS[BEHAVIOUR_SOURCE[wildcards.bhash]]
    return {"retrained": sorted({retrained_batch(stage, sid) for sid in batch_members(wildcards)})}


def model_inputs(wildcards):
    """The checkpoint and training record that behaviour {bhash}/{subset} evaluates (the base, pruned
    and untrained models; the others are evaluated per batch: rules behaviour_unlearn and
    behaviour_retrained)."""
    stage = MODEL_KINDS[BEHAVIOUR_SOURCE[wildcards.bhash]]
    return {
        "model": path(stage, "model", subset=wildcards.subset),
        "train": path(stage, "train", subset=wildcards.subset),
    }


def ceiling_inputs(wildcards):
    """The second retrainings' behaviours of the ceiling's test subsets (none when lds.ceiling_models
    is 0); the first retrainings' are in the matrix. With lds.test_seeds above 1 the matrix holds
    every seed, the ceiling's second retrainings among them: none."""
    if not CEILING_IDS or TEST_SEEDS > 1:
        return {}
    return {"ceiling": behaviour_batches(CEILING_IDS, "retrain_floor")}


def seed_inputs(wildcards):
    """With lds.test_seeds above 1, the behaviours of the test subsets' seeds 2..s, which the LDS
    target averages with the matrix's seed 1 (none at 1 seed)."""
    if TEST_SEEDS < 2:
        return {}
    return {"seeds": behaviour_batches(SEED_IDS, "retrain_floor")}


def baseline_seed_inputs(wildcards):
    """With lds.test_seeds above 1, the proxy fidelity compares against the mean retraining where a
    baseline subset has two: the pair subsets' second retrainings (Table 1's floor)."""
    if TEST_SEEDS < 2 or not PAIR_IDS:
        return {}
    return {"baseline_seeds": behaviour_batches(PAIR_IDS, "retrain_floor")}


def sample_model(wildcards):
    """The model a sample grid draws: for the unlearned and the retrained one, the first pair subset's
    (it has both)."""
    stage = REGISTRY[SAMPLE_STAGE[wildcards.kind]].model
    name = "batch" if "batch" in REGISTRY[stage].files else "model"
    return path(stage, name, subset=PAIR_IDS[0])


def cf_removals(wildcards):
    """The counterfactual removals' records (rule cf_removal)."""
    return [path("cf_removal", "removal", subset=sid) for sid in cf_removal_ids()]


def cf_behaviours(wildcards):
    """The behaviour batches of the counterfactual retrainings, known once checkpoint cf_plan has run."""
    return [path("behaviour_retrain_cf", "batch", batch=batch) for batch in sorted(cf_batches())]


def baseline_model(wildcards):
    """The model the baselines attribute (baselines.model)."""
    return path(BASELINE_MODEL_STAGE[config["baselines"]["model"]], "model")


def baseline_inputs(wildcards):
    """The baselines' unit support, for the rules that fit estimators (no baseline configured: none)."""
    if not BASELINE_METHODS:
        return {}
    return {"baselines": [path("baselines", "scores", method=m) for m in BASELINE_METHODS]}


def baseline_budget_inputs(wildcards):
    """The baselines' support and their jobs' benchmarks, for the equal-compute figure."""
    if not BASELINE_METHODS:
        return {}
    return {
        **baseline_inputs(wildcards),
        "baseline_images_bench": path("baseline_images", "benchmark"),
        "baselines_bench": [path("baselines", "benchmark", method=m) for m in BASELINE_METHODS],
    }
