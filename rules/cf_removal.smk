# A counterfactual removal's record (the subsets file of one cf-<hash>) in a folder named by the data
# and units alone, copied from the plan. retrain_cf reads it as ancient(): a new plan (another
# datamodel or behaviour upstream) that removes the same units rewrites it and retrains nothing,
# where reading the plan itself (a path that moves with every plan) retrained every removal.
rule cf_removal:
    input:
        plan=rules.cf_plan.output.plan,
    output:
        removal=path("cf_removal", "removal"),
    log:
        LAYOUT.log("cf_removal", "subset"),
    localrule: True
    conda:
        "../envs/analysis.yaml"
    params:
        spec=spec("cf_removal"),
    script:
        "../workflow/scripts/cf_removal.py"
