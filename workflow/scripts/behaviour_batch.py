"""Snakemake adapter: behaviours of every unlearned model in one batch, from the shared noises."""
import _libpath  # noqa: F401  (lib/ on sys.path)
from pathlib import Path

from diffattr.jobs import start_model_job
from diffattr.pipeline import evaluate_batch, write_spec
from diffattr.plan import runtime_settings

sm = snakemake  # noqa: F821
log, startup, compute = start_model_job(sm.log[0], sm.threads, sm.config.get("compute"))
inp = sm.input
job = evaluate_batch(inp.batch, inp.classifier, inp.reference, sm.params.scheduler,
                     {**sm.params.behaviour, **runtime_settings(sm.config, "behaviour")},
                     "unlearn", sm.output.behaviour, log, startup, compute=compute)
write_spec(Path(sm.output.behaviour).parent, sm.params.spec)
log.info(f"{len(job['subsets'])} models in {job['job_seconds']:.1f}s (start-up {job.get('startup_share', 0):.1%})")
