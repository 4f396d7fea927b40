import numpy as np
import pytest
from conftest import LASSO_PATH
from scipy.stats import spearmanr

from diffattr.attribution.datamodel import choose_alpha, fit_datamodel, helpfulness, ranks
from diffattr.core.settings import Bootstrap, DatamodelFit
from diffattr.core.stats import bootstrap_ci, lds, lds_ceiling, paired_gap_ci, proxy_fidelity, resamples, spearman_rows


def _planted(n_models=60, n_units=10, noise=0.1, seed=0):
    rng = np.random.default_rng(seed)
    beta = rng.normal(0, 1, n_units)
    masks = rng.random((n_models, n_units)) < 0.5
    y = 3.0 + masks @ beta + rng.normal(0, noise, n_models)
    return masks, y, beta


@pytest.mark.parametrize("estimator", ["ridge", "lasso"])
def test_datamodel_recovers_planted_coefficients(estimator):
    masks, y, beta = _planted()
    dm = fit_datamodel(masks, y, DatamodelFit(estimator, [1e-4, 1e-3, 1e-2, 0.1, 1.0, 10.0], 5, 0, LASSO_PATH))
    assert np.corrcoef(dm.coef, beta)[0, 1] > 0.98
    assert np.max(np.abs(dm.coef - beta)) < 0.25
    assert abs(dm.intercept - 3.0) < 0.3
    test_masks = np.random.default_rng(1).random((30, 10)) < 0.5
    assert lds(dm.predict(test_masks), 3.0 + test_masks @ beta) > 0.95


def test_datamodel_cv_prefers_regularisation_on_pure_noise_and_not_on_a_clean_signal():
    """On alpha-sized masks (the train family's design): with no signal the most regularised alpha,
    with a clean planted signal the least. Spearman ignores the predictions' scale, so the plain
    CV maximum picked the small alpha on noise in 17 of these 20 draws."""
    noise_alpha, signal_alpha = [], []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        masks = np.array([rng.permutation(10) < 5 for _ in range(40)])
        noise = fit_datamodel(masks, rng.normal(size=40), DatamodelFit("ridge", [1e-3, 1e3], 5, 0))
        noise_alpha.append(noise.info["alpha"])
        beta = rng.normal(size=10)
        clean = fit_datamodel(
            masks, masks @ beta + 0.05 * rng.normal(size=40), DatamodelFit("ridge", [1e-3, 1e3], 5, 0)
        )
        signal_alpha.append(clean.info["alpha"])
        assert clean.info["cv_signal"] and clean.info["cv_spearman"] > 0.9
    assert noise_alpha.count(1e3) >= 16
    assert signal_alpha == [1e-3] * 20


def test_choose_alpha_takes_the_largest_without_evidence_of_signal():
    assert choose_alpha([0.9, 0.5], [0.05, 0.05], [0.1, 10.0]) == (0.1, True)
    assert choose_alpha([0.15, 0.1], [0.2, 0.2], [0.1, 10.0]) == (10.0, False)  # best within 1 SE of 0
    assert choose_alpha([-0.3, -0.1], [0.1, 0.1], [0.1, 10.0]) == (10.0, False)


def _alpha_sized(rng, n_models=40, n_units=10):
    return np.array([rng.permutation(n_units) < n_units // 2 for _ in range(n_models)])


def test_a_constant_predictor_scores_zero_in_the_cv_not_below_it():
    """Lasso far above alpha_max predicts each fold's training mean: a constant, which ranks
    nothing. Pooling the folds' predictions scored it about -0.3 (each fold's intercept is low where
    the held-out fold is high), biasing the no-signal rule; scored per fold it is 0."""
    from sklearn.model_selection import KFold

    from diffattr.attribution.datamodel import _cv_scores

    for seed in range(5):
        rng = np.random.default_rng(seed)
        masks = _alpha_sized(rng).astype(float)
        y = rng.normal(size=40)
        score, se = _cv_scores(masks, (y - y.mean()) / y.std(), "lasso", 1e3, KFold(5, shuffle=True, random_state=0))
        assert score == 0.0 and se == 0.0


def test_an_all_tied_fit_reports_no_ranking_instead_of_ranking_by_index():
    """On pure noise the CV finds no signal and lasso takes its most regularised fit, identically 0:
    no ranking (no ranks, no LDS, no counterfactual removal), never 'units 0 and 1 first'."""
    from diffattr.attribution.counterfactual import removal_plan
    from diffattr.attribution.datamodel import Attribution, has_ranking
    from diffattr.attribution.lds import lds_of
    from diffattr.stages.datamodel import attributions_csv

    tied = 0
    for seed in range(10):
        rng = np.random.default_rng(seed)
        masks = _alpha_sized(rng)
        dm = fit_datamodel(masks, 20 + rng.normal(size=40), DatamodelFit("lasso", [0.1], 5, 0, LASSO_PATH))
        assert dm.ranked == has_ranking(dm.coef)
        if dm.ranked:
            continue
        tied += 1
        assert not dm.info["cv_signal"] and dm.no_ranking.startswith("no ranking: lasso at alpha")
        with pytest.raises(ValueError, match="no ranking"):
            ranks(helpfulness(dm.coef, True))
        test = _alpha_sized(rng, 12)
        res = lds_of(dm.predict(test), rng.normal(size=12), Bootstrap(200, 0.95, 0), dm.no_ranking)
        assert np.isnan(res["lds"]) and res["why"] == dm.no_ranking
        units = [f"class-{i}" for i in range(10)]
        rows = [line.split(",") for line in attributions_csv(units, dm, True).splitlines()[1:]]
        assert [r[0] for r in rows] == units and {r[4] for r in rows} == {""}
        coefs = {"lasso": dict(zip(units, dm.coef)), "ridge": dict(zip(units, np.arange(10.0)))}
        plan = removal_plan(coefs, units, True, [0.2], 1, 0)
        assert plan["no_ranking"] == ["lasso"]
        assert {r.get("estimator") for r in plan["removals"] if r["kind"] == "top"} == {"ridge"}
    assert tied >= 5  # pure noise: most draws find no signal
    # A ranking with a tie between two units still ranks.
    ok = Attribution("ridge", 0.0, np.array([1.0, 1.0, 2.0]), 3)
    assert ok.ranked and ok.no_ranking is None


def test_lassos_grid_reaches_a_non_zero_fit_where_there_is_signal():
    """Lasso's grid follows the data (alpha_max down), not datamodel.alphas: on a planted signal a
    grid of alphas all above alpha_max gave an identically zero fit; this one recovers the signal."""
    rng = np.random.default_rng(0)
    masks = _alpha_sized(rng)
    beta = rng.normal(size=10)
    y = masks @ beta + 0.3 * rng.normal(size=40)
    dm = fit_datamodel(masks, y, DatamodelFit("lasso", [1.0, 10.0, 100.0], 5, 0, LASSO_PATH))
    assert dm.ranked and dm.info["cv_signal"]
    assert np.corrcoef(dm.coef, beta)[0, 1] > 0.9
    with pytest.raises(ValueError, match="config key datamodel.lasso_path"):
        fit_datamodel(masks, y, DatamodelFit("lasso", [1.0], 5, 0))


def test_helpfulness_sign_and_ranks():
    coef = np.array([2.0, -1.0, 0.5])  # effect on FID of including each unit
    score = helpfulness(coef, lower_is_better=True)
    assert score.tolist() == [-2.0, 1.0, -0.5]
    assert ranks(score).tolist() == [3, 1, 2]  # unit 1 lowers FID most: most helpful
    assert helpfulness(coef, lower_is_better=False).tolist() == coef.tolist()


def test_lds_matches_scipy():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=25), rng.normal(size=25)
    assert lds(a, b) == pytest.approx(spearmanr(a, b).statistic)
    assert lds(a, a * 2 + 1) == pytest.approx(1.0)
    assert lds(a, -a) == pytest.approx(-1.0)
    assert np.isnan(lds(a, np.ones(25)))


def test_spearman_rows_is_spearmanr_bit_for_bit_on_every_resample():
    """The bootstrap's batched Spearman against scipy's spearmanr called once per resample, as the
    bootstrap did before: equal bit for bit (ties, few and many test models, short rows), NaN where a
    resample holds one value on a side; the resamples are the stream of successive integers(0, n, n)."""
    rng = np.random.default_rng(7)
    for n in (3, 5, 9, 40, 130):
        for ties in (False, True):
            a = rng.integers(0, 3, n).astype(float) if ties else rng.normal(size=n)
            b = a + rng.normal(size=n)
            idx = resamples(n, 300, n)
            old = np.random.default_rng(n)
            assert all((row == old.integers(0, n, n)).all() for row in idx)
            expected = np.array(
                [np.nan if np.ptp(a[i]) == 0 or np.ptp(b[i]) == 0 else spearmanr(a[i], b[i]).statistic for i in idx]
            )
            got = spearman_rows(a[idx], b[idx])
            assert np.array_equal(got, expected, equal_nan=True), (n, ties)
            assert np.isnan(got).any() == np.isnan(expected).any()
            if ties and n == 3:
                assert np.isnan(got).any()  # a case where the NaN rule is exercised


def test_bootstrap_ci_covers_the_population_value():
    # Population Spearman of a bivariate normal with correlation r is (6/pi) asin(r/2).
    r = 0.6
    truth = 6 / np.pi * np.arcsin(r / 2)
    rng = np.random.default_rng(0)
    covered = 0
    trials = 60
    for t in range(trials):
        x = rng.multivariate_normal([0, 0], [[1, r], [r, 1]], size=40)
        lo, hi = bootstrap_ci(x[:, 0], x[:, 1], 400, 0.95, t)
        assert lo <= lds(x[:, 0], x[:, 1]) <= hi
        covered += lo <= truth <= hi
    assert covered / trials >= 0.85


def test_paired_gap_ci_separates_a_gap_that_separate_cis_cannot():
    """Two predictors sharing most of their error: their separate CIs overlap, yet the paired CI of
    the LDS gap excludes 0; a predictor against itself has a gap CI of exactly [0, 0]."""
    rng = np.random.default_rng(0)
    actual = rng.normal(size=40)
    shared = rng.normal(size=40)
    good = actual + 0.3 * shared
    worse = good + 0.5 * rng.normal(size=40)
    lo_g, hi_g = bootstrap_ci(good, actual, 1000, 0.95, 0)
    lo_w, hi_w = bootstrap_ci(worse, actual, 1000, 0.95, 0)
    assert lds(good, actual) > lds(worse, actual) and lo_g < hi_w  # separate CIs overlap
    lo, hi = paired_gap_ci(good, worse, actual, 1000, 0.95, 0)
    assert 0 < lo < lds(good, actual) - lds(worse, actual) < hi
    assert paired_gap_ci(good, good, actual, 200, 0.95, 0) == (0.0, 0.0)


def test_lds_json_reports_how_the_subsets_were_drawn(tmp_path):
    """The matrix carries the start-up draw report (candidates, skips, redraws) into lds.json."""
    from diffattr.core.atomic import read_json, write_json
    from diffattr.stages.lds import evaluate_lds
    from diffattr.stages.matrix import build_matrix

    rng = np.random.default_rng(0)
    rows = []
    for source, family, n in (("unlearn", "train", 6), ("retrain", "test", 4)):
        for i in range(n):
            units = sorted(rng.choice(4, 2, replace=False).tolist())
            sub = {
                "id": f"{family}-{i:04d}",
                "unit": "class",
                "alpha": 0.5,
                "n_units": 4,
                "unit_indices": units,
                "unit_ids": [f"class-{u}" for u in units],
            }
            write_json(tmp_path / f"{sub['id']}.json", {"metrics": {"fid": float(rng.normal())}})
            rows.append((source, sub, tmp_path / f"{sub['id']}.json"))
    report = {
        "train": {
            "candidates": 7,
            "used": 6,
            "skipped_equal_to_test": ["train-0002"],
            "redrawn": 1,
            "duplicates_kept": 0,
        }
    }
    build_matrix(rows, tmp_path / "m.h5", "abc", report)
    coefficients = {f"class-{u}": float(u) for u in range(4)}
    write_json(
        tmp_path / "dm.json",
        {
            "target": "fid",
            "primary": "ridge",
            "lower_is_better": True,
            "n_train_models": 6,
            "estimators": {"ridge": {"coefficients": coefficients, "intercept": 0.0}},
        },
    )
    evaluate_lds(
        datamodel=tmp_path / "dm.json",
        matrix=tmp_path / "m.h5",
        lds=tmp_path / "lds.json",
        settings=Bootstrap(50, 0.95, 0),
    )
    assert read_json(tmp_path / "lds.json")["subsets"] == report


def test_proxy_fidelity_ranks_and_scales():
    rng = np.random.default_rng(0)
    unlearned = rng.normal(30, 8, size=12)
    same = proxy_fidelity(unlearned, 2 * unlearned + 5, 500, 0.95, 0)
    assert same["spearman"] == pytest.approx(1) and same["pearson"] == pytest.approx(1)
    assert same["spearman_ci95"] == pytest.approx([1, 1]) and same["n_subsets"] == 12
    # A monotone but curved relation ranks subsets alike (Spearman 1) while Pearson falls below 1.
    curved = proxy_fidelity(unlearned, np.exp(unlearned / 4), 500, 0.95, 0)
    assert curved["spearman"] == pytest.approx(1) and curved["pearson"] < 0.95
    # Unrelated behaviours: the CI holds 0 and brackets the estimate.
    none = proxy_fidelity(unlearned, rng.normal(size=12), 500, 0.95, 0)
    lo, hi = none["spearman_ci95"]
    assert lo < 0 < hi and lo <= none["spearman"] <= hi
    few = proxy_fidelity(unlearned[:2], unlearned[:2], 100, 0.95, 0)
    assert few["spearman"] is None and "need at least 3" in few["why"]
    with pytest.raises(ValueError, match="3 unlearned against 2 retrained"):
        proxy_fidelity(unlearned[:3], unlearned[:2], 100, 0.95, 0)


def test_lds_ceiling_is_the_agreement_of_two_retrainings():
    rng = np.random.default_rng(1)
    expected = rng.normal(size=60)  # what an infinitely repeated retraining would give
    first, second = expected + 0.5 * rng.normal(size=60), expected + 0.5 * rng.normal(size=60)
    c = lds_ceiling(first, second, 500, 0.95, 0)
    assert c["spearman"] == pytest.approx(lds(first, second)) and c["n_subsets"] == 60
    assert c["ci95"][0] < c["spearman"] < c["ci95"][1]
    # A predictor free of retraining noise (the expected behaviour itself) beats the agreement of two
    # retrainings; the bound (its square root) is what such a predictor can reach.
    assert lds(expected, first) > c["spearman"] and c["bound"] == pytest.approx(np.sqrt(c["spearman"]))
    assert abs(lds(expected, first) - c["bound"]) < 0.05
    identical = lds_ceiling(first, first, 100, 0.95, 0)
    assert identical["spearman"] == pytest.approx(1) and identical["ci95"] == pytest.approx([1, 1])
    assert lds_ceiling(first[:2], second[:2], 100, 0.95, 0)["spearman"] is None


def test_ceiling_noise_sd_tells_a_noise_ranking_from_a_signal_one():
    """At 10 test subsets the two retrainings' Spearman cannot tell much (its CI spans most of
    [-1, 1]); the noise sd against the spread can. Planted: expected behaviours spread by sd 3 or
    by nothing, each retraining adding noise of sd 1."""
    rng = np.random.default_rng(4)
    for spread, expect_share in ((3.0, 0.1), (0.0, 1.0)):
        expected = spread * rng.normal(size=10)
        first, second = expected + rng.normal(size=10), expected + rng.normal(size=10)
        c = lds_ceiling(first, second, 200, 0.95, 0)
        assert c["noise_sd"] == pytest.approx(np.std(first - second, ddof=1) / np.sqrt(2))
        assert 0.5 < c["noise_sd"] < 1.6  # sd 1 planted, estimated from 10 pairs
        share = c["noise_sd"] ** 2 / np.var(first, ddof=1)
        assert (share < 0.3) if expect_share < 1 else (share > 0.4)
    assert lds_ceiling(first[:2], second[:2], 100, 0.95, 0)["noise_sd"] is None
