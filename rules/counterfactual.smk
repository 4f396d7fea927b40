# The counterfactual check: each ranking's top units removed and retrained (rule retrain_cf) against
# as many random units removed.
rule counterfactual:
    input:
        plan=rules.cf_plan.output.plan,
        removals=cf_removals,
        behaviours=cf_behaviours,
        base=behaviour_json("behaviour_base", FULL_DATA),
    output:
        table=report(
            path("counterfactual", "table"),
            caption="../report/counterfactual.rst",
            category="5. Counterfactual check",
            labels={"figure": "table"},
        ),
        figure=report(
            path("counterfactual", "figure"),
            caption="../report/counterfactual.rst",
            category="5. Counterfactual check",
            labels={"figure": "top-ranked vs random removal"},
        ),
        info=path("counterfactual", "info"),
    log:
        LAYOUT.log("counterfactual"),
    conda:
        "../envs/analysis.yaml"
    threads: THREADS_OF["counterfactual"]
    resources:
        **RESOURCES_OF["counterfactual"],
    params:
        spec=spec("counterfactual"),
    script:
        "../workflow/scripts/counterfactual.py"
