"""Stage cf_removal: one counterfactual removal's record, copied from the plan."""

import _libpath  # noqa: F401  (lib/ on sys.path)

from diffattr.core.jobs import start
from diffattr.stages.cf_removal import write_removal
from diffattr.workflow.layout import write_spec

sm = snakemake  # noqa: F821
start(sm.log[0])
write_removal(**sm.input, **sm.output, subset=sm.wildcards.subset)
write_spec(sm.params.spec)
