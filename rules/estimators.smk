# Estimator x behaviour -> LDS (CI) on every test set: each estimator refitted for every behaviour
# the matrix holds, all on the same models.
rule estimators:
    input:
        unpack(ceiling_inputs),
        unpack(seed_inputs),
        unpack(baseline_inputs),
        matrix=rules.matrix.output.matrix,
    output:
        table=report(
            path("estimators", "table"),
            caption="../report/estimators.rst",
            category="4. Attributions",
            labels={"figure": "estimators (CSV)"},
        ),
        html=report(
            path("estimators", "html"),
            caption="../report/estimators.rst",
            category="4. Attributions",
            labels={"figure": "estimator x behaviour LDS"},
        ),
        info=path("estimators", "info"),
    log:
        LAYOUT.log("estimators"),
    benchmark:
        path("estimators", "benchmark")
    conda:
        "../envs/analysis.yaml"
    threads: THREADS_OF["estimators"]
    resources:
        **RESOURCES_OF["estimators"],
    params:
        spec=spec("estimators"),
        datamodel=config["datamodel"],
        lds=hashed("estimators", "lds"),
        ids=behaviour_ids("ceiling", "seeds"),
    script:
        "../workflow/scripts/estimators.py"
