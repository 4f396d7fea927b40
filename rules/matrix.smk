# Every family's models in one matrix: the datamodel's train subsets, the other estimators' families
# (uniform, kernel, loo, full), the untrained model (empty) and the retrained test sets; used subsets
# only (never a candidate skipped for equalling a test subset).
rule matrix:
    input:
        unlearn=behaviour_batches(UNLEARN_IDS),
        retrain=behaviour_batches(RETRAIN_TEST_IDS, "retrain"),
        init=[behaviour_json("behaviour_init", EMPTY)] if WITH_INIT else [],
        subsets=sorted({chunk_json(sid) for sid in UNLEARN_IDS + RETRAIN_TEST_IDS}),
    output:
        matrix=path("matrix", "matrix"),
    log:
        LAYOUT.log("matrix"),
    conda:
        "../envs/analysis.yaml"
    threads: THREADS_OF["matrix"]
    resources:
        **RESOURCES_OF["matrix"],
    params:
        spec=spec("matrix"),
        config_hash=PLAN.hashes["matrix"],
        unlearn_ids=UNLEARN_IDS,
        retrain_ids=RETRAIN_TEST_IDS,
        subset_report=SUBSETS.report(),
    script:
        "../workflow/scripts/matrix.py"
