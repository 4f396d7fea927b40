"""Stage table1: Table 1 (CSV, and HTML for the report)."""

import _libpath  # noqa: F401  (lib/ on sys.path)

from diffattr.core.jobs import start
from diffattr.stages.table1 import make_table1
from diffattr.workflow.layout import wanted_behaviours, write_spec

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0])
p = sm.params
rows = make_table1(**wanted_behaviours(sm.input.items(), p.ids), **sm.output, train_ids=p.train_ids, target=p.target)
write_spec(sm.params.spec)
log.info(f"table 1: {rows}")
