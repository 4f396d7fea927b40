"""Stage classifier: train the digits CNN used as the FID feature extractor."""

import _libpath  # noqa: F401  (lib/ on sys.path)

from diffattr.compute import start_model_job
from diffattr.layout import write_spec
from diffattr.stages.classifier import make_classifier

sm = snakemake  # noqa: F821
log, _, compute = start_model_job(sm.log[0], sm.threads, sm.config.get("compute"), heavy=("torch",))
cfg = sm.params.cfg
make_classifier(
    sm.input.data, cfg["epochs"], cfg["seed"], cfg["holdout"], sm.output.weights, sm.output.info, log, compute=compute
)
write_spec(sm.params.spec)
