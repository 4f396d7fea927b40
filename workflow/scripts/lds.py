"""Stage lds: the linear datamodeling score on the retrained test models, the proxy fidelity on the
baseline subsets and, where the test subsets were retrained twice, the LDS ceiling."""

import _libpath  # noqa: F401  (lib/ on sys.path)

from diffattr.jobs import start
from diffattr.layout import write_spec
from diffattr.stages.lds import evaluate_lds, metrics_by_subset

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0])
c, inp = sm.params.cfg, sm.input
second = metrics_by_subset(inp.ceiling) if inp.get("ceiling") else None
out = evaluate_lds(
    inp.datamodel,
    inp.matrix,
    c["n_bootstrap"],
    c["ci_level"],
    c["seed"],
    sm.output.lds,
    metrics_by_subset(inp.baseline),
    second,
    baseline_seeds=metrics_by_subset(inp.baseline_seeds) if inp.get("baseline_seeds") else None,
    seed_retrain=metrics_by_subset(inp.seeds) if inp.get("seeds") else None,
    test_seeds=c.get("test_seeds", 1),  # in the hashed lds section only above 1
)
write_spec(sm.params.spec)
log.info(
    f"LDS ({out['estimator']}, {out['behaviour']}) = {out['lds']:.3f}, CI {out['ci95']}; "
    f"proxy fidelity {out['proxy_fidelity']}; ceiling {out['ceiling']}"
)
