# A second retraining (seed table1.floor_seed) of the pair subsets, Table 1's FID2 floor, and of the
# first lds.ceiling_models test subsets, the LDS ceiling.
use rule retrain as retrain_floor with:
    output:
        model=directory(path("retrain_floor", "model")),
        info=path("retrain_floor", "train"),
    log:
        LAYOUT.log("retrain_floor", "subset"),
    benchmark:
        path("retrain_floor", "benchmark")
    threads: THREADS_OF["retrain_floor"]
    resources:
        **RESOURCES_OF["retrain_floor"],
    params:
        spec=spec("retrain_floor"),
        model=config["model"],
        scheduler=config["scheduler"],
        recipe=hashed("retrain_floor", "train_base"),
        seed=config["table1"]["floor_seed"],
        resume=LAYOUT.resume("retrain_floor", "subset"),
