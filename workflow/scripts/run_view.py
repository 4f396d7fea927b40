"""Stage run_view: copy the final artifacts into results/runs/<run_name>/ with a manifest."""

import _libpath  # noqa: F401  (lib/ on sys.path)

from diffattr.core.jobs import start
from diffattr.stages.run_view import write_run_view

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0])
p = sm.params
# The run's final artifacts, each under its rule key, and the view's files: passed whole.
write_run_view(
    inputs=dict(sm.input.items()),
    outputs=list(sm.output),
    stores=p.stores,
    hashes=p.hashes,
    run_name=p.run_name,
    excluded=p.excluded,
    figures=dict(zip(p.figures, sm.input.figures)),
    specs=p.specs,
)
log.info(f"run view of {p.run_name} written")
