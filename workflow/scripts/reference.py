"""Stage reference: cache the feature statistics of the training images."""

import _libpath  # noqa: F401  (lib/ on sys.path)
import _preloaded  # noqa: F401  (runs the rest forked from the run's preloaded process, if any)

from diffattr.modelling.compute import start_model_job
from diffattr.stages.reference import make_reference
from diffattr.workflow.layout import write_spec

sm = snakemake  # noqa: F821
log, _, compute = start_model_job(sm.log[0], sm.threads, sm.config.get("compute"), heavy=("torch", "torch_fidelity"))
make_reference(
    **sm.input,
    **sm.output,
    inception_weights=sm.params.inception,
    feature_batch=sm.params.feature_batch,
    compute=compute,
)
write_spec(sm.params.spec)
log.info("reference statistics written")
