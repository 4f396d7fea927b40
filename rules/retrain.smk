rule retrain:
    input:
        data=rules.data.output.data,
        subsets=lambda w: chunk_json(w.subset),
    output:
        model=directory(f"{D['retrain']}/{{subset}}/model"),
        info=f"{D['retrain']}/{{subset}}/train.json",
    log:
        f"{LOGS}/retrain/{PLAN.hashes['retrain']}/{{subset}}.log",
    benchmark:
        f"{D['retrain']}/{{subset}}/benchmark.tsv"
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
        resume=f"{RESUME}/retrain/{PLAN.hashes['retrain']}/{{subset}}.pt",
    script:
        "../workflow/scripts/retrain.py"
