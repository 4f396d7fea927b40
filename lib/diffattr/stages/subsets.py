"""Stage subsets: one chunk of subsets over the attribution units, drawn as the workflow drew them at
start-up (draws.SubsetPlan): one file per chunk keeps the job count low at thousands of subsets."""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from typing import Any

from ..atomic import write_json
from ..families import parse_subset_id, subset_id
from ..subsets import family_subsets, load_units, subset_record

PathLike = str | os.PathLike


def make_subsets(  # noqa: PLR0913
    data_npz: PathLike,
    unit: str,
    alpha: float,
    seed: int,
    chunk: str,
    sids: Sequence[str],
    out_json: PathLike,
    n_units: int,
    reference_npz: PathLike | None = None,
    kmeans: Mapping[str, Any] | None = None,
    csv_path: str | None = None,
) -> dict:
    """Subset i of its family as `subsets.family_subsets` draws it, for every id of the chunk, over
    the data's units (checked against the `n_units` counted at start-up)."""
    _, units = load_units(data_npz, unit, reference_npz, kmeans, csv_path)
    if len(units) != n_units:
        raise ValueError(
            f"attribution.unit {unit}: the data has {len(units)} units but {n_units} were counted at "
            "start-up (the subsets were planned on those); rerun the workflow from the start"
        )
    wanted = [parse_subset_id(sid) for sid in sids]
    drawn = {}
    for family in dict.fromkeys(f for f, _ in wanted):
        # Subset i depends on the family's earlier subsets (redraws), so draw the family's prefix.
        last = max(i for f, i in wanted if f == family)
        drawn[family] = list(itertools.islice(family_subsets(len(units), alpha, seed, family), last + 1))
        if len(drawn[family]) <= last:
            raise ValueError(f"{subset_id(family, last)}: only {len(drawn[family])} {family} subsets exist")
    subsets = {}
    for sid, (family, index) in zip(sids, wanted):
        chosen, redraws = drawn[family][index]
        subsets[sid] = subset_record(units, sid, family, index, unit, alpha, seed, chosen, redraws)
    info = {"chunk": chunk, "subsets": subsets}
    write_json(out_json, info)
    return info
