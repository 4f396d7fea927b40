"""Snakemake adapter: Table 1 (CSV, and HTML for the report)."""
import _libpath  # noqa: F401  (lib/ on sys.path)
from diffattr.atomic import read_json
from diffattr.comparison import table1, table_html
from diffattr.jobs import start
from diffattr.pipeline import batch_behaviours, write_spec

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0], 1, heavy=())
inp = sm.input
unlearned = [read_json(p) for p in batch_behaviours(inp.unlearned, sm.params.train_ids)]
rows = table1(read_json(inp.base), read_json(inp.pruned), read_json(inp.base_train), read_json(inp.prune_train),
              [read_json(p) for p in inp.retrained], unlearned, [read_json(p) for p in inp.pairs],
              sm.params.target, sm.output.csv)
table_html(sm.output.csv, sm.output.html, "Table 1")
write_spec(sm.output.csv.rsplit("/", 1)[0], sm.params.spec)
log.info(f"table 1: {rows}")
