# One job per chunk of subsets (train chunks are the unlearning batches), so thousands of subsets
# cost hundreds of jobs; each subset is still a pure function of (seed, family, index).
rule subsets:
    input:
        unpack(unit_inputs),
    output:
        chunk=f"{D['subsets']}/{{chunk}}.json",
    log:
        f"{LOGS}/subsets/{PLAN.hashes['subsets']}/{{chunk}}.log",
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        spec=spec("subsets"),
        unit=config["attribution"]["unit"],
        alpha=config["subsets"]["alpha"],
        seed=config["subsets"]["seed"],
        members=lambda w: ALL_CHUNKS[w.chunk],
        kmeans=config["attribution"]["kmeans"],
        csv=config["attribution"]["csv"],
    script:
        "../workflow/scripts/subsets.py"
