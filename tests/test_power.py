"""The power planner (lib/diffattr/attribution/power.py) against simulated LDS experiments whose truth is known."""

import math

import numpy as np
import pytest
from scipy.stats import rankdata

from diffattr.attribution import power

REPLICATES = 4000


def spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ra, rb = rankdata(a, axis=1), rankdata(b, axis=1)
    ra -= ra.mean(axis=1, keepdims=True)
    rb -= rb.mean(axis=1, keepdims=True)
    return (ra * rb).sum(axis=1) / np.sqrt((ra**2).sum(axis=1) * (rb**2).sum(axis=1))


def simulate(*, n_models, seeds, rho, tau, noise, rng, agreement=None, rho_b=None):
    """LDS replicates: K test models whose expected behaviour f has sd tau; a predictor whose
    Spearman with f is about rho; targets averaging `seeds` retrainings with seed noise sd `noise`."""
    shape = (REPLICATES, n_models)
    f = rng.normal(0, tau, shape)
    # Pearson r on normal data is Spearman 6/pi asin(r/2): plant the Pearson that gives rho.
    r = 2 * math.sin(math.pi * rho / 6)
    pred = r * f / tau + math.sqrt(1 - r**2) * rng.normal(size=shape)
    target = f + rng.normal(0, noise, (REPLICATES, n_models, seeds)).mean(axis=2)
    if agreement is None:
        return spearman_rows(pred, target)
    # A second predictor with Spearman about rho_b to f and `agreement`-ish correlation with the first.
    rb = 2 * math.sin(math.pi * rho_b / 6)
    resid = (pred - r * f / tau) / math.sqrt(1 - r**2)
    other = rng.normal(size=shape)
    mix = (agreement - r * rb) / math.sqrt(1 - r**2)
    pred_b = rb * f / tau + mix * resid + math.sqrt(max(1 - rb**2 - mix**2, 0)) * other
    return spearman_rows(pred, target), spearman_rows(pred_b, target), spearman_rows(pred, pred_b)


@pytest.mark.parametrize("n_models,rho", [(10, 0.3), (20, 0.5), (40, 0.8)])
def test_the_interval_matches_the_spread_of_simulated_lds(n_models, rho):
    rng = np.random.default_rng(0)
    lds = simulate(n_models=n_models, seeds=1, rho=rho, tau=1.0, noise=0.0, rng=rng)
    simulated = (np.quantile(lds, 0.975) - np.quantile(lds, 0.025)) / 2
    planned = power.lds_halfwidth(float(lds.mean()), n_models)
    assert planned == pytest.approx(simulated, rel=0.07)


def test_seed_noise_attenuates_the_lds_as_the_reliability_says():
    rng = np.random.default_rng(1)
    tau, noise, rho = 1.0, 1.2, 0.7  # noise share 1.44 / 2.44: most of one retraining's spread is noise
    spread = math.sqrt(tau**2 + noise**2)
    one = simulate(n_models=30, seeds=1, rho=rho, tau=tau, noise=noise, rng=rng).mean()
    for seeds in (2, 4, 8):
        averaged = simulate(n_models=30, seeds=seeds, rho=rho, tau=tau, noise=noise, rng=rng).mean()
        planned = power.lds_at_seeds(float(one), noise, spread, seeds)
        assert planned == pytest.approx(averaged, abs=0.03)
        assert averaged > one + 0.05  # the effect the planner models is there to be missed
    # Without noise, seeds change nothing; a spread that is all noise leaves nothing to rank.
    assert power.lds_at_seeds(0.5, 0.0, 1.0, 8) == 0.5
    assert power.reliability(1.0, 0.9, 4) == 0.0


def test_the_paired_gap_interval_matches_simulation_and_narrows_with_agreement():
    rng = np.random.default_rng(2)
    widths = []
    for agreement in (0.3, 0.8):
        a, b, agree = simulate(
            n_models=20, seeds=1, rho=0.6, tau=1.0, noise=0.0, rng=rng, agreement=agreement, rho_b=0.5
        )
        gap = a - b
        simulated = (np.quantile(gap, 0.975) - np.quantile(gap, 0.025)) / 2
        planned = power.gap_halfwidth(float(a.mean()), float(b.mean()), float(agree.mean()), 20)
        assert planned == pytest.approx(simulated, rel=0.07)
        widths.append(planned)
    assert widths[1] < 0.7 * widths[0]


def test_the_smallest_design_reaches_the_target_and_one_model_less_does_not():
    kwargs = dict(lds=0.4, noise_sd=0.8, spread_sd=1.0)
    found = power.smallest_design(target_halfwidth=0.25, **kwargs)
    assert found is not None and found.halfwidth_expected <= 0.25
    fewer = power.design(n_models=found.n_models - 1, seeds=found.seeds, **kwargs)
    assert fewer.halfwidth_expected > 0.25
    # Every other seed count needs at least as many retrainings.
    for seeds in range(1, 9):
        best_k = next(
            k for k in range(4, 3000) if power.design(n_models=k, seeds=seeds, **kwargs).halfwidth_expected <= 0.25
        )
        assert best_k * seeds >= found.retrainings
    # A stated LDS without a pilot: seeds cannot help, and the interval is plain Fisher z.
    stated = power.smallest_design(target_halfwidth=0.25, lds=0.4)
    assert stated.seeds == 1 and stated.halfwidth == stated.halfwidth_expected
    # Test models capped (e.g. few distinct test subsets): only more seeds reach the target.
    capped = power.smallest_design(target_halfwidth=0.3, max_models=30, **kwargs)
    assert capped is not None and capped.n_models <= 30 and capped.seeds > 1
    assert power.smallest_design(target_halfwidth=0.3, lds=0.1, noise_sd=0.91, spread_sd=0.70) is None


def test_the_planned_design_holds_in_simulation():
    """The design found for a target, simulated with its K and s: the interval of the LDS against the
    expected behaviour (the observed LDS over sqrt(R)) is about the target wide."""
    tau, noise, rho_f = 1.0, 0.9, 0.5
    spread = math.sqrt(tau**2 + noise**2)
    r1 = power.reliability(noise, spread, 1)
    found = power.smallest_design(
        target_halfwidth=0.25, lds=rho_f * math.sqrt(r1), noise_sd=noise, spread_sd=spread, max_models=60
    )
    lds = simulate(
        n_models=found.n_models, seeds=found.seeds, rho=rho_f, tau=tau, noise=noise, rng=np.random.default_rng(3)
    )
    assert found.seeds > 1  # the test models' cap makes seeds pay here
    corrected = lds / math.sqrt(found.reliability)
    simulated = (np.quantile(corrected, 0.975) - np.quantile(corrected, 0.025)) / 2
    assert simulated == pytest.approx(0.25, rel=0.15)


def test_the_plans_power_section_reads_a_pilot_or_a_stated_lds():
    rng = np.random.default_rng(4)
    actual = rng.normal(size=20)
    pilot = {
        "estimator": "ridge",
        "lds": 0.46,
        "ceiling": {"noise_sd": 1.15, "spread_sd": 11.85},
        "estimators": {
            "ridge": {"predicted": list(actual + rng.normal(size=20))},
            "loo": {"predicted": list(actual + rng.normal(size=20))},
            "lasso": {"predicted": [1.0] * 20},  # all tied: no agreement to measure
        },
    }
    got = power.summary(n_test=20, target_halfwidth=0.2, stated_lds=0.5, level=0.95, pilot=pilot, max_models=252)
    assert got["source"] == "pilot" and got["lds"] == 0.46
    assert got["configured"]["halfwidth"] == pytest.approx(power.lds_halfwidth(0.46, 20))
    assert got["cheapest"]["halfwidth_expected"] <= 0.2 and got["cheapest"]["n_models"] <= 252
    assert "loo vs ridge" in got["gap_halfwidth"] and "lasso vs ridge" not in got["gap_halfwidth"]
    gaps = got["gap_halfwidth"]
    assert gaps["agreement 0.9"]["configured"] < gaps["agreement 0.3"]["configured"]
    stated = power.summary(n_test=20, target_halfwidth=0.2, stated_lds=0.5, level=0.95)
    assert stated["source"] == "stated" and stated["noise_sd"] is None
    assert stated["configured"]["halfwidth"] == pytest.approx(power.lds_halfwidth(0.5, 20))
    # Nothing within the cap reaches the target: said, not invented.
    assert (
        power.summary(n_test=20, target_halfwidth=0.05, stated_lds=0.5, level=0.95, max_models=100)["cheapest"] is None
    )


def test_the_configured_design_takes_lds_test_seeds_and_a_pilots_seeds():
    """A pilot whose target averaged 4 seeds (its ceiling: one retraining's noise sd, the 4-seed
    target's spread sd, n_seeds 4): the configured K x s design expects the LDS a simulation at s seeds
    gives, for fewer and more seeds than the pilot's; read as a one-seed pilot it would not."""
    rng = np.random.default_rng(5)
    tau, noise, rho = 1.0, 1.2, 0.7
    measured = float(simulate(n_models=30, seeds=4, rho=rho, tau=tau, noise=noise, rng=rng).mean())
    ceiling = {"noise_sd": noise, "spread_sd": math.sqrt(tau**2 + noise**2 / 4), "n_seeds": 4}
    pilot = {"estimator": "ridge", "lds": measured, "ceiling": ceiling, "estimators": {}}
    for seeds in (1, 8):
        got = power.summary(n_test=30, target_halfwidth=0.2, stated_lds=0.5, level=0.95, pilot=pilot, test_seeds=seeds)
        simulated = float(simulate(n_models=30, seeds=seeds, rho=rho, tau=tau, noise=noise, rng=rng).mean())
        now = got["configured"]
        assert now["seeds"] == seeds and now["retrainings"] == 30 * seeds
        assert now["lds"] == pytest.approx(simulated, abs=0.03)
        assert now["halfwidth"] == pytest.approx(power.lds_halfwidth(now["lds"], 30))
        assert got["spread_sd"] == pytest.approx(math.sqrt(tau**2 + noise**2))  # one retraining's
        as_one_seed = power.summary(
            n_test=30,
            target_halfwidth=0.2,
            stated_lds=0.5,
            level=0.95,
            pilot={**pilot, "ceiling": {k: v for k, v in ceiling.items() if k != "n_seeds"}},
            test_seeds=seeds,
        )
        assert abs(as_one_seed["configured"]["lds"] - simulated) > 0.05
    assert "30 test models x 8 seed(s)" in "\n".join(power.render({**got, "pilot": "lds.json"}))
