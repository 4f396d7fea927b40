# The LDS of every estimator, and the proxy fidelity: the baseline subsets' retrained models against
# their unlearned ones (already in the matrix); and the LDS ceiling: the first lds.ceiling_models
# test subsets retrained a second time (rule retrain_floor, seed table1.floor_seed), or with
# lds.test_seeds above 1 two halves of each test subset's seeds (which the LDS target averages).
rule lds:
    input:
        unpack(ceiling_inputs),
        unpack(seed_inputs),
        unpack(baseline_seed_inputs),
        datamodel=rules.datamodel.output.info,
        matrix=rules.datamodel.output.fitted,
        baseline=behaviour_batches(BASELINE_IDS, "retrain"),
    output:
        lds=path("lds", "lds"),
    log:
        LAYOUT.log("lds"),
    conda:
        "../envs/analysis.yaml"
    threads: THREADS_OF["lds"]
    resources:
        **RESOURCES_OF["lds"],
    params:
        spec=spec("lds"),
        cfg=hashed("lds", "lds"),
        ids=behaviour_ids("baseline", "ceiling", "seeds", "baseline_seeds"),
    script:
        "../workflow/scripts/lds.py"
