"""Cheap attribution baselines the follow-up (Lu et al., ICLR 2025) scores beside removal-based
estimators: gradient ones (TRAK, D-TRAK through dattri) and similarity ones (pixel, feature).

None of them needs an unlearned or retrained model: they read the base (or pruned) model, the
training data, the units and the images that model generates from the behaviour's shared noises.
Each gives a per-unit *support* score s_u (higher = the unit's training images raise the
likelihood of, or resemble, the generated images); `aggregate.coefficients` turns it into the
datamodel's convention for a behaviour. This module imports nothing heavy: the workflow's plan and
the estimators read the names at parse time.
"""

from __future__ import annotations

from collections.abc import Iterable

from ...core.registry import MODEL_KINDS

GRADIENT = ("trak", "dtrak")
SIMILARITY = ("pixel", "feature")
BASELINES = (*GRADIENT, *SIMILARITY)
# baselines.model -> the stage whose model they attribute.
MODEL_STAGE = {kind: MODEL_KINDS[kind] for kind in ("base", "prune")}

SUPPORT_CONVENTION = (
    "support s_u: mean over the generated images (the behaviour's, from the same noises) of the per-image score, "
    "summed over the unit's training images for trak/dtrak (their scores are additive effects) and averaged over "
    "them for pixel/feature (a resemblance, not an effect); higher = the unit's images raise the likelihood of "
    "(trak: lower the diffusion loss of) or resemble the generated images. coefficient = -s_u when lower is better, "
    "+s_u when higher is better: a unit that supports what the model generates is taken to make it better, fixed "
    "before any test model is seen. The level is not identified (no model was trained without the unit) and the "
    "scale is the method's own, not the behaviour's: only ranks are scored"
)


def configured(estimators: Iterable[str]) -> list[str]:
    """The baselines among `datamodel.estimators`, in their configured order."""
    return [name for name in estimators if name in BASELINES]
