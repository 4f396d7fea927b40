"""Snakemake adapter: fit the linear datamodels and write the attributions."""
import _libpath  # noqa: F401  (lib/ on sys.path)
from diffattr.analysis import fit_all
from diffattr.baselines.stage import read_supports
from diffattr.metrics import lower_is_better
from diffattr.jobs import start
from diffattr.pipeline import write_spec

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0], 1, heavy=())
c, target = sm.params.cfg, sm.params.target
baselines = read_supports(sm.input.baselines) if sm.input.get("baselines") else None
fitted = fit_all(sm.input.matrix, target, c["estimators"], c["primary"], c, lower_is_better(target),
                 sm.output.attributions, sm.output.info, sm.output.matrix, baselines)
write_spec(sm.output.info.rsplit("/", 1)[0], sm.params.spec)
for name, att in fitted.items():
    log.info(f"{name}: {att.n_models} models, {att.info}")
