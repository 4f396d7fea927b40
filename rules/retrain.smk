# Training from scratch with the base recipe: the ground truth the LDS is measured against, and the
# retraining baseline's own models. One job trains a batch of retrain.models_per_job models (start-up
# paid once a batch), each with its own seed and checkpoint, {batch}/{subset}/model; a batch is a block
# of consecutive candidates of one family named by its range and a digest of its members
# (draws.retraining_batches), and a model that a renamed batch still holds is copied, not retrained.
rule retrain:
    input:
        data=rules.data.output.data,
        subsets=retrain_subsets("retrain"),
    output:
        batch=directory(path("retrain", "batch")),
    log:
        LAYOUT.log("retrain", "batch"),
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
        members=retrain_members("retrain"),
        model=config["model"],
        scheduler=config["scheduler"],
        recipe=hashed("retrain", "train_base"),
        seed=config["retrain"]["seed"],
        resume=retrain_resumes("retrain"),
    script:
        "../workflow/scripts/retrain.py"
