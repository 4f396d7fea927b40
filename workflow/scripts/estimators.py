"""Snakemake adapter: the estimator x behaviour LDS table."""
import _libpath  # noqa: F401  (lib/ on sys.path)
from diffattr.analysis import estimator_table, metrics_by_subset
from diffattr.baselines.stage import read_supports
from diffattr.comparison import table_html
from diffattr.jobs import start
from diffattr.pipeline import write_spec

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0], 1, heavy=())
dm, c = sm.params.datamodel, sm.params.lds
# A second retraining of the test subsets, where the workflow has one, gives the LDS ceiling.
second = metrics_by_subset(sm.input.ceiling) if sm.input.get("ceiling") else None
baselines = read_supports(sm.input.baselines) if sm.input.get("baselines") else None
out = estimator_table(sm.input.matrix, dm["estimators"], dm["primary"], dm, c["n_bootstrap"], c["ci_level"],
                      c["seed"], sm.output.table, sm.output.info, second, baselines)
table_html(sm.output.table, sm.output.html, "LDS of every estimator for every behaviour",
           [out["gap_convention"]] + [n["text"] for n in out["notes"]])
write_spec(sm.output.info.rsplit("/", 1)[0], sm.params.spec)
for r in out["rows"]:
    log.info(f"{r['estimator']:8s} {r['behaviour']:14s} alpha {r['alpha']:g}: LDS {r['lds']:.3f} "
             f"[{r['ci_low']:.3f}, {r['ci_high']:.3f}], {r['gap_to_primary']:+.3f} against {r['primary']}")
for n in out["notes"]:
    log.info(n["text"])
