"""Stage behaviour_unlearn: behaviours of every unlearned model in one batch, from the shared noises."""

import _libpath  # noqa: F401  (lib/ on sys.path)
import _preloaded  # noqa: F401  (runs the rest forked from the run's preloaded process, if any)

from diffattr.core.settings import job_settings
from diffattr.modelling.compute import start_model_job
from diffattr.stages.behaviour_unlearn import evaluate_batch
from diffattr.workflow.layout import write_spec

sm = snakemake  # noqa: F821
log, startup, compute = start_model_job(sm.log[0], sm.threads, sm.config.get("compute"))
p = sm.params
evaluate_batch(
    **sm.input,
    **sm.output,
    settings=job_settings("behaviour", p.behaviour, sm.config, scheduler=p.scheduler),
    log=log,
    startup=startup,
    compute=compute,
)
write_spec(p.spec)
