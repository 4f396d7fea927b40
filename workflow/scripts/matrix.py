"""Stage matrix: gather masks and behaviours into the HDF5 matrix."""

import _libpath  # noqa: F401  (lib/ on sys.path)

from diffattr.jobs import start
from diffattr.layout import write_spec
from diffattr.stages.matrix import make_matrix

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0])
inp, p = sm.input, sm.params
m = make_matrix(
    inp.unlearn, p.unlearn_ids, inp.retrain, inp.init, inp.subsets, sm.output.matrix, p.config_hash, p.subset_report
)
write_spec(p.spec)
log.info(f"matrix: {m.masks.shape[0]} models x {m.masks.shape[1]} units, behaviours {m.behaviour_names}")
