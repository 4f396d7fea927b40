"""Stage budget: LDS of the unlearning- and the retraining-based datamodel at equal compute."""

import _libpath  # noqa: F401  (lib/ on sys.path)

from diffattr.core.jobs import start
from diffattr.core.settings import BudgetSettings
from diffattr.stages.budget import make_budget
from diffattr.workflow.layout import wanted_behaviours, write_spec

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0])
p = sm.params
out = make_budget(
    **wanted_behaviours(sm.input.items(), p.ids),
    **sm.output,
    batch_models=p.batch_models,
    retrain_ids=p.retrain_ids,
    retrain_eval=p.retrain_eval,
    settings=BudgetSettings.from_config(p.grid, p.datamodel, p.lds, p.target),
    # lds.test_seeds as hashed into the budget (only above 1: no key in the spec = 1 seed)
    test_seeds=p.spec["config"].get("lds.test_seeds", 1),
)
write_spec(p.spec)
costs = out["costs"]
log.info(f"unit {costs['unit_seconds']:.1f}s, speed-up {costs['speedup']:.1f}x; points {out['points']}")
