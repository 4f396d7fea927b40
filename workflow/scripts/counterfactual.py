"""Stage counterfactual: the counterfactual table and figure."""

import _libpath  # noqa: F401  (lib/ on sys.path)

from diffattr.core.jobs import start
from diffattr.stages.counterfactual import counterfactual_table
from diffattr.workflow.layout import batch_behaviours, write_spec

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0])
inp = sm.input
# every counterfactual retraining's behaviour, from its evaluation batches
out = counterfactual_table(plan=inp.plan, behaviours=batch_behaviours(inp.behaviours), base=inp.base, **sm.output)
write_spec(sm.params.spec)
for r in out["rows"]:
    log.info(f"{r['estimator']} remove {r['k']}: change {r['change']:.3f} vs random {r['random_mean_change']:.3f}")
