# The cheap baselines (lib/diffattr/baselines): TRAK, D-TRAK, pixel and feature similarity, planned
# only when datamodel.estimators lists one. One job samples the attributed model (baselines.model)
# from the behaviour's noises; one job per method scores the training images against those images
# and sums or averages them per unit. The datamodel, estimators and budget rules take their output
# (baseline_inputs, baseline_budget_inputs) only when a baseline is configured.
from diffattr.baselines import configured as configured_baselines

BASELINE_METHODS = configured_baselines(config["datamodel"]["estimators"])
try:
    BASELINE_THREADS, BASELINE_RESOURCES = rule_resources(
        config["resources"],
        ["baseline_images", "baseline_scores"],
        env_resources(os.environ),
    )
except ValueError as exc:
    raise WorkflowError(str(exc)) from None


def baseline_inputs(wildcards):
    """The baselines' unit scores, for the rules that fit estimators."""
    if not BASELINE_METHODS:
        return {}
    return {
        "baselines": [f"{D['baselines']}/{m}/scores.json" for m in BASELINE_METHODS]
    }


def baseline_budget_inputs(wildcards):
    """The baselines' scores and their jobs' benchmarks, for the equal-compute figure."""
    if not BASELINE_METHODS:
        return {}
    return {
        **baseline_inputs(wildcards),
        "baseline_images_bench": f"{D['baseline_images']}/benchmark.tsv",
        "baseline_bench": [
            f"{D['baselines']}/benchmarks/{m}.tsv" for m in BASELINE_METHODS
        ],
    }


if BASELINE_METHODS:
    BASELINE_MODEL = {
        "base": f"{D['train_base']}/model",
        "prune": f"{D['prune']}/model.pt",
    }[config["baselines"]["model"]]
    # What sampling needs from `behaviour` (the feature extractor's choice is in the reference's hash).
    BASELINE_BEHAVIOUR = {
        k: v
        for k, v in config["behaviour"].items()
        if k in ("n_samples", "ddim_steps", "seed", "eta", "features", "inception_weights")
    }

    rule baseline_images:
        input:
            model=BASELINE_MODEL,
        output:
            images=f"{D['baseline_images']}/images.npz",
            info=f"{D['baseline_images']}/images.json",
        log:
            f"{LOGS}/baseline_images/{PLAN.hashes['baseline_images']}.log",
        benchmark:
            f"{D['baseline_images']}/benchmark.tsv"
        conda:
            "../envs/torch.yaml"
        threads: BASELINE_THREADS["baseline_images"]
        resources:
            **BASELINE_RESOURCES["baseline_images"],
        params:
            spec=spec("baseline_images"),
            model=config["baselines"]["model"],
            behaviour=BASELINE_BEHAVIOUR,
            scheduler=config["scheduler"],
        script:
            "../workflow/scripts/baseline_images.py"

    rule baseline_scores:
        input:
            images=rules.baseline_images.output.images,
            model=BASELINE_MODEL,
            data=rules.data.output.data,
            reference=rules.reference.output.stats,
            classifier=rules.classifier.output.weights,
        output:
            scores=f"{D['baselines']}/{{method}}/scores.json",
            per_image=f"{D['baselines']}/{{method}}/per_image.npy",
        log:
            f"{LOGS}/baselines/{PLAN.hashes['baselines']}/{{method}}.log",
        benchmark:
            f"{D['baselines']}/benchmarks/{{method}}.tsv"
        wildcard_constraints:
            method="|".join(BASELINE_METHODS),
        conda:
            "../envs/torch.yaml"
        threads: BASELINE_THREADS["baseline_scores"]
        resources:
            **BASELINE_RESOURCES["baseline_scores"],
        params:
            spec=spec("baselines"),
            cfg=hashed("baselines", "baselines"),
            attribution=hashed("baselines", "attribution"),
            behaviour=BASELINE_BEHAVIOUR,
            scheduler=config["scheduler"],
        script:
            "../workflow/scripts/baseline_scores.py"
