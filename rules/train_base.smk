rule train_base:
    input:
        data=rules.data.output.data,
    output:
        model=directory(path("train_base", "model")),
        info=path("train_base", "train"),
    log:
        LAYOUT.log("train_base"),
    benchmark:
        path("train_base", "benchmark")
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
        resume=LAYOUT.resume("train_base"),
    script:
        "../workflow/scripts/train_base.py"
