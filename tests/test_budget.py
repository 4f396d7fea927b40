"""Compute accounting, the equal-budget curve and Table 1 on synthetic inputs."""

import csv

import numpy as np
import pytest

from diffattr.attribution.budget import (
    benchmark_seconds,
    budget_curve,
    cost_model,
    models_within,
    retrain_batch_costs,
)
from diffattr.core.settings import Bootstrap, DatamodelFit
from diffattr.stages.table1 import table1

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def bench(tmp_path, name, seconds, cpu=None):
    p = tmp_path / f"{name}.tsv"
    p.write_text(HEADER + f"{seconds}\t0:00:01\t1\t1\t1\t1\t0\t0\t50\t{cpu if cpu is not None else seconds}\n")
    return p


def test_benchmark_file_gives_wall_and_cpu_seconds(tmp_path):
    assert benchmark_seconds(bench(tmp_path, "a", 12.5, 11.0)) == {"wall": 12.5, "cpu": 11.0}
    (tmp_path / "empty.tsv").write_text(HEADER)
    with pytest.raises(ValueError, match="empty.tsv: empty benchmark file"):
        benchmark_seconds(tmp_path / "empty.tsv")


def test_cost_model_unit_is_the_median_retrain_job_plus_its_share_of_the_evaluation(tmp_path):
    """Each retrained model costs its training and an equal share of its evaluation batch's job."""
    evaluation = bench(tmp_path, "re", 30)  # one batch evaluates the three: 10 s each
    retrain = [(s, evaluation, 3) for s in [90, 100, 300]]
    unlearn = [
        (bench(tmp_path, "u0", 40), bench(tmp_path, "ue0", 10), 5, 5),
        (bench(tmp_path, "u1", 30), bench(tmp_path, "ue1", 20), 5, 5),
    ]
    costs = cost_model(
        retrain, unlearn, {"train_base": bench(tmp_path, "base", 110), "prune": bench(tmp_path, "p", 55)}
    )
    assert costs["unit_seconds"] == 110.0  # median of 100, 110, 310
    assert costs["unlearn_seconds_per_model"] == 10.0  # (40 + 10 + 30 + 20) / 10
    assert costs["one_off_units"] == pytest.approx(165 / 110)
    assert costs["speedup"] == pytest.approx(11.0)
    assert costs["train_job_speedup"] == pytest.approx(100 / 7.0)
    assert costs["base_imported"] is False and "base training" in costs["one_off_note"]
    # An imported base model: the same figures, and the record says its training is not counted.
    imported = cost_model(
        retrain,
        unlearn,
        {"train_base": bench(tmp_path, "imp", 2), "prune": bench(tmp_path, "p", 55)},
        base_imported=True,
    )
    assert imported["base_imported"] is True and "not counted" in imported["one_off_note"]
    assert imported["one_off_units"] == pytest.approx(57 / 110)


def test_a_retraining_batch_charges_each_model_its_training_and_a_share_of_the_rest(tmp_path):
    """A batch job's start-up, data loading and saving are shared equally; each model keeps its own
    train seconds. A model copied from an earlier batch brings its own train seconds and takes no
    part of this job's training time."""
    job = {"subsets": ["test-0000", "test-0001"], "train_seconds": {"test-0000": 60.0, "test-0001": 80.0}}
    assert retrain_batch_costs(bench(tmp_path, "b", 150), job) == {"test-0000": 65.0, "test-0001": 85.0}
    copied = {**job, "reused": {"test-0000": "test-0000-0001.0123abcd"}}
    # the job trained test-0001 only: 150 - 80 = 70 s of the rest, 35 each
    assert retrain_batch_costs(bench(tmp_path, "c", 150), copied) == {"test-0000": 95.0, "test-0001": 115.0}
    # a job faster than its records' sum (timers' rounding) charges no negative rest
    assert retrain_batch_costs(bench(tmp_path, "d", 139), job) == {"test-0000": 60.0, "test-0001": 80.0}
    with pytest.raises(ValueError, match="trained no model"):
        retrain_batch_costs(bench(tmp_path, "e", 1), {"subsets": [], "train_seconds": {}})


def test_unlearning_cost_is_charged_to_the_models_the_matrix_holds(tmp_path):
    """A batch trains every candidate of its chunk, skipped and excluded ones too; its whole cost
    belongs to the method and is divided by the models the datamodel is fitted on."""
    retrain = [(100.0, bench(tmp_path, "re", 10), 1)]
    unlearn = [
        (bench(tmp_path, "u0", 40), bench(tmp_path, "ue0", 10), 4, 5),  # one candidate equals a test subset
        (bench(tmp_path, "u1", 30), bench(tmp_path, "ue1", 20), 4, 5),
    ]
    costs = cost_model(retrain, unlearn, {"train_base": bench(tmp_path, "b", 1)})
    assert costs["unlearn_models"] == 8 and costs["unlearn_models_trained"] == 10
    assert costs["unlearn_seconds_per_model"] == pytest.approx(100 / 8)
    assert costs["speedup"] == pytest.approx(110 / (100 / 8))
    assert costs["train_job_speedup"] == pytest.approx(100 / (70 / 8))
    assert "charged to the models used" in costs["unlearn_cost_rule"]
    with pytest.raises(ValueError, match="no unlearned model of the train family is used"):
        cost_model(retrain, [(bench(tmp_path, "u2", 5), bench(tmp_path, "ue2", 5), 0, 3)], {})


def test_the_default_plan_divides_by_the_train_rows_of_the_matrix(config):
    """At the default 44 train candidates are unlearned for 40 used: the budget rule's divisor is the
    40 rows the matrix holds, whatever the batches train; excluded subsets leave it too."""
    from diffattr.workflow.draws import SubsetPlan

    plan = SubsetPlan(config)
    per_batch = plan.train_batch_models
    assert set(per_batch) == set(plan.train_batches)
    assert sum(used for used, _ in per_batch.values()) == len(plan.ids("train")) == config["subsets"]["n_train"]
    assert sum(trained for _, trained in per_batch.values()) == plan.draws["train"].candidates > len(plan.ids("train"))
    config["subsets"]["exclude"] = plan.ids("train")[:3]
    fewer = SubsetPlan(config)
    assert sum(used for used, _ in fewer.train_batch_models.values()) == len(fewer.ids("train")) == 37


@pytest.mark.parametrize(
    "budget, one_off, per_model, available, expected",
    [
        (1.0, 1.5, 0.1, 40, (0, False)),  # the one-off cost alone exceeds the budget
        (2.0, 1.5, 0.1, 40, (5, False)),
        (2.0, 0.0, 1.0, 40, (2, False)),  # retraining: one model per unit
        (9.0, 1.0, 0.1, 40, (40, True)),  # more affordable than exist: capped, and said so
    ],
)
def test_models_within_budget(budget, one_off, per_model, available, expected):
    assert models_within(budget, one_off, per_model, available) == expected


def test_budget_curve_refits_on_the_first_models_and_gains_with_budget():
    rng = np.random.default_rng(0)
    n_units, beta = 10, np.linspace(-2, 2, 10)

    def draw(n, noise):
        masks = np.array([rng.permutation(n_units) < n_units // 2 for _ in range(n)])
        return masks, masks @ beta + noise * rng.standard_normal(n)

    unlearn, retrain, test = draw(40, 0.5), draw(8, 0.5), draw(20, 0.0)
    costs = {"one_off_units": 1.0, "unlearn_units_per_model": 0.1}
    fit = DatamodelFit("ridge", (0.01, 0.1, 1.0, 10.0), 5, 0)
    boot = Bootstrap(100, 0.95, 0)
    points = budget_curve([1, 2, 8], costs, unlearn, retrain, test, fit, boot)
    assert [p["unlearn"]["models"] for p in points] == [0, 10, 40]
    assert [p["retrain"]["models"] for p in points] == [1, 2, 8]
    assert points[0]["unlearn"]["lds"] is None and "fewer than 2" in points[0]["unlearn"]["why"]
    assert points[2]["unlearn"]["capped"] and not points[2]["retrain"]["capped"]
    # 40 noisy rows recover the ranking of a 10-unit linear model; the CI brackets the estimate.
    top = points[2]["unlearn"]
    assert top["lds"] > 0.8 and top["ci95"][0] <= top["lds"] <= top["ci95"][1]
    assert top["lds"] > points[1]["unlearn"]["lds"] - 1e-9


def test_table1_rows_and_speedup(tmp_path):
    def beh(fid, seconds, steps):
        return {"metrics": {"fid": fid}, "train_seconds": seconds, "train_steps": steps}

    rows = table1(
        beh(3.0, 0, 0),
        beh(4.0, 0, 0),
        {"steps": 2000, "train_seconds": 120.0},
        {"steps": 600, "train_seconds": 30.0},
        [beh(6.0, 120.0, 2000), beh(8.0, 130.0, 2000)],
        [beh(5.0, 10.0, 200), beh(7.0, 10.0, 200), beh(6.0, 12.0, 200)],
        [
            {"unlearn_vs_retrain": 2.0, "retrain_vs_retrain": 1.0},
            {"unlearn_vs_retrain": 4.0, "retrain_vs_retrain": 1.5},
        ],
        "fid",
        tmp_path / "t.csv",
    )
    by = {r["model"]: r for r in rows}
    assert by["retrained"]["fid"] == 7.0 and by["unlearned"]["fid"] == 6.0
    assert by["unlearned"]["fid2"] == 3.0 and by["retrained"]["fid2"] == 1.25
    assert by["unlearned"]["speedup"] == pytest.approx(125.0 / 10.0)
    with open(tmp_path / "t.csv", newline="") as fh:
        written = list(csv.DictReader(fh))
    assert [r["model"] for r in written] == ["original", "pruned + fine-tuned", "retrained", "unlearned"]


BETA = np.linspace(-2, 2, 10)


def _draw(rng, n, noise, n_units=10, beta=BETA):
    masks = np.array([rng.permutation(n_units) < n_units // 2 for _ in range(n)])
    return masks, masks @ beta + noise * rng.standard_normal(n)


FIT = DatamodelFit("ridge", (0.01, 0.1, 1.0, 10.0), 5, 0)
BOOT = Bootstrap(500, 0.95, 0)


def test_budget_gap_is_paired_and_separates_what_overlapping_cis_cannot():
    """Both methods are scored on the same noisy test models: their separate CIs overlap at some
    budget where the paired CI of the gap still excludes 0."""
    rng = np.random.default_rng(5)
    unlearn, retrain, test = _draw(rng, 40, 0.1), _draw(rng, 8, 3.0), _draw(rng, 40, 2.0)
    points = budget_curve(
        [2, 4, 8], {"one_off_units": 1.0, "unlearn_units_per_model": 0.1}, unlearn, retrain, test, FIT, BOOT
    )
    separated = []
    for p in points:
        u, r, g = p["unlearn"], p["retrain"], p["gap"]
        assert g["gap"] == pytest.approx(u["lds"] - r["lds"]) and g["ci95"][0] <= g["gap"] <= g["ci95"][1]
        overlap = u["ci95"][0] < r["ci95"][1] and r["ci95"][0] < u["ci95"][1]
        if overlap and g["excludes_zero"]:
            separated.append(p["budget"])
    assert separated
    # Identical predictors (the same models on both sides): the paired gap is exactly 0, CI [0, 0].
    same = budget_curve([3], {"one_off_units": 0.0, "unlearn_units_per_model": 1.0}, retrain, retrain, test, FIT, BOOT)
    assert same[0]["gap"] == {
        "gap": 0.0,
        "ci95": [0.0, 0.0],
        "excludes_zero": False,
        "p": 1.0,
        "p_holm": 1.0,
        "n_compared": 1,
        "separated": False,
    }
    # Read across the grid, each gap's p-value is Holm-adjusted over the budgets that have one.
    gaps = [p["gap"] for p in points]
    assert [g["n_compared"] for g in gaps] == [3, 3, 3]
    for g in gaps:
        assert g["p_holm"] >= g["p"] and g["separated"] == (g["p_holm"] < 0.05)
    # Where a method has no LDS there is no gap, and it says why.
    none = budget_curve([1], {"one_off_units": 1.0, "unlearn_units_per_model": 0.1}, unlearn, retrain, test, FIT, BOOT)
    assert none[0]["gap"]["gap"] is None and "no LDS" in none[0]["gap"]["why"]


def test_summary_shows_the_paired_gap_ceiling_and_proxy_fidelity(tmp_path):
    from diffattr.reporting.figures import budget_figure
    from diffattr.reporting.report import summary_html

    rng = np.random.default_rng(5)
    unlearn, retrain, test = _draw(rng, 40, 0.1), _draw(rng, 8, 3.0), _draw(rng, 40, 2.0)
    points = budget_curve(
        [1, 4], {"one_off_units": 1.0, "unlearn_units_per_model": 0.1}, unlearn, retrain, test, FIT, BOOT
    )
    budget_figure(points, tmp_path / "budget.png", "test")
    assert (tmp_path / "budget.png").stat().st_size > 0
    (tmp_path / "t1.csv").write_text("model,fid\noriginal,3.0\n")
    costs = {"unit_seconds": 100.0, "unlearn_seconds_per_model": 10.0, "speedup": 10.0, "one_off_units": 1.0}
    budget = {
        "points": points,
        "costs": costs,
        "all_models": {"retrain": points[1]["retrain"], "gap": points[1]["gap"]},
    }
    lds_res = {
        "estimator": "ridge",
        "behaviour": "fid",
        "lds": 0.7,
        "ci95": [0.5, 0.8],
        "n_train_models": 40,
        "n_test_models": 40,
        "proxy_fidelity": {
            "spearman": 0.81,
            "spearman_ci95": [0.6, 0.9],
            "pearson": 0.85,
            "pearson_ci95": [0.7, 0.95],
            "n_subsets": 8,
        },
    }
    summary_html(lds_res, budget, tmp_path / "t1.csv", "run test", tmp_path / "s.html")
    page = (tmp_path / "s.html").read_text()
    gap = points[1]["gap"]
    assert gap["separated"] and gap["n_compared"] == 1
    expected = f"(unlearning better, Holm-adjusted p {gap['p_holm']:.3g} over 1 budget)"
    assert f"{gap['gap']:+.3f} [{gap['ci95'][0]:+.3f}, {gap['ci95'][1]:+.3f}] {expected}" in page
    assert "One-off cost of the unlearning\nmethod (base training + pruning/fine-tune)" in page
    assert "n/a (a method has no LDS at this budget)" in page  # budget 1: unlearning affords nothing
    assert "LDS ceiling</b> (training noise): LDS ceiling not computed" in page
    assert "Spearman 0.810 [0.600, 0.900], Pearson 0.850 [0.700, 0.950] over 8 subsets" in page
    ceiling = {"spearman": 0.64, "ci95": [0.4, 0.8], "n_subsets": 10, "bound": 0.8}
    summary_html({**lds_res, "ceiling": ceiling}, budget, tmp_path / "t1.csv", "run test", tmp_path / "s.html")
    assert "agree at Spearman 0.640 [0.400, 0.800] over 10 subsets" in (tmp_path / "s.html").read_text()
    noisy = {**ceiling, "noise_sd": 0.9, "spread_sd": 0.7, "noise_share": 0.81 / 0.49}
    summary_html({**lds_res, "ceiling": noisy}, budget, tmp_path / "t1.csv", "run test", tmp_path / "s.html")
    assert (
        "one retraining&#x27;s noise sd 0.9 against a spread (sd) of 0.7 over the test models (165 % of its variance)"
        in (tmp_path / "s.html").read_text()
    )


def test_gap_text_calls_a_budget_only_where_holm_allows_it():
    """A gap whose own CI excludes 0 but whose Holm-adjusted p over the grid does not is not called."""
    from diffattr.reporting.report import gap_text

    marginal = {"gap": 0.2, "ci95": [0.01, 0.4], "excludes_zero": True, "p": 0.03}
    assert gap_text(marginal).endswith("(unlearning better)")  # a single comparison: its CI decides
    over_grid = {**marginal, "p_holm": 0.15, "n_compared": 5, "separated": False}
    assert gap_text(over_grid) == "+0.200 [+0.010, +0.400] (not separated: Holm-adjusted p 0.15 over 5 budgets)"
    assert "retraining better" in gap_text({**over_grid, "gap": -0.2, "p_holm": 0.01, "separated": True})


def test_summary_says_when_the_base_models_training_was_not_paid_in_the_run(tmp_path):
    from diffattr.reporting.report import summary_html

    (tmp_path / "t1.csv").write_text("model,fid\noriginal,3.0\n")
    costs = {"unit_seconds": 100.0, "unlearn_seconds_per_model": 10.0, "speedup": 10.0, "one_off_units": 0.2}
    none = {"unlearn": {"lds": None}, "retrain": {"lds": None}, "gap": {"gap": None}}
    lds_res = {"estimator": "ridge", "behaviour": "fid", "lds": 0.5, "ci95": [0.1, 0.8], "n_train_models": 4}
    lds_res["n_test_models"] = 5
    budget = {"points": [], "costs": {**costs, "base_imported": True}, "all_models": none}
    summary_html(lds_res, budget, tmp_path / "t1.csv", "run", tmp_path / "s.html")
    page = (tmp_path / "s.html").read_text()
    assert "importing the pretrained base model, whose training is not counted, + pruning/fine-tune" in page
    assert "base training +" not in page
