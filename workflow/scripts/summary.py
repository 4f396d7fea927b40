"""Stage summary: the report's summary page (both methods' LDS, speed-up, Table 1)."""

import _libpath  # noqa: F401  (lib/ on sys.path)

from diffattr.core.jobs import start
from diffattr.stages.summary import make_summary
from diffattr.workflow.layout import write_spec

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0])
make_summary(**sm.input, **sm.output, config_line=sm.params.config_line)
write_spec(sm.params.spec)
log.info(f"summary -> {sm.output.html}")
