"""Snakemake adapter: the counterfactual removal sets from the fitted attributions."""
import _libpath  # noqa: F401  (lib/ on sys.path)
from diffattr.counterfactual import make_cf_plan
from diffattr.jobs import start
from diffattr.pipeline import write_spec

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0], 1, heavy=())
p, c = sm.params, sm.params.cfg
plan = make_cf_plan(sm.input.datamodel, sm.input.data, p.unit, c["fractions"], c["n_random"], c["seed"],
                    sm.output.plan, sm.input.get("reference"), p.kmeans, p.csv)
write_spec(sm.output.plan.rsplit("/", 1)[0], p.spec)
log.info(f"{len(plan['removals'])} removals, {len(plan['subsets'])} distinct retrainings")
