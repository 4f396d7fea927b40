"""Facts about the behaviours that downstream stages need without importing torch."""

from __future__ import annotations

# Whether a lower value means a better model; attribution scores are signed so higher = helpful.
# class_share (the share of one class among the generated images) counts as "higher is better",
# so a unit with a positive score raises that share.
LOWER_IS_BETTER = {
    "fid": True,
    "kid": True,
    "isc": False,
    "precision": False,
    "recall": False,
    "class_share": False,
    "class_entropy": False,
}


def lower_is_better(metric: str) -> bool:
    if metric not in LOWER_IS_BETTER:
        raise ValueError(f"behaviour.target: unknown metric {metric!r}; known: {sorted(LOWER_IS_BETTER)}")
    return LOWER_IS_BETTER[metric]
