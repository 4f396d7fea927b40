# Table 1 of the paper: FID of each model kind, FID2 between the unlearned and the retrained model
# of the same subset, its floor (two retrainings), steps and minutes.
rule pair_fid:
    input:
        unlearned=lambda w: f"{D['unlearn']}/{CHUNK_OF[w.subset]}",
        retrained=f"{D['retrain']}/{{subset}}/model",
        floor=f"{D['retrain_floor']}/{{subset}}/model",
        classifier=rules.classifier.output.weights,
    output:
        pair=f"{D['pairs']}/{{subset}}.json",
    log:
        f"{LOGS}/pairs/{PLAN.hashes['pairs']}/{{subset}}.log",
    benchmark:
        f"{D['pairs']}/benchmarks/{{subset}}.tsv"
    conda:
        "../envs/torch.yaml"
    threads: THREADS_OF["pair_fid"]
    resources:
        **RESOURCES_OF["pair_fid"],
    params:
        spec=spec("pairs"),
        behaviour=hashed("pairs", "behaviour"),
        scheduler=config["scheduler"],
    script:
        "../workflow/scripts/pair_fid.py"


rule table1:
    input:
        base=behaviour_json("behaviour_base", "full"),
        pruned=behaviour_json("behaviour_prune", "full"),
        base_train=rules.train_base.output.info,
        prune_train=rules.prune.output.info,
        retrained=[behaviour_json("behaviour_retrain", sid) for sid in BASELINE_IDS],
        unlearned=sorted(
            {f"{D['behaviour_unlearn']}/{CHUNK_OF[sid]}" for sid in MATRIX_TRAIN_IDS}
        ),
        pairs=[f"{D['pairs']}/{sid}.json" for sid in PAIR_IDS],
    output:
        csv=f"{D['table1']}/table1.csv",
        html=report(
            f"{D['table1']}/table1.html",
            caption="../report/table1.rst",
            category="1. Summary",
            labels={"item": "Table 1"},
        ),
    log:
        f"{LOGS}/table1/{PLAN.hashes['table1']}.log",
    benchmark:
        f"{D['table1']}/benchmark.tsv"
    conda:
        "../envs/analysis.yaml"
    threads: THREADS_OF["table1"]
    resources:
        **RESOURCES_OF["table1"],
    params:
        spec=spec("table1"),
        train_ids=MATRIX_TRAIN_IDS,
        target=config["behaviour"]["target"],
    script:
        "../workflow/scripts/table1.py"
