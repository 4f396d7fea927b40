"""Stage baseline_images: the attributed model's generated images, from the behaviour's shared noises."""

import _libpath  # noqa: F401  (lib/ on sys.path)
import _preloaded  # noqa: F401  (runs the rest forked from the run's preloaded process, if any)

from diffattr.core.settings import job_settings
from diffattr.modelling.compute import start_model_job
from diffattr.stages.baseline_images import make_images
from diffattr.workflow.layout import write_spec

sm = snakemake  # noqa: F821
log, startup, compute = start_model_job(sm.log[0], sm.threads, sm.config.get("compute"))
p = sm.params
info = make_images(
    **sm.input,
    **sm.output,
    settings=job_settings("behaviour", p.behaviour, sm.config, scheduler=p.scheduler),
    model_kind=p.model,
    startup=startup,
    compute=compute,
)
write_spec(p.spec)
log.info(f"{info['n']} images of the {p.model} model in {info['seconds']:.1f}s")
