"""Snakemake adapter: train the base DDPM on all data (or import a pretrained one)."""
import _libpath  # noqa: F401  (lib/ on sys.path)
from diffattr.jobs import start_model_job
from diffattr.pipeline import import_base, train_base, write_spec
from diffattr.plan import runtime_settings

sm = snakemake  # noqa: F821
log, startup, compute = start_model_job(sm.log[0], sm.threads, sm.config.get("compute"))
p = sm.params
if p.pretrained:
    import_base(p.pretrained, sm.input.data, p.model, sm.output.model, sm.output.info, log)
else:
    recipe = {**p.recipe, **runtime_settings(sm.config, "train_base")}
    train_base(sm.input.data, p.model, p.scheduler, recipe, sm.output.model, sm.output.info, log, startup,
               p.resume, compute=compute)
write_spec(sm.output.info.rsplit("/", 1)[0], p.spec)
