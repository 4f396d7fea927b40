# The untrained model (train_base's initial weights): the empty-set behaviour v(empty) that the
# constrained KernelSHAP fit needs.
rule init_model:
    input:
        data=rules.data.output.data,
    output:
        model=directory(f"{D['init']}/model"),
        info=f"{D['init']}/train.json",
    log:
        f"{LOGS}/init/{PLAN.hashes['init']}.log",
    conda:
        "../envs/torch.yaml"
    threads: THREADS_OF["init_model"]
    resources:
        **RESOURCES_OF["init_model"],
    params:
        spec=spec("init"),
        model=config["model"],
        seed=config["train_base"]["seed"],
    script:
        "../workflow/scripts/init_model.py"


# Estimator x behaviour -> LDS (CI) on every test set: each estimator refitted for every behaviour
# the matrix holds, all on the same models.
rule estimators:
    input:
        unpack(ceiling_inputs),
        unpack(baseline_inputs),
        matrix=rules.matrix.output.matrix,
    output:
        table=report(
            f"{D['estimators']}/estimators.csv",
            caption="../report/estimators.rst",
            category="4. Attributions",
            labels={"figure": "estimators (CSV)"},
        ),
        html=report(
            f"{D['estimators']}/estimators.html",
            caption="../report/estimators.rst",
            category="4. Attributions",
            labels={"figure": "estimator x behaviour LDS"},
        ),
        info=f"{D['estimators']}/estimators.json",
    log:
        f"{LOGS}/estimators/{PLAN.hashes['estimators']}.log",
    benchmark:
        f"{D['estimators']}/benchmark.tsv"
    conda:
        "../envs/analysis.yaml"
    threads: THREADS_OF["estimators"]
    resources:
        **RESOURCES_OF["estimators"],
    params:
        spec=spec("estimators"),
        datamodel=config["datamodel"],
        lds=config["lds"],
    script:
        "../workflow/scripts/estimators.py"
