# Per pair subset: FID2 between its unlearned and retrained model and between its two retrainings
# (Table 1's floor), all from the same initial noises.
rule pairs:
    input:
        unlearned=lambda w: path("unlearn", "batch", subset=w.subset),
        retrained=lambda w: path("retrain", "batch", subset=w.subset),
        floor=lambda w: path("retrain_floor", "batch", subset=w.subset),
        classifier=rules.classifier.output.weights,
    output:
        pair=path("pairs", "pair"),
    log:
        LAYOUT.log("pairs", "subset"),
    benchmark:
        path("pairs", "benchmark")
    conda:
        "../envs/torch.yaml"
    threads: THREADS_OF["pairs"]
    resources:
        **RESOURCES_OF["pairs"],
    params:
        spec=spec("pairs"),
        behaviour=hashed("pairs", "behaviour"),
        scheduler=config["scheduler"],
    script:
        "../workflow/scripts/pairs.py"
