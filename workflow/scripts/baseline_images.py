"""Snakemake adapter: the attributed model's generated images, from the behaviour's shared noises."""
import _libpath  # noqa: F401  (lib/ on sys.path)
from pathlib import Path

from diffattr.baselines.stage import make_images
from diffattr.jobs import start_model_job
from diffattr.pipeline import write_spec
from diffattr.plan import runtime_settings

sm = snakemake  # noqa: F821
log, startup, compute = start_model_job(sm.log[0], sm.threads, sm.config.get("compute"))
p = sm.params
info = make_images(sm.input.model, p.scheduler, {**p.behaviour, **runtime_settings(sm.config, "behaviour")}, p.model,
                   sm.output.images, sm.output.info, startup, compute=compute)
write_spec(Path(sm.output.images).parent, p.spec)
log.info(f"{info['n']} images of the {p.model} model in {info['seconds']:.1f}s")
