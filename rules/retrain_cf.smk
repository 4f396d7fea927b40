# Retraining from scratch without the removed units: the same recipe and seed scheme as `retrain`.
# It reads its removal's record (rule cf_removal) as ancient(), so a rewritten record (a new plan with
# the same removal) retrains nothing; a new removal has a new id and so a new record.
use rule retrain as retrain_cf with:
    input:
        data=rules.data.output.data,
        subsets=ancient(path("cf_removal", "removal")),
    output:
        model=directory(path("retrain_cf", "model")),
        info=path("retrain_cf", "train"),
    log:
        LAYOUT.log("retrain_cf", "subset"),
    benchmark:
        path("retrain_cf", "benchmark")
    threads: THREADS_OF["retrain_cf"]
    resources:
        **RESOURCES_OF["retrain_cf"],
    params:
        spec=spec("retrain_cf"),
        model=config["model"],
        scheduler=config["scheduler"],
        recipe=hashed("retrain_cf", "train_base"),
        seed=config["retrain"]["seed"],
        resume=LAYOUT.resume("retrain_cf", "subset"),
