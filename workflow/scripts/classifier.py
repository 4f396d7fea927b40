"""Stage classifier: train the digits CNN used as the FID feature extractor."""

import _libpath  # noqa: F401  (lib/ on sys.path)
import _preloaded  # noqa: F401  (runs the rest forked from the run's preloaded process, if any)

from diffattr.core.classifier_gate import ClassifierGate, ClassifierGateError
from diffattr.core.settings import ClassifierTraining
from diffattr.modelling.compute import start_model_job
from diffattr.stages.classifier import make_classifier
from diffattr.workflow.layout import write_spec

sm = snakemake  # noqa: F821
log, _, compute = start_model_job(sm.log[0], sm.threads, sm.config.get("compute"), heavy=("torch",))
# The gate's thresholds are run-time keys, read from the config, not params (not hashed).
gate = ClassifierGate.from_config(sm.config)
try:
    make_classifier(
        **sm.input,
        **sm.output,
        settings=ClassifierTraining.from_config(sm.params.cfg),
        log=log,
        compute=compute,
        gate=gate,
    )
except ClassifierGateError as exc:
    raise SystemExit(str(exc)) from None  # the one-line message, not a traceback (also in the job's log)
write_spec(sm.params.spec)
