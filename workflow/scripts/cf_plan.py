"""Stage cf_plan: the counterfactual removal sets from the fitted attributions."""

import _libpath  # noqa: F401  (lib/ on sys.path)

from diffattr.core.jobs import start
from diffattr.core.settings import Counterfactual, Units
from diffattr.stages.cf_plan import make_cf_plan
from diffattr.workflow.layout import write_spec

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0])
p = sm.params
plan = make_cf_plan(
    **sm.input, **sm.output, units=Units(p.unit, p.kmeans, p.csv), settings=Counterfactual.from_config(p.cfg)
)
write_spec(p.spec)
log.info(f"{len(plan['removals'])} removals, {len(plan['subsets'])} distinct retrainings")
