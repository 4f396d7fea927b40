"""Stage figures: the predicted-vs-actual scatter, the attribution histogram and the two unit grids."""

from __future__ import annotations

import csv
import os
from typing import Any

import numpy as np

from ..core.atomic import read_json
from ..core.settings import Units
from ..reporting.report import ceiling_text

PathLike = str | os.PathLike


def attribution_figures(  # noqa: PLR0913  (its rule's input and output keys; keyword-only)
    *,
    lds: PathLike,
    attributions: PathLike,
    data: PathLike,
    scatter: PathLike,
    histogram: PathLike,
    top: PathLike,
    bottom: PathLike,
    units: Units,
    top_k: int,
    reference: PathLike | None = None,
    expected_identified: bool | None = None,
) -> dict[str, Any]:
    """Predicted-vs-actual scatter, attribution histogram, and two unit grids: the most helpful /
    most harmful units when the primary fit identifies the level of its scores, else the highest- /
    lowest-ranked units relative to the average one. `expected_identified`: what the report's
    labels (fixed before any model exists) assume; a fit that disagrees stops with one line."""
    from ..attribution.datamodel import unit_grids
    from ..attribution.subsets import load_units
    from ..reporting.figures import histogram_figure, scatter_figure, unit_rows_figure

    caption = f"{units.unit} units"
    res = read_json(lds)
    pred = res["estimators"][res["estimator"]]["predicted"]
    scatter_figure(
        pred,
        res["actual"],
        scatter,
        res["behaviour"],
        f"{caption}\nLDS {res['lds']:.3f} over {res['n_test_models']} retrained test models; "
        f"{ceiling_text(res.get('ceiling'))}",
    )
    with open(attributions, newline="") as fh:
        rows = list(csv.DictReader(fh))  # sorted by rank: most helpful first
    identified = rows[0]["sign_identified"] == "1"
    if expected_identified is not None and identified != expected_identified:
        raise ValueError(
            f"{attributions}: sign_identified is {int(identified)} but the report labels assume "
            f"{int(expected_identified)}; update estimators.LEVEL_BY_DESIGN"
        )
    column = "score" if identified else "relative_score"
    scores = np.array([float(r[column]) + 0.0 for r in rows])
    histogram_figure(scores, histogram, f"{caption}\n{len(rows)} units", identified)
    ds, units = load_units(data, units.unit, reference, units.kmeans, units.csv)
    index = {uid: i for i, uid in enumerate(units.ids)}
    imgs = ((ds.images.transpose(0, 2, 3, 1) + 1) * 127.5).round().clip(0, 255).astype(np.uint8)

    def unit_rows(chosen):
        return [(rows[i]["unit_id"], scores[i], imgs[units.members[index[rows[i]["unit_id"]]][:8]]) for i in chosen]

    # A primary fit whose scores are all tied ranks no unit (attributions.csv leaves its rank empty).
    ranked = rows[0]["rank"] != ""
    grids = (
        unit_grids(scores, identified, top_k)
        if ranked
        else {k: ("no ranking (all scores tied)", []) for k in ("top", "bottom")}
    )
    for (title, chosen), out in ((grids["top"], top), (grids["bottom"], bottom)):
        unit_rows_figure(unit_rows(chosen), out, f"{title}: {len(chosen)} units ({caption})")
    return {
        "sign_identified": identified,
        "grids": {k: (t, [rows[i]["unit_id"] for i in c]) for k, (t, c) in grids.items()},
    }
