rule train_base:
    input:
        data=rules.data.output.data,
    output:
        model=directory(f"{D['train_base']}/model"),
        info=f"{D['train_base']}/train.json",
    log:
        f"{LOGS}/train_base/{PLAN.hashes['train_base']}.log",
    benchmark:
        f"{D['train_base']}/benchmark.tsv"
    conda:
        "../envs/torch.yaml"
    threads: THREADS_OF["train_base"]
    resources:
        **RESOURCES_OF["train_base"],
    params:
        spec=spec("train_base"),
        model=config["model"],
        scheduler=config["scheduler"],
        recipe=hashed("train_base", "train_base"),
        pretrained=config["base_model"]["path"],
        resume=f"{RESUME}/train_base/{PLAN.hashes['train_base']}.pt",
    script:
        "../workflow/scripts/train_base.py"
