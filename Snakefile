# One rule file per stage (rules/<stage>.smk), one script (workflow/scripts/<stage>.py), one library
# module (lib/diffattr/stages/<stage>.py); rules/common.smk holds the plan, the layout and the named
# input functions. README's layout section has the table; docs/architecture.md the data's path.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/classifier.smk"
include: "rules/reference.smk"
include: "rules/train_base.smk"
include: "rules/prune.smk"
include: "rules/init.smk"
include: "rules/subsets.smk"
include: "rules/unlearn.smk"
include: "rules/retrain.smk"
include: "rules/retrain_floor.smk"
include: "rules/behaviour.smk"
include: "rules/behaviour_unlearn.smk"
include: "rules/behaviour_retrained.smk"
include: "rules/matrix.smk"


# The cheap baselines' two stages exist only when datamodel.estimators lists one (rules/common.smk).
if BASELINE_METHODS:

    include: "rules/baseline_images.smk"
    include: "rules/baselines.smk"


include: "rules/datamodel.smk"
include: "rules/lds.smk"
include: "rules/estimators.smk"
include: "rules/cf_plan.smk"
include: "rules/cf_removal.smk"
include: "rules/retrain_cf.smk"
include: "rules/counterfactual.smk"
include: "rules/pairs.smk"
include: "rules/budget.smk"
include: "rules/table1.smk"
include: "rules/samples.smk"
include: "rules/figures.smk"
include: "rules/summary.smk"
include: "rules/run_view.smk"


rule all:
    default_target: True
    input:
        RUN_OUTPUTS,
