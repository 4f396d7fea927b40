# The digits CNN whose features stand in for Inception's on the embedded default.
rule classifier:
    input:
        data=rules.data.output.data,
    output:
        weights=path("classifier", "weights"),
        info=path("classifier", "info"),
    log:
        LAYOUT.log("classifier"),
    benchmark:
        path("classifier", "benchmark")
    conda:
        "../envs/torch.yaml"
    threads: THREADS_OF["classifier"]
    resources:
        **RESOURCES_OF["classifier"],
    params:
        spec=spec("classifier"),
        cfg=hashed("classifier", "classifier"),
    script:
        "../workflow/scripts/classifier.py"
