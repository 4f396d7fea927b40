rule classifier:
    input:
        data=rules.data.output.data,
    output:
        weights=f"{D['classifier']}/classifier.pt",
        info=f"{D['classifier']}/classifier.json",
    log:
        f"{LOGS}/classifier/{PLAN.hashes['classifier']}.log",
    benchmark:
        f"{D['classifier']}/benchmark.tsv"
    conda:
        "../envs/torch.yaml"
    threads: THREADS_OF["classifier"]
    resources:
        **RESOURCES_OF["classifier"],
    params:
        spec=spec("classifier"),
        cfg=config["classifier"],
    script:
        "../workflow/scripts/classifier.py"


rule reference:
    input:
        data=rules.data.output.data,
        classifier=rules.classifier.output.weights,
    output:
        stats=f"{D['reference']}/stats.npz",
    log:
        f"{LOGS}/reference/{PLAN.hashes['reference']}.log",
    benchmark:
        f"{D['reference']}/benchmark.tsv"
    conda:
        "../envs/torch.yaml"
    threads: THREADS_OF["reference"]
    resources:
        **RESOURCES_OF["reference"],
    params:
        spec=spec("reference"),
        inception=inception_path(config["behaviour"]),
    script:
        "../workflow/scripts/reference.py"
