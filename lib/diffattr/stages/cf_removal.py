"""Stage cf_removal: one counterfactual removal's record, copied from the plan to a file named by the
data and units alone (the removal's id names its units), which its retraining reads as ancient(); so
a new plan that removes the same units does not retrain them."""

from __future__ import annotations

import os

from ..core.atomic import read_json, write_json

PathLike = str | os.PathLike


def write_removal(*, plan: PathLike, removal: PathLike, subset: str) -> None:
    """Write removal `subset`'s record from `plan` to `removal`, as a subsets file of one subset (the
    format retrain reads)."""
    subsets = read_json(plan)["subsets"]
    if subset not in subsets:
        raise ValueError(f"{plan} plans no removal {subset}")
    write_json(removal, {"subsets": {subset: subsets[subset]}})
