"""Snakemake adapter: a grid of one model's samples from the shared initial noises."""
import _libpath  # noqa: F401  (lib/ on sys.path)
from pathlib import Path

from diffattr.jobs import start_model_job
from diffattr.pipeline import sample_grid, write_spec

sm = snakemake  # noqa: F821
log, _, compute = start_model_job(sm.log[0], sm.threads, sm.config.get("compute"))
p, kind = sm.params, sm.wildcards.kind
model = Path(sm.input.model) / p.subset / "model.pt" if kind == "unlearned" else sm.input.model
title = f"{kind} model" + (f" ({p.subset})" if kind in ("unlearned", "retrained") else "")
sample_grid(model, p.scheduler, p.behaviour, p.n, title, sm.output.grid, compute=compute)
write_spec(Path(sm.output.grid).parent, p.spec)
log.info(f"{kind}: {p.n} samples -> {sm.output.grid}")
