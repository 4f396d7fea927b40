"""Snakemake adapter: magnitude-prune the base model and fine-tune it on all data."""
import _libpath  # noqa: F401  (lib/ on sys.path)
from diffattr.jobs import start_model_job
from diffattr.pipeline import prune_and_finetune, write_spec
from diffattr.plan import runtime_settings

sm = snakemake  # noqa: F821
log, startup, compute = start_model_job(sm.log[0], sm.threads, sm.config.get("compute"))
cfg = sm.params.prune
finetune = {**cfg["finetune"], **runtime_settings(sm.config, "prune.finetune")}
prune_and_finetune(sm.input.base, sm.input.data, cfg["ratio"], cfg["importance_p"], finetune,
                   sm.params.scheduler, sm.output.model, sm.output.info, log, startup, sm.params.resume,
                   compute=compute, out_raw=sm.output.raw)
write_spec(sm.output.info.rsplit("/", 1)[0], sm.params.spec)
