"""Stage prune: magnitude-prune the base model and fine-tune it on all data."""

import _libpath  # noqa: F401  (lib/ on sys.path)

from diffattr.compute import start_model_job
from diffattr.layout import write_spec
from diffattr.settings import job_settings
from diffattr.stages.prune import prune_and_finetune

sm = snakemake  # noqa: F821
log, startup, compute = start_model_job(sm.log[0], sm.threads, sm.config.get("compute"))
cfg = sm.params.prune
job = job_settings("prune.finetune", cfg["finetune"], sm.config)
prune_and_finetune(
    sm.input.base,
    sm.input.data,
    cfg["ratio"],
    cfg["importance_p"],
    job,
    sm.params.scheduler,
    sm.output.model,
    sm.output.info,
    log,
    startup,
    sm.params.resume,
    compute=compute,
    out_raw=sm.output.raw,
)
write_spec(sm.params.spec)
