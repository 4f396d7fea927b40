"""Snakemake adapter: the linear datamodeling score on the retrained test models, the proxy fidelity
on the baseline subsets and, where the test subsets were retrained twice, the LDS ceiling."""
import _libpath  # noqa: F401  (lib/ on sys.path)
from diffattr.analysis import evaluate_lds, metrics_by_subset
from diffattr.jobs import start
from diffattr.pipeline import write_spec

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0], 1, heavy=())
c = sm.params.cfg
second = metrics_by_subset(sm.input.ceiling) if sm.input.get("ceiling") else None
out = evaluate_lds(sm.input.datamodel, sm.input.matrix, c["n_bootstrap"], c["ci_level"], c["seed"], sm.output.lds,
                   metrics_by_subset(sm.input.baseline), second)
write_spec(sm.output.lds.rsplit("/", 1)[0], sm.params.spec)
log.info(f"LDS ({out['estimator']}, {out['behaviour']}) = {out['lds']:.3f}, CI {out['ci95']}; "
         f"proxy fidelity {out['proxy_fidelity']}; ceiling {out['ceiling']}")
