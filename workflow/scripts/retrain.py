"""Snakemake adapter: retrain from scratch on one subset (the LDS ground truth)."""
import _libpath  # noqa: F401  (lib/ on sys.path)
from diffattr.jobs import start_model_job
from diffattr.pipeline import retrain, write_spec
from diffattr.plan import runtime_settings

sm = snakemake  # noqa: F821
log, startup, compute = start_model_job(sm.log[0], sm.threads, sm.config.get("compute"))
p = sm.params
recipe = {**p.recipe, **runtime_settings(sm.config, "train_base")}
retrain(sm.input.data, sm.input.subsets, sm.wildcards.subset, p.model, p.scheduler, recipe, p.seed, sm.output.model, sm.output.info,
        log, startup, p.resume, compute=compute)
write_spec(sm.output.info.rsplit("/", 2)[0], p.spec)
