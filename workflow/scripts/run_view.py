"""Snakemake adapter: copy the final artifacts into results/runs/<run_name>/ with a manifest."""
import _libpath  # noqa: F401  (lib/ on sys.path)
from diffattr.jobs import start
from diffattr.runview import write_run_view

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0], 1, heavy=())
write_run_view(dict(sm.input.items()), list(sm.output), sm.params.stores, sm.params.hashes, sm.params.run_name,
               sm.params.excluded)
log.info(f"run view written to {sm.output[0].rsplit('/', 1)[0]}")
