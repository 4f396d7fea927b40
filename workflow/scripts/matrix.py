"""Snakemake adapter: gather masks and behaviours into the HDF5 matrix."""
import _libpath  # noqa: F401  (lib/ on sys.path)
from diffattr.analysis import build_matrix
from diffattr.jobs import start
from diffattr.pipeline import batch_behaviours, read_subsets, subset_rows, with_empty, write_spec

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0], 1, heavy=())
unlearn = batch_behaviours(sm.input.unlearn, sm.params.unlearn_ids)
subsets = with_empty(read_subsets(sm.input.subsets))
rows = subset_rows(subsets, {"unlearn": unlearn, "retrain": sm.input.retrain, "init": sm.input.init})
m = build_matrix(rows, sm.output.matrix, sm.params.config_hash, sm.params.subset_report)
write_spec(sm.output.matrix.rsplit("/", 1)[0], sm.params.spec)
log.info(f"matrix: {m.masks.shape[0]} models x {m.masks.shape[1]} units, behaviours {m.behaviour_names}")
