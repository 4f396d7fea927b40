# The retraining baseline's own models are `retrain` jobs on training subsets (BASELINE_IDS). The
# floor of Table 1's FID2 needs a second retraining of a few subsets with another seed.
use rule retrain as retrain_floor with:
    output:
        model=directory(f"{D['retrain_floor']}/{{subset}}/model"),
        info=f"{D['retrain_floor']}/{{subset}}/train.json",
    log:
        f"{LOGS}/retrain_floor/{PLAN.hashes['retrain_floor']}/{{subset}}.log",
    benchmark:
        f"{D['retrain_floor']}/{{subset}}/benchmark.tsv"
    threads: THREADS_OF["retrain_floor"]
    resources:
        **RESOURCES_OF["retrain_floor"],
    params:
        spec=spec("retrain_floor"),
        model=config["model"],
        scheduler=config["scheduler"],
        recipe=hashed("retrain_floor", "train_base"),
        seed=config["table1"]["floor_seed"],
        resume=f"{RESUME}/retrain_floor/{PLAN.hashes['retrain_floor']}/{{subset}}.pt",
