# behaviour/{bhash}/{subset}: bhash names the model family (base, prune, retrain) together with the
# behaviour config and the reference statistics, so one rule serves them all.
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
    wildcard_constraints:
        bhash="|".join(h for h, src in BEHAVIOUR_SOURCE.items() if src != "unlearn"),
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


# Unlearned models are evaluated one batch per job ({batch}/{subset}.json inside), matching the
# unlearning batches: at thousands of subsets this halves the DAG and pays start-up once per batch.
rule behaviour_batch:
    input:
        batch=f"{D['unlearn']}/{{batch}}",
        classifier=rules.classifier.output.weights,
        reference=rules.reference.output.stats,
    output:
        behaviour=directory(f"{D['behaviour_unlearn']}/{{batch}}"),
    log:
        f"{LOGS}/behaviour/{PLAN.hashes['behaviour_unlearn']}/{{batch}}.log",
    benchmark:
        f"{D['behaviour_unlearn']}/benchmarks/{{batch}}.tsv"
    group:
        GROUPS.get("behaviour_batch")
    conda:
        "../envs/torch.yaml"
    threads: THREADS_OF["behaviour"]
    resources:
        **RESOURCES_OF["behaviour"],
    params:
        spec=spec("behaviour_unlearn"),
        behaviour=hashed("behaviour_unlearn", "behaviour"),
        scheduler=config["scheduler"],
    script:
        "../workflow/scripts/behaviour_batch.py"
