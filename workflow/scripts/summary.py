"""Snakemake adapter: the report's summary page (both methods' LDS, speed-up, Table 1)."""
import _libpath  # noqa: F401  (lib/ on sys.path)
from diffattr.atomic import read_json
from diffattr.comparison import summary_html
from diffattr.jobs import start
from diffattr.pipeline import write_spec

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0], 1, heavy=())
summary_html(read_json(sm.input.lds), read_json(sm.input.budget), sm.input.table1, sm.params.config_line,
             sm.output.html)
write_spec(sm.output.html.rsplit("/", 1)[0], sm.params.spec)
log.info(f"summary -> {sm.output.html}")
