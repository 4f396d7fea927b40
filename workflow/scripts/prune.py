"""Snakemake adapter: magnitude-prune the base model and fine-tune it on all data."""
import _libpath  # noqa: F401  (lib/ on sys.path)
from diffattr.compute import resolve_compute
from diffattr.jobs import start
from diffattr.pipeline import prune_and_finetune, write_spec
from diffattr.plan import runtime_settings

sm = snakemake  # noqa: F821
log, startup = start(sm.log[0], sm.threads)
compute = resolve_compute(sm.config.get("compute"))
log.info(f"compute: {compute.device}, {compute.precision}")
cfg = sm.params.prune
finetune = {**cfg["finetune"], **runtime_settings(sm.config, "prune.finetune")}
prune_and_finetune(sm.input.base, sm.input.data, cfg["ratio"], cfg["importance_p"], finetune,
                   sm.params.scheduler, sm.output.model, sm.output.info, log, startup, sm.params.resume,
                   compute=compute)
write_spec(sm.output.info.rsplit("/", 1)[0], sm.params.spec)
