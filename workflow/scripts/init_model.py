"""Snakemake adapter: save the untrained model (v(empty) for KernelSHAP)."""
import _libpath  # noqa: F401  (lib/ on sys.path)
from diffattr.jobs import start
from diffattr.pipeline import init_model, write_spec

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0], sm.threads)
p = sm.params
info = init_model(sm.input.data, p.model, p.seed, sm.output.model, sm.output.info)
write_spec(sm.output.info.rsplit("/", 1)[0], p.spec)
log.info(f"untrained model: {info['params']} params")
