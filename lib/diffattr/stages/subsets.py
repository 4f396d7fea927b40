"""Stage subsets: one chunk of subsets over the attribution units, drawn as the workflow drew them at
start-up (draws.SubsetPlan): one file per chunk keeps the job count low at thousands of subsets."""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence

from ..attribution.subsets import family_subsets, load_units, subset_record
from ..core.atomic import write_json
from ..core.families import parse_subset_id, subset_id
from ..core.settings import SubsetDraws

PathLike = str | os.PathLike


def make_subsets(
    *,
    data: PathLike,
    chunk: PathLike,
    settings: SubsetDraws,
    chunk_id: str,
    members: Sequence[str],
    n_units: int,
    reference: PathLike | None = None,
) -> dict:
    """Subset i of its family as `subsets.family_subsets` draws it (`settings`: the units, alpha and
    seed), for every id of the chunk `chunk_id` (its `members`), over the data's units (checked
    against the `n_units` counted at start-up), written to `chunk`."""
    units, alpha, seed = settings.units, settings.alpha, settings.seed
    sids, unit = members, units.unit
    _, units = load_units(data, unit, reference, units.kmeans, units.csv)
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
    info = {"chunk": chunk_id, "subsets": subsets}
    write_json(chunk, info)
    return info
