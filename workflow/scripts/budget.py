"""Snakemake adapter: LDS of the unlearning- and the retraining-based datamodel at equal compute."""
import _libpath  # noqa: F401  (lib/ on sys.path)
from diffattr.atomic import read_json
from diffattr.budget import cost_model
from diffattr.comparison import budget_stage
from diffattr.estimators import DATAMODELS
from diffattr.jobs import start
from diffattr.pipeline import read_subsets, write_spec

sm = snakemake  # noqa: F821
log, _ = start(sm.log[0], 1, heavy=())
inp, p = sm.input, sm.params
costs = cost_model(list(zip(inp.retrain_bench, inp.retrain_eval_bench)),
                   list(zip(inp.unlearn_bench, inp.unlearn_eval_bench, p.batch_sizes)),
                   {"train_base": inp.base_bench, "prune_finetune": inp.prune_bench},
                   base_imported=read_json(inp.base_train).get("pretrained") is not None)
# Both sides of the comparison are linear datamodels (the paper's): the primary one when it is one.
est = next(e for e in [p.datamodel["primary"], *p.datamodel["estimators"], "ridge"] if e in DATAMODELS)
fit = {"estimator": est, **{k: p.datamodel[k] for k in ("alphas", "cv_folds", "seed")}}
caption = f"{fit['estimator']} datamodel of {p.target}; unit = {costs['unit_seconds']:.0f} s"
baselines = []
if inp.get("baselines"):  # the cheap baselines as points (cost, LDS) beside the two curves
    from diffattr.baselines.cost import budget_baselines

    baselines = budget_baselines(inp.matrix, list(inp.baselines), inp.baseline_images_bench, list(inp.baseline_bench),
                                 inp.base_bench, inp.prune_bench, costs["unit_seconds"], p.target, fit, p.lds)
out = budget_stage(inp.matrix, read_subsets(inp.subsets), list(inp.baseline), p.target, costs, p.grid, fit, p.lds,
                   sm.output.budget, sm.output.figure, caption, baselines)
write_spec(sm.output.budget.rsplit("/", 1)[0], p.spec)
log.info(f"unit {costs['unit_seconds']:.1f}s, speed-up {costs['speedup']:.1f}x; points {out['points']}")
