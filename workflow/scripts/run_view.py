"""Stage run_view: copy the final artifacts into results/runs/<run_name>/ with a manifest."""

import _libpath  # noqa: F401  (lib/ on sys.path)

from diffattr.jobs import start
from diffattr.stages.run_view import write_run_view

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0])
p = sm.params
write_run_view(
    dict(sm.input.items()),
    list(sm.output),
    p.stores,
    p.hashes,
    p.run_name,
    excluded=p.excluded,
    figures=dict(zip(p.figures, sm.input.figures)),
    specs=p.specs,
)
log.info(f"run view of {p.run_name} written")
