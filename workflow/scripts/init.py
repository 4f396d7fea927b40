"""Stage init: save the untrained model (v(empty) for KernelSHAP)."""

import _libpath  # noqa: F401  (lib/ on sys.path)
import _preloaded  # noqa: F401  (runs the rest forked from the run's preloaded process, if any)

from diffattr.core.settings import BaseModel
from diffattr.modelling.compute import start_model_job
from diffattr.stages.init import init_model
from diffattr.workflow.layout import write_spec

sm = snakemake  # noqa: F821
log, _, _ = start_model_job(sm.log[0], sm.threads, sm.config.get("compute"))
p = sm.params
info = init_model(**sm.input, **sm.output, settings=BaseModel(p.model, seed=p.seed))
write_spec(p.spec)
log.info(f"untrained model: {info['params']} params")
