# Every estimator of datamodel.estimators fitted on its family; the primary one's attributions.
rule datamodel:
    input:
        unpack(baseline_inputs),
        matrix=rules.matrix.output.matrix,
    output:
        attributions=report(
            path("datamodel", "attributions"),
            caption="../report/attributions.rst",
            category="4. Attributions",
            labels={"figure": "attributions (CSV)"},
        ),
        info=path("datamodel", "info"),
        # the matrix with every fit (group attributions/<estimator>)
        fitted=path("datamodel", "matrix"),
    log:
        LAYOUT.log("datamodel"),
    benchmark:
        path("datamodel", "benchmark")
    conda:
        "../envs/analysis.yaml"
    threads: THREADS_OF["datamodel"]
    resources:
        **RESOURCES_OF["datamodel"],
    params:
        spec=spec("datamodel"),
        cfg=config["datamodel"],
        target=config["behaviour"]["target"],
    script:
        "../workflow/scripts/datamodel.py"
