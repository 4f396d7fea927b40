"""Snakemake adapter: cache the feature statistics of the training images."""
import _libpath  # noqa: F401  (lib/ on sys.path)
from diffattr.jobs import start
from diffattr.pipeline import make_reference, write_spec

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0], sm.threads, heavy=("torch", "torch_fidelity"))
make_reference(sm.input.data, sm.input.classifier, sm.output.stats, sm.params.inception)
write_spec(sm.output.stats.rsplit("/", 1)[0], sm.params.spec)
log.info("reference statistics written")
