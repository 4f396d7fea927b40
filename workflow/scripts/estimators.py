"""Stage estimators: the estimator x behaviour LDS table."""

import _libpath  # noqa: F401  (lib/ on sys.path)

from diffattr.attribution.baselines.aggregate import read_supports
from diffattr.attribution.lds import metrics_by_subset
from diffattr.core.jobs import start
from diffattr.core.settings import Bootstrap, Datamodels
from diffattr.stages.estimators import estimator_table
from diffattr.workflow.layout import wanted_behaviours, write_spec

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0])
inp = wanted_behaviours(sm.input.items(), sm.params.ids)
out = estimator_table(
    matrix=inp["matrix"],
    **sm.output,
    datamodel=Datamodels.from_config(sm.params.datamodel),
    settings=Bootstrap.from_config(sm.params.lds),
    # A second retraining of the test subsets, where the workflow has one, gives the LDS ceiling.
    ceiling=metrics_by_subset(inp["ceiling"]) if inp.get("ceiling") else None,
    # The cheap baselines' unit support, where datamodel.estimators lists one.
    baselines=read_supports(inp["baselines"]) if inp.get("baselines") else None,
    seeds=metrics_by_subset(inp["seeds"]) if inp.get("seeds") else None,
    test_seeds=sm.params.lds.get("test_seeds", 1),  # in the hashed lds section only above 1
)
write_spec(sm.params.spec)
for r in out["rows"]:
    log.info(
        f"{r['estimator']:8s} {r['behaviour']:14s} alpha {r['alpha']:g}: LDS {r['lds']:.3f} "
        f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}], {r['gap_to_primary']:+.3f} against {r['primary']}"
    )
for n in out["notes"]:
    log.info(n["text"])
