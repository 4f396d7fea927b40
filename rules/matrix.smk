rule matrix:
    input:
        unlearn=sorted(
            {f"{D['behaviour_unlearn']}/{CHUNK_OF[sid]}" for sid in MATRIX_TRAIN_IDS}
        ),
        retrain=[behaviour_json("behaviour_retrain", sid) for sid in MATRIX_TEST_IDS],
        subsets=sorted({chunk_json(sid) for sid in MATRIX_TRAIN_IDS + MATRIX_TEST_IDS}),
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
        train_ids=MATRIX_TRAIN_IDS,
    script:
        "../workflow/scripts/matrix.py"
