# The counterfactual check's removal sets. They depend on the fitted attributions, so this is a
# checkpoint: the retrainings they need (rule retrain_cf) are known once it has run.
checkpoint cf_plan:
    input:
        unpack(unit_inputs),
        datamodel=rules.datamodel.output.info,
    output:
        plan=path("cf_plan", "plan"),
    log:
        LAYOUT.log("cf_plan"),
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
