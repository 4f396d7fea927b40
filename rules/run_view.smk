# The human view: results/runs/<run_name>/ holds copies of the final artifacts and of the report's
# figures, and a manifest naming every stage's store folder; cheap to rebuild, so it is never the
# only copy of anything.
from diffattr.workflow.layout import VIEW_FIGURES, VIEW_FIGURES_DIR, VIEW_FILES

# View figure name -> the stored PNG it copies.
RUN_FIGURES = {
    **{name: path(stage, key) for name, (stage, key) in VIEW_FIGURES.items()},
    **{f"samples_{kind}.png": path(stage, "grid", kind=kind) for kind, stage in SAMPLE_STAGE.items()},
}
RUN_OUTPUTS = [
    *[f"{RUN_DIR}/{name}" for name in VIEW_FILES],
    *[f"{RUN_DIR}/{VIEW_FIGURES_DIR}/{name}" for name in RUN_FIGURES],
    VIEW_MARKER,
]


rule run_view:
    input:
        lds=rules.lds.output.lds,
        attributions=rules.datamodel.output.attributions,
        matrix=rules.datamodel.output.fitted,
        base=behaviour_json("behaviour_base", FULL_DATA),
        pruned=behaviour_json("behaviour_prune", FULL_DATA),
        prune_info=rules.prune.output.info,
        unlearn_jobs=[path("unlearn", "batch", batch=batch) for batch in BATCHES],
        budget=rules.budget.output.budget,
        table1=rules.table1.output.csv,
        estimators=rules.estimators.output.table,
        counterfactual=rules.counterfactual.output.table,
        summary=rules.summary.output.html,
        figures=list(RUN_FIGURES.values()),
        # Built here so `snakemake` alone leaves nothing for `--report` to miss.
        report_items=[rules.table1.output.html, rules.estimators.output.html],
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
        figures=list(RUN_FIGURES),
        # What was hashed into every stage's folder: the config keys that decided the numbers.
        specs=PLAN.specs,
    script:
        "../workflow/scripts/run_view.py"
