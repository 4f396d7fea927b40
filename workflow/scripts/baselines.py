"""Stage baselines: one baseline's support per training image and per unit."""

import os

os.environ.setdefault("TQDM_DISABLE", "1")  # dattri's progress bars would fill the log
# Not handed to the preloaded process (core/preload.py): tqdm reads TQDM_DISABLE when it is imported,
# and the server imported it (through diffusers) before this job set it.
import _libpath  # noqa: F401,E402  (lib/ on sys.path)

from diffattr.core.settings import Units, job_settings  # noqa: E402
from diffattr.modelling.compute import start_model_job  # noqa: E402
from diffattr.stages.baselines import make_scores  # noqa: E402
from diffattr.workflow.addressing import baseline_device  # noqa: E402
from diffattr.workflow.layout import write_spec  # noqa: E402

sm = snakemake  # noqa: F821
# The device the plan named the scores by, not whatever `auto` finds here.
compute_cfg = {**(sm.config.get("compute") or {}), "device": baseline_device(sm.config)}
log, startup, compute = start_model_job(sm.log[0], sm.threads, compute_cfg)
p, method = sm.params, sm.wildcards.method
info = make_scores(
    **sm.input,
    **sm.output,
    method=method,
    units=Units(p.unit, p.kmeans, p.csv),
    settings=job_settings("baselines", p.baselines, sm.config, scheduler=p.scheduler),
    inception_weights=p.inception,
    feature_batch=p.feature_batch,
    startup=startup,
    compute=compute,
    log=log,
)
write_spec(p.spec)
top = sorted(info["support"].items(), key=lambda kv: -kv[1])[:3]
log.info(
    f"{method}: {info['n_units']} units from {info['n_train_images']} images against {info['n_generated']} "
    f"generated in {info['seconds']:.1f}s; highest support {top}"
)
