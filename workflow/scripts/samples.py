"""Stage samples: a grid of one model's samples from the shared initial noises."""

import _libpath  # noqa: F401  (lib/ on sys.path)
import _preloaded  # noqa: F401  (runs the rest forked from the run's preloaded process, if any)

from diffattr.core.registry import REGISTRY, SAMPLE_STAGE
from diffattr.core.settings import job_settings
from diffattr.modelling.compute import start_model_job
from diffattr.stages.samples import sample_grid
from diffattr.workflow.layout import in_batch, write_spec

sm = snakemake  # noqa: F821
log, _, compute = start_model_job(sm.log[0], sm.threads, sm.config.get("compute"))
p, kind = sm.params, sm.wildcards.kind
stage = REGISTRY[SAMPLE_STAGE[kind]].model
# the unlearned and the retrained model: the subset's, in its batch folder
model = in_batch(sm.input.model, stage, "model", p.subset) if "batch" in REGISTRY[stage].files else sm.input.model
title = f"{kind} model" + (f" ({p.subset})" if kind in ("unlearned", "retrained") else "")
sample_grid(
    model=model,
    **sm.output,
    settings=job_settings("behaviour", p.behaviour, sm.config, scheduler=p.scheduler),
    n=p.n,
    title=title,
    compute=compute,
)
write_spec(p.spec)
log.info(f"{kind}: {p.n} samples -> {sm.output.grid}")
