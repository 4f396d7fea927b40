# The LDS of every estimator, and the proxy fidelity: the baseline subsets' retrained models against
# their unlearned ones (already in the matrix). An input `ceiling` (a second retraining of test
# subsets, behaviour JSONs named by subset id) would add the LDS ceiling; no rule makes one yet.
rule lds:
    input:
        datamodel=rules.datamodel.output.info,
        matrix=rules.datamodel.output.matrix,
        baseline=[behaviour_json("behaviour_retrain", sid) for sid in BASELINE_IDS],
    output:
        lds=f"{D['lds']}/lds.json",
    log:
        f"{LOGS}/lds/{PLAN.hashes['lds']}.log",
    conda:
        "../envs/analysis.yaml"
    threads: THREADS_OF["lds"]
    resources:
        **RESOURCES_OF["lds"],
    params:
        spec=spec("lds"),
        cfg=config["lds"],
    script:
        "../workflow/scripts/lds.py"
