# The report's first page: both methods' LDS, the speed-up, Table 1.
rule summary:
    input:
        lds=rules.lds.output.lds,
        budget=rules.budget.output.budget,
        table1=rules.table1.output.csv,
    output:
        html=report(
            path("summary", "html"),
            caption="../report/summary.rst",
            category="1. Summary",
            labels={"item": "summary"},
        ),
    log:
        LAYOUT.log("summary"),
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        spec=spec("summary"),
        config_line=(
            f"run {config['run_name']}: {config['data']['kind']}, {config['attribution']['unit']} units, "
            f"alpha {config['subsets']['alpha']}, {len(MATRIX_TRAIN_IDS)} unlearned models "
            f"({config['unlearn']['steps']} steps each), {len(MATRIX_TEST_IDS)} retrained test models "
            f"and {len(BASELINE_IDS)} retrained baseline models ({config['train_base']['steps']} steps each), "
            f"{config['behaviour']['target']} on {config['behaviour']['n_samples']} samples "
            f"(DDIM {config['behaviour']['ddim_steps']})"
        ),
    script:
        "../workflow/scripts/summary.py"
