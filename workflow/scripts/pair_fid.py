"""Snakemake adapter: FID2 between one subset's unlearned and retrained models, and its floor."""
import _libpath  # noqa: F401  (lib/ on sys.path)
from pathlib import Path

from diffattr.jobs import start_model_job
from diffattr.pipeline import pair_fids, write_spec
from diffattr.plan import runtime_settings

sm = snakemake  # noqa: F821
log, _, compute = start_model_job(sm.log[0], sm.threads, sm.config.get("compute"))
sid, inp = sm.wildcards.subset, sm.input
out = pair_fids(Path(inp.unlearned) / sid / "model.pt", inp.retrained, inp.floor, inp.classifier, sm.params.scheduler,
                {**sm.params.behaviour, **runtime_settings(sm.config, "behaviour")}, sid, sm.output.pair,
                compute=compute)
write_spec(Path(sm.output.pair).parent, sm.params.spec)
log.info(f"{sid}: FID2 unlearned-retrained {out['unlearn_vs_retrain']:.3f}, floor {out['retrain_vs_retrain']:.3f}")
