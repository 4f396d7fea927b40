"""Stage pairs: FID2 between one subset's unlearned and retrained models, and its floor."""

import _libpath  # noqa: F401  (lib/ on sys.path)
import _preloaded  # noqa: F401  (runs the rest forked from the run's preloaded process, if any)

from diffattr.core.settings import job_settings
from diffattr.modelling.compute import start_model_job
from diffattr.stages.pairs import pair_fids
from diffattr.workflow.layout import in_batch, write_spec

sm = snakemake  # noqa: F821
log, _, compute = start_model_job(sm.log[0], sm.threads, sm.config.get("compute"))
p, sid, inp = sm.params, sm.wildcards.subset, sm.input
out = pair_fids(
    # the subset's models in their unlearning and retraining batch folders
    unlearned=in_batch(inp.unlearned, "unlearn", "model", sid),
    retrained=in_batch(inp.retrained, "retrain", "model", sid),
    floor=in_batch(inp.floor, "retrain_floor", "model", sid),
    classifier=inp.classifier,
    **sm.output,
    settings=job_settings("behaviour", p.behaviour, sm.config, scheduler=p.scheduler),
    subset=sid,
    compute=compute,
)
write_spec(p.spec)
log.info(f"{sid}: FID2 unlearned-retrained {out['unlearn_vs_retrain']:.3f}, floor {out['retrain_vs_retrain']:.3f}")
