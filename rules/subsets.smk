rule subsets:
    input:
        data=rules.data.output.data,
    output:
        subset=f"{D['subsets']}/{{subset}}.json",
    log:
        f"{LOGS}/subsets/{PLAN.hashes['subsets']}/{{subset}}.log",
    group:
        GROUPS.get("subsets")
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        spec=spec("subsets"),
        unit=config["attribution"]["unit"],
        alpha=config["subsets"]["alpha"],
        seed=config["subsets"]["seed"],
    script:
        "../workflow/scripts/subsets.py"
