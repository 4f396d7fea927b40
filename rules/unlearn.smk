# One job unlearns a batch of subsets (unlearn.subsets_per_job) so interpreter start-up is paid
# once per batch; each subset still gets its own checkpoint, {batch}/{subset}/model. It starts
# from the pruned model's raw weights (unlearn.init: raw, the authors') or its EMA weights (ema).
rule unlearn:
    input:
        start=(rules.prune.output.raw if config["unlearn"]["init"] == "raw" else rules.prune.output.model),
        data=rules.data.output.data,
        subsets=path("subsets", "chunk", chunk="{batch}"),
    output:
        batch=directory(path("unlearn", "batch")),
    log:
        LAYOUT.log("unlearn", "batch"),
    benchmark:
        path("unlearn", "benchmark")
    group:
        GROUPS.get("unlearn")
    conda:
        "../envs/torch.yaml"
    threads: THREADS_OF["unlearn"]
    resources:
        **RESOURCES_OF["unlearn"],
    params:
        spec=spec("unlearn"),
        recipe=hashed("unlearn", "unlearn"),
        scheduler=config["scheduler"],
    script:
        "../workflow/scripts/unlearn.py"
