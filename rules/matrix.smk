# Every family's models in one matrix: the datamodel's train subsets, the other estimators' families
# (uniform, kernel, loo, full), the untrained model (empty) and the retrained test sets; used subsets
# only (never a candidate skipped for equalling a test subset).
rule matrix:
    input:
        unlearn=sorted(
            {f"{D['behaviour_unlearn']}/{CHUNK_OF[sid]}" for sid in UNLEARN_IDS}
        ),
        retrain=[behaviour_json("behaviour_retrain", sid) for sid in RETRAIN_TEST_IDS],
        init=[f"{D['behaviour_init']}/empty.json"] if WITH_INIT else [],
        subsets=sorted({chunk_json(sid) for sid in UNLEARN_IDS + RETRAIN_TEST_IDS}),
    output:
        matrix=f"{D['matrix']}/matrix.h5",
    log:
        f"{LOGS}/matrix/{PLAN.hashes['matrix']}.log",
    conda:
        "../envs/analysis.yaml"
    threads: THREADS_OF["matrix"]
    resources:
        **RESOURCES_OF["matrix"],
    params:
        spec=spec("matrix"),
        config_hash=PLAN.hashes["matrix"],
        unlearn_ids=UNLEARN_IDS,
        subset_report=SUBSET_REPORT,
    script:
        "../workflow/scripts/matrix.py"
