"""Snakemake adapter: sample one model from the shared noises and compute its behaviours."""
import _libpath  # noqa: F401  (lib/ on sys.path)
from pathlib import Path

from diffattr.jobs import start_model_job
from diffattr.pipeline import evaluate_model, write_spec
from diffattr.plan import runtime_settings

sm = snakemake  # noqa: F821
log, startup, compute = start_model_job(sm.log[0], sm.threads, sm.config.get("compute"))
sid, inp = sm.wildcards.subset, sm.input
out = evaluate_model(inp.model, inp.train, inp.classifier, inp.reference, sm.params.scheduler,
                     {**sm.params.behaviour, **runtime_settings(sm.config, "behaviour")},
                     sm.params.source, sid, sm.output.behaviour, startup, compute=compute)
write_spec(Path(sm.output.behaviour).parent, sm.params.spec)
log.info(f"{sm.params.source} {sid}: {out['metrics']} in {out['eval_seconds']:.1f}s")
