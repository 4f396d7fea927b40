rule datamodel:
    input:
        unpack(baseline_inputs),
        matrix=rules.matrix.output.matrix,
    output:
        attributions=report(
            f"{D['datamodel']}/attributions.csv",
            caption="../report/attributions.rst",
            category="4. Attributions",
            labels={"figure": "attributions (CSV)"},
        ),
        info=f"{D['datamodel']}/datamodel.json",
        matrix=f"{D['datamodel']}/matrix.h5",
    log:
        f"{LOGS}/datamodel/{PLAN.hashes['datamodel']}.log",
    benchmark:
        f"{D['datamodel']}/benchmark.tsv"
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
