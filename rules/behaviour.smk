# behaviour/{bhash}/{subset}: bhash names the model stage (base, prune, init) together with the
# behaviour config and the reference statistics, so one rule serves them all (unlearned and retrained
# models are evaluated in batches: rules behaviour_unlearn and behaviour_retrained).
rule behaviour:
    input:
        unpack(model_inputs),
        classifier=rules.classifier.output.weights,
        reference=rules.reference.output.stats,
    output:
        behaviour=path("behaviour", "behaviour"),
    log:
        LAYOUT.log("behaviour", "subset"),
    benchmark:
        path("behaviour", "benchmark")
    wildcard_constraints:
        bhash="|".join(h for h, src in BEHAVIOUR_SOURCE.items() if src not in BATCH_RULE),
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
