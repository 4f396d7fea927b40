# The images the cheap baselines score the training images against: those the attributed model's
# (baselines.model) behaviour is computed on, from the same noises. Included only when
# datamodel.estimators lists a baseline (Snakefile).
rule baseline_images:
    input:
        model=baseline_model,
    output:
        images=path("baseline_images", "images"),
        info=path("baseline_images", "info"),
    log:
        LAYOUT.log("baseline_images"),
    benchmark:
        path("baseline_images", "benchmark")
    conda:
        "../envs/torch.yaml"
    threads: THREADS_OF["baseline_images"]
    resources:
        **RESOURCES_OF["baseline_images"],
    params:
        spec=spec("baseline_images"),
        # What sampling reads of `behaviour`: exactly the keys the stage hashes (registry.STAGES).
        behaviour={
            key.removeprefix("behaviour."): value
            for key, value in spec("baseline_images")["config"].items()
            if key.startswith("behaviour.")
        },
        model=config["baselines"]["model"],
        scheduler=config["scheduler"],
    script:
        "../workflow/scripts/baseline_images.py"
