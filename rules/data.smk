rule data:
    output:
        data=path("data", "data"),
        info=path("data", "info"),
    log:
        LAYOUT.log("data"),
    benchmark:
        path("data", "benchmark")
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
