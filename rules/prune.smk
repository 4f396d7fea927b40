rule prune:
    input:
        base=rules.train_base.output.model,
        data=rules.data.output.data,
    output:
        model=f"{D['prune']}/model.pt",
        info=f"{D['prune']}/prune.json",
    log:
        f"{LOGS}/prune/{PLAN.hashes['prune']}.log",
    benchmark:
        f"{D['prune']}/benchmark.tsv"
    conda:
        "../envs/torch.yaml"
    threads: THREADS
    params:
        spec=spec("prune"),
        prune=config["prune"],
        scheduler=config["scheduler"],
    script:
        "../workflow/scripts/prune.py"
