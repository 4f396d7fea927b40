# The report's attribution figures (captions in report/*.rst). The two unit grids are "most helpful
# / most harmful" only when the primary estimator identifies the level of its values; a datamodel
# on alpha-sized subsets ranks units relative to the average.
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
            path("figures", "scatter"),
            caption="../report/scatter.rst",
            category="4. Attributions",
            labels={"figure": "predicted vs actual"},
        ),
        histogram=report(
            path("figures", "histogram"),
            caption="../report/histogram.rst",
            category="4. Attributions",
            labels={"figure": "histogram"},
        ),
        top=report(
            path("figures", "top"),
            caption="../report/units.rst",
            category="4. Attributions",
            labels={"figure": GRID_LABELS[0]},
        ),
        bottom=report(
            path("figures", "bottom"),
            caption="../report/units.rst",
            category="4. Attributions",
            labels={"figure": GRID_LABELS[1]},
        ),
    log:
        LAYOUT.log("figures"),
    benchmark:
        path("figures", "benchmark")
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
