"""Stage unlearn: sparsified unlearning of one batch of subsets (one checkpoint per subset)."""

import _libpath  # noqa: F401  (lib/ on sys.path)
import _preloaded  # noqa: F401  (runs the rest forked from the run's preloaded process, if any)

from diffattr.core.settings import job_settings
from diffattr.modelling.compute import start_model_job
from diffattr.stages.unlearn import unlearn_batch
from diffattr.workflow.layout import write_spec

sm = snakemake  # noqa: F821
log, startup, compute = start_model_job(sm.log[0], sm.threads, sm.config.get("compute"))
p = sm.params
unlearn_batch(
    **sm.input,
    **sm.output,
    settings=job_settings("unlearn", p.recipe, sm.config, scheduler=p.scheduler),
    log=log,
    startup=startup,
    compute=compute,
)
write_spec(p.spec)
