# What `snakemake --report report.html` shows besides Table 1 and the budget figure: sample grids,
# the attribution figures and the summary page. Captions live in report/*.rst.
rule samples:
    input:
        model=sample_model,
    output:
        grid=report(
            "results/store/samples/{shash}/{kind}.png",
            caption="../report/samples.rst",
            category="3. Samples",
            labels={"model": "{kind}"},
        ),
    log:
        f"{LOGS}/samples/{{shash}}/{{kind}}.log",
    benchmark:
        "results/store/samples/{shash}/benchmarks/{kind}.tsv"
    wildcard_constraints:
        kind="|".join(SAMPLE_STAGE),
        shash="|".join(SAMPLE_KIND_OF),
    conda:
        "../envs/torch.yaml"
    threads: THREADS_OF["samples"]
    resources:
        **RESOURCES_OF["samples"],
    params:
        spec=lambda w: spec(SAMPLE_STAGE[w.kind]),
        subset=PAIR_IDS[0],
        behaviour={k: config["behaviour"][k] for k in ("seed", "ddim_steps", "eta")},
        scheduler=config["scheduler"],
        n=config["report"]["n_images"],
    script:
        "../workflow/scripts/samples.py"


# The two unit grids are "most helpful / most harmful" only when the primary estimator identifies
# the level of its values; a datamodel on alpha-sized subsets ranks units relative to the average.
LEVEL_IDENTIFIED = LEVEL_BY_DESIGN[config["datamodel"]["primary"]]
GRID_LABELS = (
    ("most helpful units", "most harmful units")
    if LEVEL_IDENTIFIED
    else ("highest-ranked units", "lowest-ranked units (relative to the average unit)")
)


rule figures:
    input:
        unpack(unit_inputs),
        lds=rules.lds.output.lds,
        attributions=rules.datamodel.output.attributions,
    output:
        scatter=report(
            f"{D['figures']}/scatter.png",
            caption="../report/scatter.rst",
            category="4. Attributions",
            labels={"figure": "predicted vs actual"},
        ),
        histogram=report(
            f"{D['figures']}/histogram.png",
            caption="../report/histogram.rst",
            category="4. Attributions",
            labels={"figure": "histogram"},
        ),
        top=report(
            f"{D['figures']}/units_top.png",
            caption="../report/units.rst",
            category="4. Attributions",
            labels={"figure": GRID_LABELS[0]},
        ),
        bottom=report(
            f"{D['figures']}/units_bottom.png",
            caption="../report/units.rst",
            category="4. Attributions",
            labels={"figure": GRID_LABELS[1]},
        ),
    log:
        f"{LOGS}/figures/{PLAN.hashes['figures']}.log",
    benchmark:
        f"{D['figures']}/benchmark.tsv"
    conda:
        "../envs/analysis.yaml"
    threads: THREADS_OF["figures"]
    resources:
        **RESOURCES_OF["figures"],
    params:
        spec=spec("figures"),
        unit=config["attribution"]["unit"],
        kmeans=config["attribution"]["kmeans"],
        csv=config["attribution"]["csv"],
        top_k=config["report"]["top_k"],
        level_identified=LEVEL_IDENTIFIED,
    script:
        "../workflow/scripts/figures.py"


rule summary:
    input:
        lds=rules.lds.output.lds,
        budget=rules.budget.output.budget,
        table1=rules.table1.output.csv,
    output:
        html=report(
            f"{D['summary']}/summary.html",
            caption="../report/summary.rst",
            category="1. Summary",
            labels={"item": "summary"},
        ),
    log:
        f"{LOGS}/summary/{PLAN.hashes['summary']}.log",
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
