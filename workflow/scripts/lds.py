"""Stage lds: the linear datamodeling score on the retrained test models, the proxy fidelity on the
baseline subsets and, where the test subsets were retrained twice, the LDS ceiling."""

import _libpath  # noqa: F401  (lib/ on sys.path)

from diffattr.attribution.lds import metrics_by_subset
from diffattr.core.jobs import start
from diffattr.core.settings import Bootstrap
from diffattr.stages.lds import evaluate_lds
from diffattr.workflow.layout import wanted_behaviours, write_spec

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0])
# The behaviour files of the baseline, ceiling and seed retrainings (inside their evaluation batches),
# read into subset id -> behaviours.
inp = wanted_behaviours(sm.input.items(), sm.params.ids)
out = evaluate_lds(
    datamodel=inp["datamodel"],
    matrix=inp["matrix"],
    **sm.output,
    settings=Bootstrap.from_config(sm.params.cfg),
    baseline=metrics_by_subset(inp["baseline"]),
    ceiling=metrics_by_subset(inp["ceiling"]) if inp.get("ceiling") else None,
    baseline_seeds=metrics_by_subset(inp["baseline_seeds"]) if inp.get("baseline_seeds") else None,
    seeds=metrics_by_subset(inp["seeds"]) if inp.get("seeds") else None,
    test_seeds=sm.params.cfg.get("test_seeds", 1),  # in the hashed lds section only above 1
)
write_spec(sm.params.spec)
log.info(
    f"LDS ({out['estimator']}, {out['behaviour']}) = {out['lds']:.3f}, CI {out['ci95']}; "
    f"proxy fidelity {out['proxy_fidelity']}; ceiling {out['ceiling']}"
)
