"""Stage matrix: gather masks and behaviours into the HDF5 matrix."""

import _libpath  # noqa: F401  (lib/ on sys.path)

from diffattr.core.jobs import start
from diffattr.stages.matrix import make_matrix
from diffattr.workflow.layout import write_spec

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0])
p = sm.params
m = make_matrix(
    **sm.input,
    **sm.output,
    unlearn_ids=p.unlearn_ids,
    retrain_ids=p.retrain_ids,
    config_hash=p.config_hash,
    subset_report=p.subset_report,
)
write_spec(p.spec)
log.info(f"matrix: {m.masks.shape[0]} models x {m.masks.shape[1]} units, behaviours {m.behaviour_names}")
