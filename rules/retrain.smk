# Training from scratch on one subset with the base recipe: the ground truth the LDS is measured
# against, and the retraining baseline's own models.
rule retrain:
    input:
        data=rules.data.output.data,
        subsets=lambda w: chunk_json(w.subset),
    output:
        model=directory(path("retrain", "model")),
        info=path("retrain", "train"),
    log:
        LAYOUT.log("retrain", "subset"),
    benchmark:
        path("retrain", "benchmark")
    group:
        GROUPS.get("retrain")
    conda:
        "../envs/torch.yaml"
    threads: THREADS_OF["retrain"]
    resources:
        **RESOURCES_OF["retrain"],
    params:
        spec=spec("retrain"),
        model=config["model"],
        scheduler=config["scheduler"],
        recipe=hashed("retrain", "train_base"),
        seed=config["retrain"]["seed"],
        resume=LAYOUT.resume("retrain", "subset"),
    script:
        "../workflow/scripts/retrain.py"
