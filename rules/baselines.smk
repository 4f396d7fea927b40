# One job per cheap baseline of datamodel.estimators (trak, dtrak, pixel, feature): the training
# images' support against the generated images, per image and summed or averaged per unit. The
# datamodel, estimators and budget rules take their output (baseline_inputs, baseline_budget_inputs).
# Included only when a baseline is listed (Snakefile).
rule baselines:
    input:
        images=rules.baseline_images.output.images,
        model=baseline_model,
        data=rules.data.output.data,
        reference=rules.reference.output.stats,
        classifier=rules.classifier.output.weights,
    output:
        scores=path("baselines", "scores"),
        per_image=path("baselines", "per_image"),
    log:
        LAYOUT.log("baselines", "method"),
    benchmark:
        path("baselines", "benchmark")
    wildcard_constraints:
        method="|".join(BASELINES),
    conda:
        "../envs/torch.yaml"
    threads: THREADS_OF["baselines"]
    resources:
        **RESOURCES_OF["baselines"],
    params:
        spec=spec("baselines"),
        baselines=hashed("baselines", "baselines"),
        unit=config["attribution"]["unit"],
        kmeans=config["attribution"]["kmeans"],
        csv=config["attribution"]["csv"],
        inception=Sampling.from_config(config["behaviour"]).inception_weights,
        feature_batch=Sampling.from_config(config["behaviour"]).feature_batch,
        scheduler=config["scheduler"],
    script:
        "../workflow/scripts/baselines.py"
