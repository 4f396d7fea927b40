# The pruned model: the EMA weights (model, evaluated) and the raw ones (raw, where unlearning starts
# with unlearn.init: raw), both whole pickled modules in their folders.
rule prune:
    input:
        base=rules.train_base.output.model,
        data=rules.data.output.data,
    output:
        model=directory(path("prune", "model")),
        raw=directory(path("prune", "raw")),
        info=path("prune", "train"),
    log:
        LAYOUT.log("prune"),
    benchmark:
        path("prune", "benchmark")
    conda:
        "../envs/torch.yaml"
    threads: THREADS_OF["prune"]
    resources:
        **RESOURCES_OF["prune"],
    params:
        spec=spec("prune"),
        prune=hashed("prune", "prune"),
        scheduler=config["scheduler"],
        resume=LAYOUT.resume("prune"),
    script:
        "../workflow/scripts/prune.py"
