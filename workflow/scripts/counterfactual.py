"""Stage counterfactual: the counterfactual table and figure."""

import _libpath  # noqa: F401  (lib/ on sys.path)

from diffattr.core.jobs import start
from diffattr.stages.counterfactual import counterfactual_table
from diffattr.workflow.layout import write_spec

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0])
out = counterfactual_table(**sm.input, **sm.output)
write_spec(sm.params.spec)
for r in out["rows"]:
    log.info(f"{r['estimator']} remove {r['k']}: change {r['change']:.3f} vs random {r['random_mean_change']:.3f}")
