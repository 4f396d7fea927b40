"""Stage datamodel: fit the estimators and write the attributions."""

import _libpath  # noqa: F401  (lib/ on sys.path)

from diffattr.attribution.baselines.aggregate import read_supports
from diffattr.core.jobs import start
from diffattr.core.settings import Datamodels
from diffattr.stages.datamodel import fit_all
from diffattr.workflow.layout import write_spec

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0])
fitted = fit_all(
    matrix=sm.input.matrix,
    **sm.output,
    settings=Datamodels.from_config(sm.params.cfg),
    target=sm.params.target,
    # The cheap baselines' unit support, where datamodel.estimators lists one.
    baselines=read_supports(sm.input.baselines) if sm.input.get("baselines") else None,
)
write_spec(sm.params.spec)
for name, att in fitted.items():
    log.info(f"{name}: {att.n_models} models, {att.info}")
