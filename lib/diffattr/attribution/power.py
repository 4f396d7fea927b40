"""How many test models (K) and retraining seeds per test model (s) an LDS needs.

The LDS is a Spearman correlation over K test models; its target, a test subset's behaviour, is a
retraining's, and a retraining carries seed noise. With the LDS ceiling's two measurements (one
retraining's seed noise sd, the behaviour's spread sd over test models) the target's reliability at
s seeds is R(s) = tau^2 / (tau^2 + noise^2 / s), tau^2 = spread^2 - noise^2 (the spread of the
expected behaviour): averaging seeds lifts it towards 1, and a correlation with the target shrinks
by sqrt(R) (Spearman's attenuation). The interval is Fisher's z with Spearman's variance
1.06 / (K - 3) (Fieller, Hartley & Pearson 1957); the paired gap between two estimators' LDS on the
same test models uses Meng, Rosenthal & Rubin's (1992) variance for two correlations that share a
variable. Approximations, checked against simulation in tests/test_power.py and against the
bootstrap intervals of measured runs (docs/results.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from scipy.stats import norm

from ..core.stats import spearman
from .subsets import subset_size

SPEARMAN_VARIANCE = 1.06  # Fieller, Hartley & Pearson: var(atanh r_s) ~ 1.06 / (K - 3)
MAX_SEEDS = 16  # the planner's search cap on retraining seeds per test model


def reliability(noise_sd: float, spread_sd: float, seeds: int) -> float:
    """The share of the s-seed target's variance across test models that is not seed noise.
    `spread_sd` is the sd over test models of a single retraining's behaviour."""
    if seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {seeds}")
    true_var = max(spread_sd**2 - noise_sd**2, 0.0)
    noise_var = noise_sd**2 / seeds
    if true_var + noise_var == 0:
        return 0.0
    return true_var / (true_var + noise_var)


def lds_at_seeds(lds: float, noise_sd: float, spread_sd: float, seeds: int, measured_seeds: int = 1) -> float:
    """The LDS expected against an s-seed target, from one measured against `measured_seeds` seeds."""
    measured = reliability(noise_sd, spread_sd, measured_seeds)
    if measured == 0:
        return 0.0
    scaled = lds * math.sqrt(reliability(noise_sd, spread_sd, seeds) / measured)
    return max(-1.0, min(1.0, scaled))


def _z_quantile(level: float) -> float:
    return float(norm.ppf(0.5 + level / 2))


def _z_variance(n_models: int) -> float:
    """Spearman's var(atanh r) over `n_models` test models."""
    if n_models < 4:
        raise ValueError(f"an interval needs at least 4 test models, got {n_models}")
    return SPEARMAN_VARIANCE / (n_models - 3)


def lds_interval(lds: float, n_models: int, level: float = 0.95) -> tuple[float, float]:
    """Fisher-z interval of a Spearman correlation over `n_models` test models."""
    z = math.atanh(max(-0.999999, min(0.999999, lds)))
    half = _z_quantile(level) * math.sqrt(_z_variance(n_models))
    return math.tanh(z - half), math.tanh(z + half)


def lds_halfwidth(lds: float, n_models: int, level: float = 0.95) -> float:
    lo, hi = lds_interval(lds, n_models, level)
    return (hi - lo) / 2


def gap_halfwidth(lds_a: float, lds_b: float, agreement: float, n_models: int, level: float = 0.95) -> float:
    """Half-width of the interval of LDS(a) - LDS(b) on the same test models. `agreement` is the
    correlation between the two estimators' predictions: the more they agree, the narrower the gap's
    interval (the shared target's noise cancels)."""
    var_one = _z_variance(n_models)
    mean_sq = (lds_a**2 + lds_b**2) / 2
    f = min(1.0, (1 - agreement) / (2 * (1 - mean_sq)))
    h = (1 - f * mean_sq) / (1 - mean_sq)
    var_z = var_one * 2 * (1 - agreement) * h
    # Back to the correlation scale at the pair's mean (d tanh z / dz = 1 - r^2).
    return _z_quantile(level) * math.sqrt(max(var_z, 0.0)) * (1 - mean_sq)


@dataclass(frozen=True)
class Design:
    n_models: int
    seeds: int
    lds: float  # the LDS expected against the s-seed target
    halfwidth: float  # its interval's half-width, as the run's bootstrap reports it
    reliability: float  # R(s); 1 when the pilot's noise is unknown
    halfwidth_expected: float  # the half-width of the LDS against the expected behaviour: halfwidth / sqrt(R)

    @property
    def retrainings(self) -> int:
        return self.n_models * self.seeds


def design(
    *,
    n_models: int,
    seeds: int,
    lds: float,
    noise_sd: float | None = None,
    spread_sd: float | None = None,
    measured_seeds: int = 1,
    level: float = 0.95,
) -> Design:
    """What K test models x s seeds give: `lds` was measured against `measured_seeds` seeds (or is
    stated, with no noise figures: then R = 1 and seeds change nothing)."""
    if noise_sd is None or spread_sd is None:
        expected, rel = lds, 1.0
    else:
        expected = lds_at_seeds(lds, noise_sd, spread_sd, seeds, measured_seeds)
        rel = reliability(noise_sd, spread_sd, seeds)
    half = lds_halfwidth(expected, n_models, level)
    return Design(n_models, seeds, expected, half, rel, half / math.sqrt(rel) if rel > 0 else math.inf)


def smallest_design(
    *,
    target_halfwidth: float,
    lds: float,
    noise_sd: float | None = None,
    spread_sd: float | None = None,
    measured_seeds: int = 1,
    level: float = 0.95,
    max_models: int = 2000,
    max_seeds: int = MAX_SEEDS,
) -> Design | None:
    """The K x s with the fewest retrainings whose LDS against the expected behaviour has an
    interval at most `target_halfwidth` on each side (ties: fewer seeds); None when nothing within
    the caps reaches it (e.g. a pilot whose spread across test models is all seed noise)."""
    known_noise = noise_sd is not None and spread_sd is not None
    best: Design | None = None
    for seeds in range(1, (max_seeds if known_noise else 1) + 1):

        def at(k: int, s: int = seeds) -> Design:
            return design(
                n_models=k,
                seeds=s,
                lds=lds,
                noise_sd=noise_sd,
                spread_sd=spread_sd,
                measured_seeds=measured_seeds,
                level=level,
            )

        if at(max_models).halfwidth_expected > target_halfwidth:
            continue
        lo, hi = 4, max_models  # the half-width falls as K grows: bisect the smallest K
        while lo < hi:
            mid = (lo + hi) // 2
            if at(mid).halfwidth_expected <= target_halfwidth:
                hi = mid
            else:
                lo = mid + 1
        found = at(lo)
        if best is None or found.retrainings < best.retrainings:
            best = found
    return best


def summary(
    *,
    n_test: int,
    target_halfwidth: float,
    stated_lds: float,
    level: float,
    pilot: Mapping[str, Any] | None = None,
    max_models: int = 2000,
    test_seeds: int = 1,
) -> dict[str, Any]:
    """The plan's power section: what the configured K test models x `test_seeds` seeds give, and the
    cheapest K x s for the target. `pilot` is a finished run's lds.json: its primary LDS and its
    ceiling's noise and spread, when it has a ceiling; else the stated LDS with Fisher z alone. A
    pilot whose target averaged n_seeds retrainings measured its LDS against that target and its
    spread_sd over it: one retraining's spread is sqrt(spread^2 + noise^2 (1 - 1/n_seeds))."""
    ceiling = (pilot or {}).get("ceiling") or {}
    noise, spread = ceiling.get("noise_sd"), ceiling.get("spread_sd")
    pilot_seeds = int(ceiling.get("n_seeds") or 1)
    if pilot is not None and pilot.get("lds") is not None:
        lds, source = float(pilot["lds"]), "pilot"
    else:
        lds, source = stated_lds, "stated"
    if noise is None or spread is None:
        noise = spread = None
        pilot_seeds = 1
    else:
        spread = math.sqrt(spread**2 + noise**2 * (1 - 1 / pilot_seeds))
    common = {"lds": lds, "noise_sd": noise, "spread_sd": spread, "measured_seeds": pilot_seeds, "level": level}
    now = design(n_models=n_test, seeds=test_seeds, **common) if n_test >= 4 else None
    best = smallest_design(target_halfwidth=target_halfwidth, max_models=max_models, **common)
    # A paired gap's half-width depends on how much the two estimators' predictions agree: the
    # pilot's measured agreement with its primary where it has several estimators, else a range.
    agreements = {f"agreement {a}": a for a in (0.3, 0.6, 0.9)}
    estimators = (pilot or {}).get("estimators") or {}
    primary = estimators.get((pilot or {}).get("estimator"))
    for name, entry in estimators.items():
        if primary is not None and entry is not primary and len(set(entry["predicted"])) > 1:
            agreements[f"{name} vs {pilot['estimator']}"] = float(spearman(entry["predicted"], primary["predicted"]))
    designs = {"configured": now, "cheapest": best}
    gaps = {
        label: {
            which: gap_halfwidth(d.lds, d.lds, agreement, d.n_models, level) / math.sqrt(d.reliability)
            for which, d in designs.items()
            if d is not None and d.reliability > 0
        }
        for label, agreement in agreements.items()
    }
    return {
        "reliability_1": None if noise is None else reliability(noise, spread, 1),
        "gap_halfwidth": gaps,
        "source": source,
        "lds": lds,
        "noise_sd": noise,
        "spread_sd": spread,  # one retraining's
        "pilot_seeds": pilot_seeds,
        "level": level,
        "target_halfwidth": target_halfwidth,
        "max_models": max_models,
        "configured": None if now is None else {**asdict(now), "retrainings": now.retrainings},
        "cheapest": None if best is None else {**asdict(best), "retrainings": best.retrainings},
    }


MAX_MODELS = 100_000  # the planner's search cap where the distinct subsets are more


def distinct_subsets(n_units: int, alpha: float) -> int:
    """How many different test subsets of the workflow's size there are (the test models' cap)."""
    return min(math.comb(n_units, subset_size(n_units, alpha)), MAX_MODELS)


def render(section: Mapping[str, Any]) -> list[str]:
    """The plan's power lines."""
    now, best = section["configured"], section["cheapest"]
    level = round(100 * section["level"])
    if section["source"] == "pilot":
        where = f"the pilot {section['pilot']}: LDS {section['lds']:.3f}"
        if section["noise_sd"] is not None:
            where += f", seed noise sd {section['noise_sd']:.3g} against a spread sd {section['spread_sd']:.3g}"
            if section.get("pilot_seeds", 1) > 1:
                where += f" (one retraining's; its target averaged {section['pilot_seeds']} seeds)"
    else:
        where = f"a stated LDS of {section['lds']:.2f} (power.stated_lds; no pilot run yet)"
    lines = [f"power, from {where}:"]
    if now is not None:
        lines.append(
            f"  {now['n_models']} test models x {now['seeds']} seed(s) (subsets.n_test x lds.test_seeds): "
            f"LDS {level} % interval +-{now['halfwidth']:.3f}"
            + (f" (+-{now['halfwidth_expected']:.3f} against the expected behaviour)" if now["reliability"] < 1 else "")
        )
        gaps = section["gap_halfwidth"]
        shown = ", ".join(f"{label} +-{v['configured']:.3f}" for label, v in gaps.items() if "configured" in v)
        lines.append(f"  a paired gap between two estimators: {shown}")
    target = f"+-{section['target_halfwidth']} (power.target_halfwidth)"
    if best is None:
        lines.append(
            f"  no design of at most {section['max_models']} test models x {MAX_SEEDS} seeds reaches {target}"
            + (": the pilot's spread across test models is all seed noise" if section.get("reliability_1") == 0 else "")
        )
    else:
        lines.append(
            f"  for {target}: {best['n_models']} test models x {best['seeds']} seed(s) = {best['retrainings']}"
            f" retrainings (subsets.n_test x lds.test_seeds; the cheapest K x s, at most {section['max_models']}"
            " distinct test subsets)"
        )
    return lines
