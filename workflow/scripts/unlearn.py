"""Stage unlearn: sparsified unlearning of one batch of subsets (one checkpoint per subset)."""

import _libpath  # noqa: F401  (lib/ on sys.path)

from diffattr.compute import start_model_job
from diffattr.layout import write_spec
from diffattr.settings import job_settings
from diffattr.stages.unlearn import unlearn_batch

sm = snakemake  # noqa: F821
log, startup, compute = start_model_job(sm.log[0], sm.threads, sm.config.get("compute"))
p = sm.params
job = job_settings("unlearn", p.recipe, sm.config)
unlearn_batch(
    sm.input.start, sm.input.data, sm.input.subsets, job, p.scheduler, sm.output.batch, log, startup, compute=compute
)
write_spec(p.spec)
