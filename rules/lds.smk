rule lds:
    input:
        datamodel=rules.datamodel.output.info,
        matrix=rules.datamodel.output.matrix,
    output:
        lds=f"{D['lds']}/lds.json",
    log:
        f"{LOGS}/lds/{PLAN.hashes['lds']}.log",
    conda:
        "../envs/analysis.yaml"
    threads: THREADS_OF["lds"]
    resources:
        **RESOURCES_OF["lds"],
    params:
        spec=spec("lds"),
        cfg=config["lds"],
    script:
        "../workflow/scripts/lds.py"
