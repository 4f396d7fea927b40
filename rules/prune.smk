rule prune:
    input:
        base=rules.train_base.output.model,
        data=rules.data.output.data,
    output:
        model=f"{D['prune']}/model.pt",
        raw=f"{D['prune']}/raw.pt",
        info=f"{D['prune']}/prune.json",
    log:
        f"{LOGS}/prune/{PLAN.hashes['prune']}.log",
    benchmark:
        f"{D['prune']}/benchmark.tsv"
    conda:
        "../envs/torch.yaml"
    threads: THREADS_OF["prune"]
    resources:
        **RESOURCES_OF["prune"],
    params:
        spec=spec("prune"),
        prune=hashed("prune", "prune"),
        scheduler=config["scheduler"],
        resume=f"{RESUME}/prune/{PLAN.hashes['prune']}.pt",
    script:
        "../workflow/scripts/prune.py"
