"""Stage retrain (rules retrain, retrain_floor, retrain_cf): retrain a batch of subsets from scratch."""

import _libpath  # noqa: F401  (lib/ on sys.path)
import _preloaded  # noqa: F401  (runs the rest forked from the run's preloaded process, if any)

from diffattr.core.settings import job_settings
from diffattr.modelling.compute import start_model_job
from diffattr.stages.retrain import retrain_batch
from diffattr.workflow.layout import write_spec

sm = snakemake  # noqa: F821
log, startup, compute = start_model_job(sm.log[0], sm.threads, sm.config.get("compute"))
p = sm.params
retrain_batch(
    **sm.input,
    **sm.output,
    members=p.members,
    settings=job_settings("train_base", p.recipe, sm.config, scheduler=p.scheduler, model=p.model, seed=p.seed),
    resume=p.resume,
    log=log,
    startup=startup,
    compute=compute,
)
write_spec(p.spec)
