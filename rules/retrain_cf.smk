# Retraining from scratch without the removed units: the same recipe and seed scheme as `retrain`, in
# batches of retrain.models_per_job removals. It reads its removals' records (rule cf_removal) as
# ancient(), so a rewritten record (a new plan with the same removal) retrains nothing; a new removal
# has a new id and so a new record.
use rule retrain as retrain_cf with:
    input:
        data=rules.data.output.data,
        subsets=cf_removal_records,
    output:
        batch=directory(path("retrain_cf", "batch")),
    log:
        LAYOUT.log("retrain_cf", "batch"),
    benchmark:
        path("retrain_cf", "benchmark")
    threads: THREADS_OF["retrain_cf"]
    resources:
        **RESOURCES_OF["retrain_cf"],
    params:
        spec=spec("retrain_cf"),
        members=retrain_members("retrain_cf"),
        model=config["model"],
        scheduler=config["scheduler"],
        recipe=hashed("retrain_cf", "train_base"),
        seed=config["retrain"]["seed"],
        resume=retrain_resumes("retrain_cf"),
