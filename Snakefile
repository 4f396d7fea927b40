from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"


validate(config, "config/schema.yaml")


include: "rules/data.smk"
include: "rules/classifier.smk"
include: "rules/train_base.smk"
include: "rules/prune.smk"
include: "rules/subsets.smk"
include: "rules/unlearn.smk"
include: "rules/retrain.smk"
include: "rules/baseline.smk"
include: "rules/behaviour.smk"
include: "rules/matrix.smk"
include: "rules/baselines.smk"
include: "rules/datamodel.smk"
include: "rules/lds.smk"
include: "rules/estimators.smk"
include: "rules/counterfactual.smk"
include: "rules/budget.smk"
include: "rules/table1.smk"
include: "rules/report.smk"
include: "rules/run.smk"


rule all:
    default_target: True
    input:
        RUN_OUTPUTS,
