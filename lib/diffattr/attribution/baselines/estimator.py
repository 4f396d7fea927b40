"""A baseline as an estimator: its unit support in the datamodel's convention for one behaviour."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from . import SUPPORT_CONVENTION
from .aggregate import aligned, coefficients


def baseline_attribution(
    name: str, supports: Mapping[str, Mapping[str, float]] | None, unit_ids: Sequence[str], target: str
):
    """The Attribution of baseline `name` for behaviour `target`: coefficient = -support when lower
    is better, else +support; intercept 0 (the scale is the method's own: the LDS, a Spearman,
    reads only the ranking of the subsets' summed coefficients); fitted on no model, so n_models 0;
    the level is not identified."""
    from ...core.metrics import lower_is_better
    from ..datamodel import Attribution

    if not supports or name not in supports:
        raise ValueError(
            f"datamodel.estimators: {name!r} is a baseline and needs the baselines stage's scores; "
            "pass them (the workflow does when a baseline is configured)"
        )
    support = aligned(supports[name], unit_ids, f"baseline {name}")
    return Attribution(
        name,
        0.0,
        coefficients(support, lower_is_better(target)),
        0,
        {"support_convention": SUPPORT_CONVENTION},
        level_identified=False,
    )
