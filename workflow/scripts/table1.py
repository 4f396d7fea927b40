"""Stage table1: Table 1 (CSV, and HTML for the report)."""

import _libpath  # noqa: F401  (lib/ on sys.path)

from diffattr.jobs import start
from diffattr.layout import write_spec
from diffattr.stages.table1 import make_table1

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0])
inp = sm.input
rows = make_table1(
    inp.base,
    inp.pruned,
    inp.base_train,
    inp.prune_train,
    inp.retrained,
    inp.unlearned,
    sm.params.train_ids,
    inp.pairs,
    sm.params.target,
    sm.output.csv,
    sm.output.html,
)
write_spec(sm.params.spec)
log.info(f"table 1: {rows}")
