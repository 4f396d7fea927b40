"""Stage behaviour: sample one model from the shared noises and compute its behaviours."""

import _libpath  # noqa: F401  (lib/ on sys.path)
import _preloaded  # noqa: F401  (runs the rest forked from the run's preloaded process, if any)

from diffattr.core.settings import job_settings
from diffattr.modelling.compute import start_model_job
from diffattr.stages.behaviour import evaluate_model
from diffattr.workflow.layout import write_spec

sm = snakemake  # noqa: F821
log, startup, compute = start_model_job(sm.log[0], sm.threads, sm.config.get("compute"))
p, sid = sm.params, sm.wildcards.subset
out = evaluate_model(
    **sm.input,
    **sm.output,
    settings=job_settings("behaviour", p.behaviour, sm.config, scheduler=p.scheduler),
    source=p.source,
    subset=sid,
    startup=startup,
    compute=compute,
)
write_spec(p.spec)
log.info(f"{p.source} {sid}: {out['metrics']} in {out['eval_seconds']:.1f}s")
