# behaviour/{bhash}/{subset}: bhash names the model family (base, prune, unlearn, retrain) together
# with the behaviour config and the reference statistics, so one rule serves them all.
rule behaviour:
    input:
        unpack(model_inputs),
        classifier=rules.classifier.output.weights,
        reference=rules.reference.output.stats,
    output:
        behaviour="results/store/behaviour/{bhash}/{subset}.json",
    log:
        f"{LOGS}/behaviour/{{bhash}}/{{subset}}.log",
    benchmark:
        "results/store/behaviour/{bhash}/benchmarks/{subset}.tsv"
    group:
        GROUPS.get("behaviour")
    conda:
        "../envs/torch.yaml"
    threads: THREADS_OF["behaviour"]
    resources:
        **RESOURCES_OF["behaviour"],
    params:
        spec=lambda w: spec(f"behaviour_{BEHAVIOUR_SOURCE[w.bhash]}"),
        source=lambda w: BEHAVIOUR_SOURCE[w.bhash],
        behaviour=hashed("behaviour_base", "behaviour"),
        scheduler=config["scheduler"],
    script:
        "../workflow/scripts/behaviour.py"
