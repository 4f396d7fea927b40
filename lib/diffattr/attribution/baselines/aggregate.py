"""From per-image support to a global per-unit score, and from that to the datamodel's convention.

- Over generated images: the mean (the behaviour is computed on all of them at once, so each
  counts equally).
- Over a unit's training images: the sum for TRAK and D-TRAK, whose per-image scores estimate
  additive effects of including an image (a linear datamodel over images), so a group's effect
  is the sum of its members' (a larger group moves the model more); the mean for the similarity
  baselines, whose per-image values are resemblances, not effects (a group is as similar as its
  typical image, whatever its size). For sample units both are the image's own value.
- Sign: support s_u > 0 means the unit's images raise the likelihood of, or resemble, what the
  model generates; taken to make the model better, so the coefficient (the change of the
  behaviour when the unit is included) is -s_u for a lower-is-better behaviour (FID) and +s_u for
  a higher-is-better one. Then `datamodel.helpfulness(coefficient)` is s_u for every behaviour.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ...core.atomic import read_json
from . import GRADIENT, SIMILARITY

REDUCE = {**{name: "sum" for name in GRADIENT}, **{name: "mean" for name in SIMILARITY}}


def unit_support(per_image: np.ndarray, members: Sequence[np.ndarray], method: str) -> np.ndarray:
    """Per unit: the sum (gradient baselines) or mean (similarity baselines) of its images' support."""
    per_image = np.asarray(per_image, dtype=np.float64)
    reduce = np.sum if REDUCE[method] == "sum" else np.mean
    out = np.empty(len(members))
    for u, idx in enumerate(members):
        if len(idx) == 0:
            raise ValueError(f"{method}: unit {u} holds no training image")
        out[u] = reduce(per_image[np.asarray(idx, dtype=np.int64)])
    return out


def coefficients(support: np.ndarray, lower_is_better: bool) -> np.ndarray:
    """The datamodel's convention (change of the behaviour when the unit is included) from support."""
    support = np.asarray(support, dtype=np.float64)
    return -support if lower_is_better else support.copy()


def aligned(scores: Mapping[str, float], unit_ids: Sequence[str], source: str) -> np.ndarray:
    """A baseline's unit scores in the matrix's unit order; a unit missing on either side is an error
    (the baselines and the matrix were computed on different units)."""
    missing = [u for u in unit_ids if u not in scores]
    extra = sorted(set(scores) - set(unit_ids))
    if missing or extra:
        raise ValueError(
            f"{source}: its units differ from the matrix's (missing {missing[:3]}, extra {extra[:3]}); "
            "rerun the baselines stage with the same attribution.unit"
        )
    return np.array([scores[u] for u in unit_ids], dtype=np.float64)


def read_supports(score_jsons: Sequence[str | os.PathLike] | str | os.PathLike) -> dict[str, dict[str, float]]:
    """Method -> {unit id: support}, from the baselines stage's scores.json files (here, not in the
    stage's module, so the analysis jobs that fit the baselines import no torch)."""
    paths = [score_jsons] if isinstance(score_jsons, (str, Path)) else list(score_jsons)
    out = {}
    for p in paths:
        info = read_json(p)
        out[info["method"]] = dict(info["support"])
    return out
