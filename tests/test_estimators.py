"""Banzhaf, KernelSHAP and leave-one-out on games with known values; their subset families; units
from k-means and CSV; the counterfactual removal plan."""

import itertools
from math import factorial

import numpy as np
import pytest

from diffattr.counterfactual import removal_count, removal_id, removal_plan
from diffattr.estimators import banzhaf_msr, fit_estimator, kernel_shap, leave_one_out
from diffattr.matrix import Matrix
from diffattr.subsets import csv_units, draw_subset, kmeans_units, mask_of, shapley_kernel_sizes

N = 6
BETA = np.array([1.0, -2.0, 0.5, 0.0, 3.0, -1.0])
GAMMA = 4.0  # interaction of units 0 and 1


def game(mask: np.ndarray) -> float:
    """Additive plus one pairwise interaction: Shapley gives each partner half of it, Banzhaf too,
    leave-one-out all of it."""
    return 10.0 + float(mask @ BETA) + GAMMA * float(mask[0] and mask[1])


def exact_shapley() -> np.ndarray:
    phi = np.zeros(N)
    for i in range(N):
        others = [j for j in range(N) if j != i]
        for r in range(N):
            for S in itertools.combinations(others, r):
                m = mask_of(np.array(S, dtype=int), N)
                w = factorial(len(S)) * factorial(N - len(S) - 1) / factorial(N)
                m_i = m.copy()
                m_i[i] = True
                phi[i] += w * (game(m_i) - game(m))
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


def test_fit_estimator_uses_each_family_of_the_matrix():
    fams = {"train": masks_of("train", 30), "uniform": masks_of("uniform", 200), "kernel": masks_of("kernel", 300),
            "loo": np.array([mask_of(draw_subset(N, 0.5, 0, "loo", i), N) for i in range(N)]),
            "full": np.ones((1, N), bool), "test": masks_of("test", 5)}
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
    y = (10.0 + masks @ BETA)[:, None]  # additive: every estimator's values are BETA
    m = Matrix(masks, y, ["fid"], [f"u{i}" for i in range(N)], sids, source, np.zeros(len(sids)))
    assert m.families("unlearn") == ["full", "kernel", "loo", "train", "uniform"]
    for name, n_models in (("ridge", 30), ("banzhaf", 200), ("shapley", 300), ("loo", N)):
        att = fit_estimator(m, "fid", name, [1e-3, 1e-2, 0.1], 3, 0)
        assert att.n_models == n_models
        assert np.corrcoef(att.coef, BETA)[0, 1] > 0.9
    shap = fit_estimator(m, "fid", "shapley", [0.1], 3, 0)
    assert shap.info["v_empty"] == pytest.approx(10.0) and shap.info["v_full"] == pytest.approx(10.0 + BETA.sum())


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
    cases = {"index,unit\n0,a\n1,b\n2,a\n": "1 training indices have no unit",
             "index,unit\n0,a\n1,b\n2,a\n7,b\n": "line 5: index '7' is not a training index",
             "index,unit\n0,a\n0,b\n1,a\n2,a\n3,b\n": "index 0 assigned twice",
             "idx,group\n0,a\n": "needs a header"}
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
    plan = removal_plan({"ridge": coef, "banzhaf": dict(coef), "loo": {u: -c for u, c in coef.items()}}, ids,
                        lower_is_better=True, fractions=[0.2], n_random=3, seed=0)
    tops = {r["estimator"]: r for r in plan["removals"] if r["kind"] == "top"}
    assert tops["ridge"]["removed"] == ["u0", "u1"] and tops["loo"]["removed"] == ["u8", "u9"]
    assert tops["ridge"]["id"] == tops["banzhaf"]["id"] == removal_id(["u1", "u0"])
    randoms = [r for r in plan["removals"] if r["kind"] == "random"]
    assert len(randoms) == 3 and all(len(r["removed"]) == 2 for r in randoms)
    again = removal_plan({"ridge": coef}, ids, True, [0.2], 3, 0)
    assert [r["id"] for r in again["removals"] if r["kind"] == "random"] == [r["id"] for r in randoms]
    with pytest.raises(ValueError, match="counterfactual.fractions"):
        removal_count(0.99, 10)
