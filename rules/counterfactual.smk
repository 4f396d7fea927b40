# The counterfactual check. The removal sets depend on the fitted attributions, so they are a
# checkpoint: the retrainings they need are known once it has run.
checkpoint cf_plan:
    input:
        unpack(unit_inputs),
        datamodel=rules.datamodel.output.info,
    output:
        plan=f"{D['cf_plan']}/plan.json",
    log:
        f"{LOGS}/cf_plan/{PLAN.hashes['cf_plan']}.log",
    conda:
        "../envs/analysis.yaml"
    threads: THREADS_OF["cf_plan"]
    resources:
        **RESOURCES_OF["cf_plan"],
    params:
        spec=spec("cf_plan"),
        cfg=config["counterfactual"],
        unit=config["attribution"]["unit"],
        kmeans=config["attribution"]["kmeans"],
        csv=config["attribution"]["csv"],
    script:
        "../workflow/scripts/cf_plan.py"


# Retraining from scratch without the removed units: the same recipe and seed scheme as `retrain`.
use rule retrain as retrain_cf with:
    input:
        data=rules.data.output.data,
        subsets=rules.cf_plan.output.plan,
    output:
        model=directory(f"{D['retrain_cf']}/{{subset}}/model"),
        info=f"{D['retrain_cf']}/{{subset}}/train.json",
    log:
        f"{LOGS}/retrain_cf/{PLAN.hashes['retrain_cf']}/{{subset}}.log",
    benchmark:
        f"{D['retrain_cf']}/{{subset}}/benchmark.tsv"
    threads: THREADS_OF["retrain_cf"]
    resources:
        **RESOURCES_OF["retrain_cf"],
    params:
        spec=spec("retrain_cf"),
        model=config["model"],
        scheduler=config["scheduler"],
        recipe=hashed("retrain_cf", "train_base"),
        seed=config["retrain"]["seed"],
        resume=f"{RESUME}/retrain_cf/{PLAN.hashes['retrain_cf']}/{{subset}}.pt",


rule counterfactual:
    input:
        plan=rules.cf_plan.output.plan,
        behaviours=cf_behaviours,
        base=behaviour_json("behaviour_base", "full"),
    output:
        table=report(
            f"{D['counterfactual']}/counterfactual.csv",
            caption="../report/counterfactual.rst",
            category="5. Counterfactual check",
            labels={"figure": "table"},
        ),
        figure=report(
            f"{D['counterfactual']}/counterfactual.png",
            caption="../report/counterfactual.rst",
            category="5. Counterfactual check",
            labels={"figure": "top-ranked vs random removal"},
        ),
        info=f"{D['counterfactual']}/counterfactual.json",
    log:
        f"{LOGS}/counterfactual/{PLAN.hashes['counterfactual']}.log",
    conda:
        "../envs/analysis.yaml"
    threads: THREADS_OF["counterfactual"]
    resources:
        **RESOURCES_OF["counterfactual"],
    params:
        spec=spec("counterfactual"),
    script:
        "../workflow/scripts/counterfactual.py"
