rule lds:
    input:
        datamodel=rules.datamodel.output.info,
        matrix=rules.datamodel.output.matrix,
    output:
        lds=f"{D['lds']}/lds.json",
    params:
        spec=spec("lds"),
        cfg=config["lds"],
    log:
        f"{LOGS}/lds/{PLAN.hashes['lds']}.log",
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow/scripts/lds.py"
