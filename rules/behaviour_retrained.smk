# Retrained models (retrain, retrain_floor, retrain_cf) are evaluated one batch per job, as unlearned
# models are: behaviour/{bhash}/{batch}/{subset}.json, a batch the models of one subsets chunk that
# this config reads, named by a digest of them (draws.evaluation_batches), so start-up and the
# feature extractor are paid once per batch and a change of members names a new batch.
rule behaviour_retrained:
    input:
        unpack(batch_models),
        classifier=rules.classifier.output.weights,
        reference=rules.reference.output.stats,
    output:
        behaviour=directory(path("behaviour", "batch")),
    log:
        LAYOUT.log("behaviour", "batch"),
    benchmark:
        path("behaviour", "batch_benchmark")
    wildcard_constraints:
        bhash="|".join(h for h, src in BEHAVIOUR_SOURCE.items() if BATCH_RULE.get(src) == "behaviour_retrained"),
    group:
        GROUPS.get("behaviour_retrained")
    conda:
        "../envs/torch.yaml"
    threads: THREADS_OF["behaviour_retrained"]
    resources:
        **RESOURCES_OF["behaviour_retrained"],
    params:
        spec=lambda w: spec(f"behaviour_{BEHAVIOUR_SOURCE[w.bhash]}"),
        source=lambda w: BEHAVIOUR_SOURCE[w.bhash],
        members=batch_members,
        behaviour=hashed("behaviour_retrain", "behaviour"),
        scheduler=config["scheduler"],
    script:
        "../workflow/scripts/behaviour_retrained.py"
