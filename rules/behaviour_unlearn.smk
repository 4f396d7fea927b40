# Unlearned models are evaluated one batch per job ({batch}/{subset}.json inside), matching the
# unlearning batches: at thousands of subsets this halves the DAG and pays start-up once per batch.
rule behaviour_unlearn:
    input:
        batch=rules.unlearn.output.batch,
        classifier=rules.classifier.output.weights,
        reference=rules.reference.output.stats,
    output:
        behaviour=directory(path("behaviour_unlearn", "batch")),
    log:
        LAYOUT.log("behaviour_unlearn", "batch"),
    benchmark:
        path("behaviour_unlearn", "benchmark")
    group:
        GROUPS.get("behaviour_unlearn")
    conda:
        "../envs/torch.yaml"
    threads: THREADS_OF["behaviour_unlearn"]
    resources:
        **RESOURCES_OF["behaviour_unlearn"],
    params:
        spec=spec("behaviour_unlearn"),
        behaviour=hashed("behaviour_unlearn", "behaviour"),
        scheduler=config["scheduler"],
    script:
        "../workflow/scripts/behaviour_unlearn.py"
