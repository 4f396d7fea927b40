# Retraining from scratch without the removed units: the same recipe and seed scheme as `retrain`.
# The removal's record comes from the plan as a param, not the plan file as an input: a removal is
# named by its units (cf-<hash>), so a new plan that removes the same units (another datamodel or
# behaviour upstream) reuses its retraining instead of rerunning it for an updated input.
use rule retrain as retrain_cf with:
    input:
        data=rules.data.output.data,
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
        subset_record=cf_subset,
