rule data:
    output:
        data=f"{D['data']}/data.npz",
        info=f"{D['data']}/data.json",
    log:
        f"{LOGS}/data/{PLAN.hashes['data']}.log",
    benchmark:
        f"{D['data']}/benchmark.tsv"
    conda:
        "../envs/torch.yaml"
    threads: THREADS_OF["data"]
    resources:
        **RESOURCES_OF["data"],
    params:
        spec=spec("data"),
        data=hashed("data", "data"),
    script:
        "../workflow/scripts/data.py"
