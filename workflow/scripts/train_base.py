"""Stage train_base: train the base DDPM on all data (or import a pretrained one)."""

import _libpath  # noqa: F401  (lib/ on sys.path)
import _preloaded  # noqa: F401  (runs the rest forked from the run's preloaded process, if any)

from diffattr.core.settings import BaseModel, job_settings
from diffattr.modelling.compute import start_model_job
from diffattr.stages.train_base import import_base, train_base
from diffattr.workflow.layout import write_spec

sm = snakemake  # noqa: F821
log, startup, compute = start_model_job(sm.log[0], sm.threads, sm.config.get("compute"))
p = sm.params
if p.pretrained:
    import_base(**sm.input, **sm.output, settings=BaseModel(p.model, pretrained=str(p.pretrained)), log=log)
else:
    train_base(
        **sm.input,
        **sm.output,
        settings=job_settings("train_base", p.recipe, sm.config, scheduler=p.scheduler, model=p.model),
        resume=p.resume,
        log=log,
        startup=startup,
        compute=compute,
    )
write_spec(p.spec)
