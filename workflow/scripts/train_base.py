"""Snakemake adapter: train the base DDPM on all data."""
import _libpath  # noqa: F401  (lib/ on sys.path)
from diffattr.jobs import start
from diffattr.pipeline import train_base, write_spec

sm = snakemake  # noqa: F821
log, startup = start(sm.log[0], sm.threads)
p = sm.params
train_base(sm.input.data, p.model, p.scheduler, p.recipe, sm.output.model, sm.output.info, log, startup,
           p.resume)
write_spec(sm.output.info.rsplit("/", 1)[0], p.spec)
