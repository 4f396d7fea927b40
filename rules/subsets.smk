# One job per chunk of subsets (train chunks are the unlearning batches), so thousands of subsets
# cost hundreds of jobs; each subset is still a pure function of (seed, family, index), given the
# family's earlier subsets (a repeat is redrawn). A chunk holds every candidate of its range, also
# those skipped for equalling a test subset, so its content never depends on the test families.
rule subsets:
    input:
        unpack(unit_inputs),
    output:
        chunk=path("subsets", "chunk"),
    log:
        LAYOUT.log("subsets", "chunk"),
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        spec=spec("subsets"),
        unit=config["attribution"]["unit"],
        alpha=config["subsets"]["alpha"],
        seed=config["subsets"]["seed"],
        members=lambda w: SUBSETS.chunks[w.chunk],
        n_units=SUBSETS.n_units,
        kmeans=config["attribution"]["kmeans"],
        csv=config["attribution"]["csv"],
    script:
        "../workflow/scripts/subsets.py"
