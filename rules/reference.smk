# The training images' feature statistics, computed once for every FID/KID/precision/recall.
rule reference:
    input:
        data=rules.data.output.data,
        classifier=rules.classifier.output.weights,
    output:
        stats=path("reference", "stats"),
    log:
        LAYOUT.log("reference"),
    benchmark:
        path("reference", "benchmark")
    conda:
        "../envs/torch.yaml"
    threads: THREADS_OF["reference"]
    resources:
        **RESOURCES_OF["reference"],
    params:
        spec=spec("reference"),
        inception=Sampling.from_config(config["behaviour"]).inception_weights,
        feature_batch=Sampling.from_config(config["behaviour"]).feature_batch,
    script:
        "../workflow/scripts/reference.py"
