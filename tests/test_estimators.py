"""Banzhaf, KernelSHAP and leave-one-out on games with known values; their subset families; units
from k-means and CSV; the counterfactual removal plan."""

import itertools
from math import factorial

import numpy as np
import pytest
from conftest import LASSO_PATH

from diffattr.attribution.counterfactual import removal_count, removal_id, removal_plan
from diffattr.attribution.datamodel import harmful_units, helpfulness, level_identified, relative_scores, unit_grids
from diffattr.attribution.estimators import LEVEL_BY_DESIGN, banzhaf_msr, fit_estimator, kernel_shap, leave_one_out
from diffattr.attribution.matrix import Matrix
from diffattr.attribution.subsets import csv_units, draw_subset, kmeans_units, mask_of, shapley_kernel_sizes
from diffattr.core.settings import Bootstrap, DatamodelFit, Datamodels, DataSource, Units
from diffattr.core.stats import spearman

N = 6
BETA = np.array([1.0, -2.0, 0.5, 0.0, 3.0, -1.0])
GAMMA = 4.0  # interaction of units 0 and 1


def game(mask: np.ndarray) -> float:
    """Additive plus one pairwise interaction: Shapley gives each partner half of it, Banzhaf too,
    leave-one-out all of it."""
    return 10.0 + float(mask @ BETA) + GAMMA * float(mask[0] and mask[1])


def exact_shapley(v=game) -> np.ndarray:
    phi = np.zeros(N)
    for i in range(N):
        others = [j for j in range(N) if j != i]
        for r in range(N):
            for S in itertools.combinations(others, r):
                m = mask_of(np.array(S, dtype=int), N)
                w = factorial(len(S)) * factorial(N - len(S) - 1) / factorial(N)
                m_i = m.copy()
                m_i[i] = True
                phi[i] += w * (v(m_i) - v(m))
    return phi


def masks_of(family: str, n: int) -> np.ndarray:
    return np.array([mask_of(draw_subset(N, 0.5, 0, family, i), N) for i in range(n)])


def test_families_have_their_shapes():
    for i in range(50):
        u = draw_subset(N, 0.5, 0, "uniform", i)
        assert 0 < len(u) < N
        assert len(draw_subset(N, 0.5, 0, "kernel", i)) in range(1, N)
        assert len(draw_subset(20, 0.5, 0, "test25", i)) == 5 and len(draw_subset(20, 0.5, 0, "test75", i)) == 15
    assert draw_subset(N, 0.5, 0, "loo", 2).tolist() == [0, 1, 3, 4, 5]
    assert draw_subset(N, 0.5, 0, "full", 0).tolist() == list(range(N))
    with pytest.raises(ValueError, match="only 6 units"):
        draw_subset(N, 0.5, 0, "loo", 6)
    # The datamodel's train/test draws are what they were before the other families existed.
    entropy = np.random.SeedSequence([0, 1, 3]).generate_state(1)[0]
    assert draw_subset(10, 0.5, 0, "train", 3).tolist() == sorted(np.random.RandomState(entropy).permutation(10)[:5])


def test_kernel_family_sizes_follow_the_shapley_kernel():
    sizes = np.array([len(draw_subset(N, 0.5, 0, "kernel", i)) for i in range(4000)])
    freq = np.bincount(sizes, minlength=N)[1:] / len(sizes)
    assert np.allclose(freq, shapley_kernel_sizes(N), atol=0.025)
    # sizes 1 and N-1 are the likeliest under the kernel
    assert freq[0] > freq[N // 2 - 1] and freq[-1] > freq[N // 2 - 1]


def test_kernel_shap_converges_to_exact_shapley_values():
    full, empty = game(np.ones(N, bool)), game(np.zeros(N, bool))
    errors = []
    for n in (500, 16000):
        masks = masks_of("kernel", n)
        att = kernel_shap(masks, np.array([game(m) for m in masks]), full, empty)
        assert att.coef.sum() == pytest.approx(full - empty)  # the efficiency constraint holds exactly
        errors.append(np.abs(att.coef - exact_shapley()).max())
    assert errors[1] < 0.05 and errors[1] < errors[0] / 2
    assert att.coef[0] == pytest.approx(BETA[0] + GAMMA / 2, abs=0.05)


def test_kernel_shap_with_fewer_models_than_units_still_meets_the_constraint():
    rng = np.random.default_rng(0)
    masks = rng.random((5, 40)) < 0.5
    att = kernel_shap(masks, rng.normal(size=5), 3.0, 1.0)
    assert np.isfinite(att.coef).all() and att.coef.sum() == pytest.approx(2.0)


def test_banzhaf_msr_recovers_banzhaf_values():
    # Ten units: redrawing the empty and the full set shifts each estimate by 1/511 of the other
    # units' total effect, far below the sampling error here.
    n = 10
    beta = np.r_[BETA, 2.0, -0.5, 1.5, 0.0]
    masks = np.array([mask_of(draw_subset(n, 0.5, 0, "uniform", i), n) for i in range(8000)])
    y = 10.0 + masks @ beta + GAMMA * (masks[:, 0] & masks[:, 1])
    att = banzhaf_msr(masks, y)
    # Banzhaf of this game: beta_i, plus gamma / 2 for units 0 and 1 (partner present half the time).
    expected = beta + np.r_[GAMMA / 2, GAMMA / 2, np.zeros(n - 2)]
    assert np.allclose(att.coef, expected, atol=0.2)
    assert att.info["min_in"] > 3800


def test_banzhaf_names_a_unit_never_left_out():
    masks = np.ones((4, 3), bool)
    masks[:, 1] = [True, False, True, False]
    with pytest.raises(ValueError, match="unit 0 is in every or in no uniform subset"):
        banzhaf_msr(masks, np.arange(4.0))


def test_leave_one_out_is_exact_and_needs_every_unit():
    masks = np.array([mask_of(draw_subset(N, 0.5, 0, "loo", i), N) for i in range(N)])[::-1]
    y = np.array([game(m) for m in masks])
    full = game(np.ones(N, bool))
    att = leave_one_out(masks, y, full)
    expected = BETA + np.array([GAMMA, GAMMA, 0, 0, 0, 0])
    assert np.allclose(att.coef, expected)
    with pytest.raises(ValueError, match="no leave-one-out model"):
        leave_one_out(masks[1:], y[1:], full)


DELTA = 6.0  # a three-way interaction of units 0, 1 and 2


def game3(mask: np.ndarray) -> float:
    """Not additive: the three-way term splits differently under each estimator (Shapley DELTA/3 to
    each partner, Banzhaf DELTA/4, leave-one-out all of it), so they cannot agree by accident."""
    return game(mask) + DELTA * float(mask[0] and mask[1] and mask[2])


def all_masks(sizes=range(N + 1)) -> np.ndarray:
    return np.array([mask_of(np.array(S, dtype=int), N) for r in sizes for S in itertools.combinations(range(N), r)])


def exact_values(v) -> dict[str, np.ndarray]:
    """Each estimator's own population value, by enumeration."""
    every = all_masks()
    values = np.array([v(m) for m in every])
    # Banzhaf by maximum sample reuse on uniform subsets, the empty and the full set redrawn.
    proper = (every.sum(1) > 0) & (every.sum(1) < N)
    banzhaf = np.array([values[proper & every[:, i]].mean() - values[proper & ~every[:, i]].mean() for i in range(N)])
    full = v(np.ones(N, bool))
    loo = np.array([full - v(~np.eye(N, dtype=bool)[i]) for i in range(N)])
    # The datamodel: least squares over every alpha-sized subset; only differences between units
    # are identified there, so its value is centred.
    half = all_masks([N // 2])
    X = np.c_[np.ones(len(half)), half]
    ols = np.linalg.lstsq(X, [v(m) for m in half], rcond=None)[0][1:]
    return {"shapley": exact_shapley(v), "banzhaf": banzhaf, "loo": loo, "ridge": ols - ols.mean()}


def test_fit_estimator_uses_each_family_of_the_matrix():
    """On a non-additive game each estimator lands on its own exact value, computed by enumeration,
    which it reaches only from its own family of the matrix."""
    fams = {
        "train": np.repeat(all_masks([N // 2]), 3, axis=0),
        "uniform": masks_of("uniform", 4000),
        "kernel": masks_of("kernel", 16000),
        "loo": np.array([mask_of(draw_subset(N, 0.5, 0, "loo", i), N) for i in range(N)]),
        "full": np.ones((1, N), bool),
        "test": masks_of("test", 5),
    }
    masks, sids, source = [], [], []
    for fam, ms in fams.items():
        for i, m in enumerate(ms):
            masks.append(m)
            sids.append(f"{fam}-{i:04d}")
            source.append("retrain" if fam == "test" else "unlearn")
    masks.append(np.zeros(N, bool))
    sids.append("empty")
    source.append("init")
    masks = np.array(masks)
    y = np.array([game3(m) for m in masks])[:, None]
    m = Matrix(masks, y, ["fid"], [f"u{i}" for i in range(N)], sids, source, np.zeros(len(sids)))
    assert m.families("unlearn") == ["full", "kernel", "loo", "train", "uniform"]
    exact = exact_values(game3)
    # The values differ between estimators by far more than the tolerance below.
    for a, b in itertools.combinations(["shapley", "banzhaf", "loo"], 2):
        assert np.abs(exact[a] - exact[b]).max() > 0.45, (a, b)
    fitted = {
        name: fit_estimator(m, "fid", DatamodelFit(name, [1e-6], 3, 0))
        for name in ("ridge", "banzhaf", "shapley", "loo")
    }
    assert {n: a.n_models for n, a in fitted.items()} == {"ridge": 60, "banzhaf": 4000, "shapley": 16000, "loo": N}
    assert np.abs(fitted["shapley"].coef - exact["shapley"]).max() < 0.15
    assert np.abs(fitted["banzhaf"].coef - exact["banzhaf"]).max() < 0.15
    assert fitted["loo"].coef == pytest.approx(exact["loo"])
    ridge = fitted["ridge"].coef
    assert ridge - ridge.mean() == pytest.approx(exact["ridge"], abs=1e-3)
    shap = fitted["shapley"]
    assert shap.info["v_empty"] == pytest.approx(10.0) and shap.info["v_full"] == pytest.approx(game3(np.ones(N, bool)))


def test_kmeans_units_cover_every_sample_once():
    rng = np.random.default_rng(0)
    feats = np.concatenate([rng.normal(c * 10, 1, (30, 4)) for c in range(3)])
    units = kmeans_units(feats, 3, 0)
    assert len(units) == 3 and sorted(np.concatenate(units.members).tolist()) == list(range(90))
    assert sorted(len(m) for m in units.members) == [30, 30, 30]  # the planted blobs
    with pytest.raises(ValueError, match="attribution.kmeans.k=90"):
        kmeans_units(feats, 90, 0)


def test_csv_units_and_their_errors(tmp_path):
    good = tmp_path / "units.csv"
    good.write_text("index,unit\n0,a\n1,b\n2,a\n3,b\n")
    units = csv_units(str(good), 4)
    assert units.ids == ("a", "b") and [m.tolist() for m in units.members] == [[0, 2], [1, 3]]
    cases = {
        "index,unit\n0,a\n1,b\n2,a\n": "1 training indices have no unit",
        "index,unit\n0,a\n1,b\n2,a\n7,b\n": "line 5: index '7' is not a training index",
        "index,unit\n0,a\n0,b\n1,a\n2,a\n3,b\n": "index 0 assigned twice",
        "idx,group\n0,a\n": "needs a header",
    }
    for text, message in cases.items():
        bad = tmp_path / "bad.csv"
        bad.write_text(text)
        with pytest.raises(ValueError, match=message):
            csv_units(str(bad), 4)
    with pytest.raises(ValueError, match="not found"):
        csv_units(str(tmp_path / "missing.csv"), 4)


def test_removal_plan_takes_the_most_helpful_units_and_shares_equal_sets():
    ids = [f"u{i}" for i in range(10)]
    coef = {u: float(i) for i, u in enumerate(ids)}  # including u0 lowers FID most: most helpful
    plan = removal_plan(
        {"ridge": coef, "banzhaf": dict(coef), "loo": {u: -c for u, c in coef.items()}},
        ids,
        lower_is_better=True,
        fractions=[0.2],
        n_random=3,
        seed=0,
    )
    tops = {r["estimator"]: r for r in plan["removals"] if r["kind"] == "top"}
    assert tops["ridge"]["removed"] == ["u0", "u1"] and tops["loo"]["removed"] == ["u8", "u9"]
    assert tops["ridge"]["id"] == tops["banzhaf"]["id"] == removal_id(["u1", "u0"])
    randoms = [r for r in plan["removals"] if r["kind"] == "random"]
    assert len(randoms) == 3 and all(len(r["removed"]) == 2 for r in randoms)
    again = removal_plan({"ridge": coef}, ids, True, [0.2], 3, 0)
    assert [r["id"] for r in again["removals"] if r["kind"] == "random"] == [r["id"] for r in randoms]
    with pytest.raises(ValueError, match="counterfactual.fractions"):
        removal_count(0.99, 10)


# --- Whether a fit identifies the sign of a unit's effect -------------------------------------------

UNITS = 10
ALL_NEGATIVE = -np.linspace(1.0, 3.0, UNITS)  # every unit lowers FID when included: every unit helps
ONE_POSITIVE = ALL_NEGATIVE.copy()
ONE_POSITIVE[3] = 2.0  # ... but unit 3 raises FID: the one truly harmful unit


def planted_matrix(beta: np.ndarray, seed: int = 0, n_test: int = 5) -> Matrix:
    """FID-like behaviours of an additive game: 60 alpha-sized (train) subsets, 1,000 uniform ones,
    n_test retrained test subsets; unit ids as class units name them."""
    rng = np.random.default_rng(seed)
    fams = {
        "train": np.array([mask_of(draw_subset(UNITS, 0.5, seed, "train", i), UNITS) for i in range(60)]),
        "uniform": np.array([mask_of(draw_subset(UNITS, 0.5, seed, "uniform", i), UNITS) for i in range(1000)]),
        "test": np.array([mask_of(draw_subset(UNITS, 0.5, seed, "test", i), UNITS) for i in range(n_test)]),
    }
    masks = np.concatenate(list(fams.values()))
    sids = [f"{fam}-{i:04d}" for fam, ms in fams.items() for i in range(len(ms))]
    source = ["retrain" if s.startswith("test") else "unlearn" for s in sids]
    y = 60.0 + masks @ beta + 0.3 * rng.normal(size=len(masks))
    return Matrix(
        masks,
        y[:, None],
        ["fid"],
        [f"class-{d}" for d in range(UNITS)],
        sids,
        source,
        np.ones(len(sids)),
        {"alpha": 0.5, "unit": "class"},
    )


def test_level_is_identified_only_where_subset_sizes_vary_and_by_design():
    m = planted_matrix(ALL_NEGATIVE)
    assert not level_identified(m.masks[m.rows("unlearn", "train")])
    assert level_identified(m.masks[m.rows("unlearn", "uniform")])
    # The report's labels (fixed at parse time) assume the same as the fitted masks show.
    for name in ("ridge", "lasso", "banzhaf"):
        att = fit_estimator(m, "fid", DatamodelFit(name, [1e-3, 1e-2, 0.1], 3, 0, LASSO_PATH))
        assert att.level_identified == LEVEL_BY_DESIGN[name], name
    # Banzhaf by maximum sample reuse on equal-sized subsets sums to about 0 as well (exactly, with
    # balanced draws), whatever the true total (-20 here): not identified there.
    train = m.rows("unlearn", "train")
    on_train = banzhaf_msr(m.masks[train], m.behaviour("fid")[train])
    assert not on_train.level_identified and abs(on_train.coef.sum()) < 0.5


def test_all_negative_effects_no_unit_is_called_harmful():
    m = planted_matrix(ALL_NEGATIVE)
    ridge = fit_estimator(m, "fid", DatamodelFit("ridge", [1e-3, 1e-2, 0.1], 3, 0))
    score = helpfulness(ridge.coef, lower_is_better=True)
    # The artefact: ridge on alpha-sized subsets returns coefficients summing to 0, so about half the
    # units get a negative score although every unit helps; the ranking is still right.
    assert ridge.coef.sum() == pytest.approx(0, abs=1e-6) and (score < 0).sum() >= 3
    assert spearman(score, -ALL_NEGATIVE) > 0.95
    assert harmful_units(score, ridge.level_identified) == []
    grids = unit_grids(score, ridge.level_identified, 4)
    assert grids["top"][0] == "highest-ranked" and "not harmful" in grids["bottom"][0]
    assert relative_scores(score) == pytest.approx(score - score.mean())
    # Banzhaf on uniform subsets identifies the level: every unit helps, none is harmful.
    banzhaf = fit_estimator(m, "fid", DatamodelFit("banzhaf", [0.1], 3, 0))
    b_score = helpfulness(banzhaf.coef, lower_is_better=True)
    assert banzhaf.level_identified and (b_score > 0).all()
    assert harmful_units(b_score, True) == [] and unit_grids(b_score, True, 4)["bottom"] == ("most harmful", [])


def test_one_truly_harmful_unit_is_the_only_one_called_harmful():
    m = planted_matrix(ONE_POSITIVE)
    banzhaf = fit_estimator(m, "fid", DatamodelFit("banzhaf", [0.1], 3, 0))
    b_score = helpfulness(banzhaf.coef, lower_is_better=True)
    assert harmful_units(b_score, banzhaf.level_identified) == [3]
    assert unit_grids(b_score, True, 4)["bottom"] == ("most harmful", [3])
    ridge = fit_estimator(m, "fid", DatamodelFit("ridge", [1e-3, 1e-2, 0.1], 3, 0))
    r_score = helpfulness(ridge.coef, lower_is_better=True)
    # The datamodel ranks unit 3 last but cannot say it harms: still nothing called harmful.
    assert int(np.argmin(r_score)) == 3 and harmful_units(r_score, ridge.level_identified) == []


def _figure_titles(tmp_path, m: Matrix, primary: str) -> list[tuple[str, list[str]]]:
    """Fit through fit_all and draw the report's unit grids; the grids' titles and unit ids."""
    import json
    from unittest import mock

    from diffattr.attribution.matrix import write_matrix
    from diffattr.stages.data import make_data
    from diffattr.stages.datamodel import fit_all
    from diffattr.stages.figures import attribution_figures

    if not (tmp_path / "data.npz").exists():
        make_data(settings=DataSource("digits"), data=tmp_path / "data.npz", info=tmp_path / "data.json")
    write_matrix(tmp_path / "matrix.h5", m)
    cfg = {"alphas": [1e-3, 1e-2, 0.1], "cv_folds": 3, "seed": 0}
    fit_all(
        matrix=tmp_path / "matrix.h5",
        attributions=tmp_path / "att.csv",
        info=tmp_path / "dm.json",
        fitted=tmp_path / "dm.h5",
        settings=Datamodels.from_config({**cfg, "estimators": ["ridge", "banzhaf"], "primary": primary}),
        target="fid",
    )
    (tmp_path / "lds.json").write_text(
        json.dumps(
            {
                "estimator": primary,
                "behaviour": "fid",
                "lds": 0.5,
                "n_test_models": 5,
                "actual": [1, 2, 3, 4, 5],
                "estimators": {primary: {"predicted": [1, 2, 3, 5, 4]}},
            }
        )
    )
    drawn = []

    def record(rows, out, title):
        drawn.append((title, [r[0] for r in rows]))

    with mock.patch("diffattr.reporting.figures.unit_rows_figure", record):
        attribution_figures(
            lds=tmp_path / "lds.json",
            attributions=tmp_path / "att.csv",
            data=tmp_path / "data.npz",
            scatter=tmp_path / "s.png",
            histogram=tmp_path / "h.png",
            top=tmp_path / "top.png",
            bottom=tmp_path / "bottom.png",
            units=Units("class"),
            top_k=4,
        )
    return drawn


def _calls_harmful(title: str) -> bool:
    return "harmful" in title.replace("not harmful", "")


def test_report_grids_call_no_unit_harmful_from_an_unidentified_fit(tmp_path):
    drawn = _figure_titles(tmp_path, planted_matrix(ALL_NEGATIVE), "ridge")
    assert len(drawn) == 2 and not any(_calls_harmful(title) for title, _ in drawn), drawn
    assert all(units for _, units in drawn)  # both grids still show the top and the bottom of the ranking
    # With an estimator that identifies the level, the harmful grid holds exactly the harmful units.
    drawn = dict(_figure_titles(tmp_path, planted_matrix(ONE_POSITIVE), "banzhaf"))
    harmful = [units for title, units in drawn.items() if _calls_harmful(title)]
    assert harmful == [["class-3"]]


# --- The estimator table: gaps to the primary estimator ---------------------------------------------


def test_estimator_table_reports_gaps_to_the_primary_not_to_the_best(tmp_path):
    import csv

    from diffattr.attribution.matrix import write_matrix
    from diffattr.stages.estimators import estimator_table

    m = planted_matrix(ONE_POSITIVE, n_test=20)
    rng = np.random.default_rng(1)
    m.behaviours[m.rows("unlearn", "train"), 0] += rng.normal(0, 6, 60)  # the datamodel's models are noisy
    m.behaviours[m.rows("retrain"), 0] += rng.normal(0, 2, 20)
    write_matrix(tmp_path / "m.h5", m)
    cfg = {"alphas": [1e-3, 0.1, 10.0], "cv_folds": 3, "seed": 0}

    def table(primary):
        out = estimator_table(
            matrix=tmp_path / "m.h5",
            table=tmp_path / f"{primary}.csv",
            info=tmp_path / f"{primary}.json",
            datamodel=Datamodels.from_config({**cfg, "estimators": ["ridge", "banzhaf"], "primary": primary}),
            settings=Bootstrap(500, 0.95, 0),
        )
        return out, {r["estimator"]: r for r in out["rows"]}

    out, rows = table("ridge")
    assert rows["ridge"]["lds"] < rows["banzhaf"]["lds"]  # the primary is not the best here...
    assert rows["ridge"]["gap_to_primary"] == 0 and np.isnan(rows["ridge"]["gap_ci_low"])  # ...and stays the reference
    gap = rows["banzhaf"]["gap_to_primary"]
    assert gap == pytest.approx(rows["banzhaf"]["lds"] - rows["ridge"]["lds"]) and gap > 0
    assert rows["banzhaf"]["gap_ci_low"] <= gap <= rows["banzhaf"]["gap_ci_high"]
    assert rows["banzhaf"]["highest_lds"] and not rows["ridge"]["highest_lds"]
    assert [n["highest"] for n in out["notes"]] == ["banzhaf"] and "gap_to_primary = " in out["gap_convention"]
    assert rows["ridge"]["ceiling"] is None  # no second retraining given: not computed
    with open(tmp_path / "ridge.csv", newline="") as fh:
        written = list(csv.DictReader(fh))
    assert {r["primary"] for r in written} == {"ridge"} and [r["highest_lds"] for r in written] == ["0", "1"]
    assert [r["gap_ci_low"] == "" for r in written] == [True, False] and written[0]["ceiling"] == ""
    # Another primary moves the reference, not the LDS.
    _, rows_b = table("banzhaf")
    assert rows_b["ridge"]["gap_to_primary"] == pytest.approx(-gap) and rows_b["banzhaf"]["gap_to_primary"] == 0
    with pytest.raises(ValueError, match="datamodel.primary: 'loo' is not one of"):
        estimator_table(
            matrix=tmp_path / "m.h5",
            table=tmp_path / "x.csv",
            info=tmp_path / "x.json",
            datamodel=Datamodels.from_config({**cfg, "estimators": ["ridge", "banzhaf"], "primary": "loo"}),
            settings=Bootstrap(10, 0.95, 0),
        )


def _six_estimators(seed: int, best_signal: float = 0.0):
    """Six predictions of 20 test models, each the same signal plus its own noise (the first, the
    primary, included); `best_signal` mixes the actual values into e1."""
    from diffattr.attribution.lds import lds_of

    rng = np.random.default_rng(seed)
    signal = rng.normal(size=20)
    actual = signal + rng.normal(size=20)
    preds = {f"e{i}": signal + rng.normal(size=20) for i in range(6)}
    preds["e1"] = (1 - best_signal) * preds["e1"] + best_signal * actual
    return {name: lds_of(p, actual, Bootstrap(10, 0.95, 0)) for name, p in preds.items()}, actual


def test_the_highest_of_k_estimators_is_called_better_only_after_holm():
    """Six estimators of equal quality: the highest LDS beats the primary with a paired CI that
    excludes 0 one comparison at a time (p 0.03), which picking the best of five makes likely;
    Holm over the five gaps (p 0.16) does not call it better. A real difference still is."""
    from diffattr.stages.estimators import gaps_to_primary, highest_note

    res, actual = _six_estimators(5)
    gaps = gaps_to_primary(res, "e0", actual, Bootstrap(500, 0.95, 0))
    note = highest_note("fid", 0.5, "e0", res, gaps, 0.95)
    best = gaps[note["highest"]]
    assert note["highest"] == "e1" and best["ci"][0] > 0 and best["p"] < 0.05  # separated alone...
    assert best["p_holm"] >= 0.05 and best["verdict"] == "not separated"  # ...not among five
    assert not note["better_than_primary"] and "not distinguishable" in note["text"] and "5 comparisons" in note["text"]
    assert gaps["e0"]["verdict"] == "" and all(g["p_holm"] >= g["p"] for n, g in gaps.items() if n != "e0")
    res, actual = _six_estimators(5, best_signal=0.9)
    gaps = gaps_to_primary(res, "e0", actual, Bootstrap(500, 0.95, 0))
    note = highest_note("fid", 0.5, "e0", res, gaps, 0.95)
    assert note["highest"] == "e1" and gaps["e1"]["verdict"] == "better" and note["better_than_primary"]
    assert "better than the primary" in note["text"]


def test_holm_adjusts_in_step_down_order():
    from diffattr.core.stats import bootstrap_p, holm

    assert holm([0.01, 0.04, 0.03, float("nan")]) == pytest.approx([0.03, 0.06, 0.06, float("nan")], nan_ok=True)
    assert holm([0.5, 0.001]) == pytest.approx([0.5, 0.002])
    assert bootstrap_p(np.array([0.1, 0.2, -0.1, 0.3])) == pytest.approx(0.5)
    assert bootstrap_p(np.array([0.1, 0.2])) == 0.0 and bootstrap_p(np.array([])) != bootstrap_p(np.array([]))


def test_lds_json_has_the_proxy_fidelity_and_a_ceiling_beside_every_lds(tmp_path):
    import json

    from diffattr.attribution.lds import metrics_by_subset
    from diffattr.attribution.matrix import write_matrix
    from diffattr.stages.datamodel import fit_all
    from diffattr.stages.lds import evaluate_lds

    m = planted_matrix(ALL_NEGATIVE, n_test=12)
    write_matrix(tmp_path / "m.h5", m)
    cfg = {"alphas": [1e-3, 0.1], "cv_folds": 3, "seed": 0}
    fit_all(
        matrix=tmp_path / "m.h5",
        attributions=tmp_path / "a.csv",
        info=tmp_path / "dm.json",
        fitted=tmp_path / "dm.h5",
        settings=Datamodels.from_config({**cfg, "estimators": ["ridge", "banzhaf"], "primary": "ridge"}),
        target="fid",
    )
    y = m.behaviour("fid")
    # Retrained baseline models of train-0000..0007 (a behaviour JSON each, named by subset id), an
    # increasing but curved function of the unlearned ones: the ranking is kept, the scale is not.
    for i in range(8):
        sid = f"train-{i:04d}"
        fid = float(np.exp(y[m.subset_ids.index(sid)] / 10))
        (tmp_path / f"{sid}.json").write_text(json.dumps({"metrics": {"fid": fid}}))
    baseline = metrics_by_subset(sorted(tmp_path.glob("train-*.json")))
    files = {"datamodel": tmp_path / "dm.json", "matrix": tmp_path / "dm.h5", "lds": tmp_path / "lds.json"}
    out = evaluate_lds(**files, settings=Bootstrap(200, 0.95, 0), baseline=baseline)
    fidelity = out["proxy_fidelity"]
    assert fidelity["subsets"] == [f"train-{i:04d}" for i in range(8)] and fidelity["spearman"] == pytest.approx(1)
    assert fidelity["pearson"] < 1 and fidelity["spearman_ci95"] == pytest.approx([1, 1])
    assert out["ceiling"] == {"spearman": None, "why": "not computed: no second retraining of the test subsets"}
    assert out["estimators"]["ridge"]["ceiling"] is None
    # A second retraining of 10 of the 12 test subsets: the ceiling stands beside every estimator's LDS.
    rng = np.random.default_rng(0)
    test = m.rows("retrain")
    second = {m.subset_ids[i]: {"fid": float(y[i] + rng.normal(0, 1))} for i in test[:10]}
    out = evaluate_lds(**files, settings=Bootstrap(200, 0.95, 0), baseline=baseline, ceiling=second)
    assert out["ceiling"]["n_subsets"] == 10 and out["ceiling"]["subsets"] == [m.subset_ids[i] for i in test[:10]]
    expected = spearman(y[test[:10]], np.array([second[m.subset_ids[i]]["fid"] for i in test[:10]]))
    assert out["ceiling"]["spearman"] == pytest.approx(expected)
    for name in ("ridge", "banzhaf"):
        assert out["estimators"][name]["ceiling"]["spearman"] == pytest.approx(expected)
    assert json.loads((tmp_path / "lds.json").read_text())["ceiling"]["spearman"] == pytest.approx(expected)
    # Beside it, one retraining's noise (from the 10 pairs) against the spread over all 12 test models.
    diff = np.array([y[i] - second[m.subset_ids[i]]["fid"] for i in test[:10]])
    c = out["ceiling"]
    assert c["noise_sd"] == pytest.approx(np.std(diff, ddof=1) / np.sqrt(2))
    assert c["spread_sd"] == pytest.approx(np.std(y[test], ddof=1)) and len(test) == 12
    assert c["noise_share"] == pytest.approx(c["noise_sd"] ** 2 / c["spread_sd"] ** 2)
    assert out["estimators"]["ridge"]["ceiling"]["noise_share"] == pytest.approx(c["noise_share"])
