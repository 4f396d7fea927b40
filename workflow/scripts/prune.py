"""Stage prune: magnitude-prune the base model and fine-tune it on all data."""

import _libpath  # noqa: F401  (lib/ on sys.path)
import _preloaded  # noqa: F401  (runs the rest forked from the run's preloaded process, if any)

from diffattr.core.settings import Pruning
from diffattr.modelling.compute import start_model_job
from diffattr.stages.prune import prune_and_finetune
from diffattr.workflow.layout import write_spec

sm = snakemake  # noqa: F821
log, startup, compute = start_model_job(sm.log[0], sm.threads, sm.config.get("compute"))
prune_and_finetune(
    **sm.input,
    **sm.output,
    settings=Pruning.from_config(sm.params.prune, sm.config, scheduler=sm.params.scheduler),
    resume=sm.params.resume,
    log=log,
    startup=startup,
    compute=compute,
)
write_spec(sm.params.spec)
