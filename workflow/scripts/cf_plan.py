"""Stage cf_plan: the counterfactual removal sets from the fitted attributions."""

import _libpath  # noqa: F401  (lib/ on sys.path)

from diffattr.jobs import start
from diffattr.layout import write_spec
from diffattr.stages.cf_plan import make_cf_plan

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0])
p, c = sm.params, sm.params.cfg
plan = make_cf_plan(
    sm.input.datamodel,
    sm.input.data,
    p.unit,
    c["fractions"],
    c["n_random"],
    c["seed"],
    sm.output.plan,
    sm.input.get("reference"),
    p.kmeans,
    p.csv,
)
write_spec(p.spec)
log.info(f"{len(plan['removals'])} removals, {len(plan['subsets'])} distinct retrainings")
