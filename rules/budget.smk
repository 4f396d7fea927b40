# LDS at equal compute: both methods' datamodels refitted on the models each affords at every
# budget of budget.grid (retrain units), costs from the jobs' benchmark files.
rule budget:
    input:
        unpack(baseline_budget_inputs),
        unpack(seed_inputs),
        matrix=rules.matrix.output.matrix,
        baseline=behaviour_batches(BASELINE_IDS, "retrain"),
        subsets=sorted({chunk_json(sid) for sid in BASELINE_IDS}),
        retrain_batches=retrain_batch_dirs(BASELINE_IDS + MATRIX_TEST_IDS),
        retrain_bench=[
            path("retrain", "benchmark", batch=b) for b in retrain_batch_names(BASELINE_IDS + MATRIX_TEST_IDS)
        ],
        retrain_eval_bench=[
            path("behaviour_retrain", "benchmark", batch=b) for b in eval_batches_of(BASELINE_IDS + MATRIX_TEST_IDS)
        ],
        unlearn_bench=[path("unlearn", "benchmark", batch=batch) for batch in BATCHES],
        unlearn_eval_bench=[path("behaviour_unlearn", "benchmark", batch=batch) for batch in BATCHES],
        base_bench=rules.train_base.benchmark,
        base_train=rules.train_base.output.info,
        prune_bench=rules.prune.benchmark,
    output:
        budget=path("budget", "budget"),
        figure=report(
            path("budget", "figure"),
            caption="../report/budget.rst",
            category="2. Equal-compute comparison",
            labels={"figure": "LDS vs budget"},
        ),
    log:
        LAYOUT.log("budget"),
    benchmark:
        path("budget", "benchmark")
    conda:
        "../envs/analysis.yaml"
    threads: THREADS_OF["budget"]
    resources:
        **RESOURCES_OF["budget"],
    params:
        spec=spec("budget"),
        # (models the matrix holds, models trained) per batch: the cost is charged to the former.
        batch_models=[SUBSETS.train_batch_models[batch] for batch in BATCHES],
        # the retrained models charged (each its training and a share of its retraining batch's
        # job) and per model its evaluation batch's place in retrain_eval_bench and size (the
        # batch's cost is shared by its models)
        retrain_ids=BASELINE_IDS + MATRIX_TEST_IDS,
        retrain_eval=eval_shares(BASELINE_IDS + MATRIX_TEST_IDS),
        ids=behaviour_ids("baseline", "seeds"),
        grid=config["budget"]["grid"],
        datamodel=config["datamodel"],
        lds={k: config["lds"][k] for k in ("n_bootstrap", "ci_level", "seed")},
        target=config["behaviour"]["target"],
    script:
        "../workflow/scripts/budget.py"
