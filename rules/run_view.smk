# The human view: results/runs/<run_name>/ holds copies of the final artifacts and a manifest
# naming every stage's store folder; cheap to rebuild, so it is never the only copy of anything.
RUN_OUTPUTS = [
    f"{RUN_DIR}/lds.json",
    f"{RUN_DIR}/attributions.csv",
    f"{RUN_DIR}/matrix.h5",
    f"{RUN_DIR}/budget.json",
    f"{RUN_DIR}/table1.csv",
    f"{RUN_DIR}/estimators.csv",
    f"{RUN_DIR}/counterfactual.csv",
    f"{RUN_DIR}/summary.html",
    f"{RUN_DIR}/manifest.json",
    VIEW_MARKER,
]


rule run_view:
    input:
        lds=rules.lds.output.lds,
        attributions=rules.datamodel.output.attributions,
        matrix=rules.datamodel.output.matrix,
        base=behaviour_json("behaviour_base", FULL_DATA),
        pruned=behaviour_json("behaviour_prune", FULL_DATA),
        prune_info=rules.prune.output.info,
        unlearn_jobs=[path("unlearn", "batch", batch=batch) for batch in BATCHES],
        budget=rules.budget.output.budget,
        table1=rules.table1.output.csv,
        estimators=rules.estimators.output.table,
        counterfactual=rules.counterfactual.output.table,
        summary=rules.summary.output.html,
        # Built here so `snakemake` alone leaves nothing for `--report` to miss.
        report_items=[
            *[path(stage, "grid", kind=kind) for kind, stage in SAMPLE_STAGE.items()],
            *rules.figures.output,
            rules.budget.output.figure,
            rules.table1.output.html,
            rules.counterfactual.output.figure,
            rules.estimators.output.html,
        ],
    output:
        RUN_OUTPUTS,
    log:
        f"{LOGS}/run_view/{config['run_name']}.log",
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        stores=LAYOUT.dirs(),
        hashes=PLAN.hashes,
        run_name=config["run_name"],
        excluded=config["subsets"]["exclude"],
    script:
        "../workflow/scripts/run_view.py"
