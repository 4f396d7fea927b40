# Table 1 of the paper: FID of each model kind, FID2 between the unlearned and the retrained model
# of the same subset, its floor (two retrainings), steps and minutes.
rule table1:
    input:
        base=behaviour_json("behaviour_base", FULL_DATA),
        pruned=behaviour_json("behaviour_prune", FULL_DATA),
        base_train=rules.train_base.output.info,
        prune_train=rules.prune.output.info,
        retrained=behaviour_batches(BASELINE_IDS, "retrain"),
        unlearned=behaviour_batches(MATRIX_TRAIN_IDS),
        pairs=[path("pairs", "pair", subset=sid) for sid in PAIR_IDS],
    output:
        csv=path("table1", "csv"),
        html=report(
            path("table1", "html"),
            caption="../report/table1.rst",
            category="1. Summary",
            labels={"item": "Table 1"},
        ),
    log:
        LAYOUT.log("table1"),
    benchmark:
        path("table1", "benchmark")
    conda:
        "../envs/analysis.yaml"
    threads: THREADS_OF["table1"]
    resources:
        **RESOURCES_OF["table1"],
    params:
        spec=spec("table1"),
        train_ids=MATRIX_TRAIN_IDS,
        ids=behaviour_ids("retrained"),
        target=config["behaviour"]["target"],
    script:
        "../workflow/scripts/table1.py"
