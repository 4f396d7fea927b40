"""Stage budget: LDS of the unlearning- and the retraining-based datamodel at equal compute."""

import _libpath  # noqa: F401  (lib/ on sys.path)

from diffattr.jobs import start
from diffattr.layout import write_spec
from diffattr.stages.budget import BaselineFiles, make_budget
from diffattr.stages.lds import metrics_by_subset

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0])
inp, p = sm.input, sm.params
# The cheap baselines, where datamodel.estimators lists one: points (cost, LDS) beside the two curves.
baselines = (
    BaselineFiles(list(inp.baselines), inp.baseline_images_bench, list(inp.baselines_bench))
    if inp.get("baselines")
    else None
)
out = make_budget(
    inp.matrix,
    inp.subsets,
    list(inp.baseline),
    list(zip(inp.retrain_bench, inp.retrain_eval_bench)),
    [(b, e, used, trained) for b, e, (used, trained) in zip(inp.unlearn_bench, inp.unlearn_eval_bench, p.batch_models)],
    {"train_base": inp.base_bench, "prune_finetune": inp.prune_bench},
    inp.base_train,
    p.datamodel,
    p.lds,
    p.grid,
    p.target,
    sm.output.budget,
    sm.output.figure,
    baselines,
    seed_retrain=metrics_by_subset(inp.seeds) if inp.get("seeds") else None,
    # lds.test_seeds as hashed into the budget (only above 1: no key in the spec = 1 seed)
    test_seeds=p.spec["config"].get("lds.test_seeds", 1),
)
write_spec(p.spec)
costs = out["costs"]
log.info(f"unit {costs['unit_seconds']:.1f}s, speed-up {costs['speedup']:.1f}x; points {out['points']}")
