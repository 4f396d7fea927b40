# The untrained model (train_base's initial weights): the empty-set behaviour v(empty) that the
# constrained KernelSHAP fit needs.
rule init:
    input:
        data=rules.data.output.data,
    output:
        model=directory(path("init", "model")),
        info=path("init", "train"),
    log:
        LAYOUT.log("init"),
    benchmark:
        path("init", "benchmark")
    conda:
        "../envs/torch.yaml"
    threads: THREADS_OF["init"]
    resources:
        **RESOURCES_OF["init"],
    params:
        spec=spec("init"),
        model=config["model"],
        seed=config["train_base"]["seed"],
    script:
        "../workflow/scripts/init.py"
