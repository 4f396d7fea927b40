# A second retraining (seed table1.floor_seed) of the pair subsets, Table 1's FID2 floor, and of the
# first lds.ceiling_models test subsets, the LDS ceiling; in batches as rule retrain's.
use rule retrain as retrain_floor with:
    input:
        data=rules.data.output.data,
        subsets=retrain_subsets("retrain_floor"),
    output:
        batch=directory(path("retrain_floor", "batch")),
    log:
        LAYOUT.log("retrain_floor", "batch"),
    benchmark:
        path("retrain_floor", "benchmark")
    threads: THREADS_OF["retrain_floor"]
    resources:
        **RESOURCES_OF["retrain_floor"],
    params:
        spec=spec("retrain_floor"),
        members=retrain_members("retrain_floor"),
        model=config["model"],
        scheduler=config["scheduler"],
        recipe=hashed("retrain_floor", "train_base"),
        seed=config["table1"]["floor_seed"],
        resume=retrain_resumes("retrain_floor"),
