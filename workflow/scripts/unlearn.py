"""Snakemake adapter: sparsified unlearning of one batch of subsets (one checkpoint per subset)."""
import _libpath  # noqa: F401  (lib/ on sys.path)
from diffattr.jobs import start_model_job
from diffattr.pipeline import unlearn_batch, write_spec
from diffattr.plan import runtime_settings

sm = snakemake  # noqa: F821
log, startup, compute = start_model_job(sm.log[0], sm.threads, sm.config.get("compute"))
p = sm.params
recipe = {**p.recipe, **runtime_settings(sm.config, "unlearn")}
unlearn_batch(sm.input.start, sm.input.data, sm.input.subsets, recipe, p.scheduler, sm.output.batch,
              log, startup, compute=compute, concurrent=int(recipe.get("concurrent", 1)),
              mode=recipe.get("concurrent_mode", "streams"))
write_spec(sm.output.batch.rsplit("/", 1)[0], p.spec)
