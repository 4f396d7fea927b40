"""Stage table1: Table 1 of the paper (CSV, and HTML for the report): FID of each model kind, FID2
between the unlearned and the retrained model of the same subset and its floor, steps and minutes."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..core.atomic import write_text

PathLike = str | os.PathLike


def table1(
    base: Mapping[str, Any],
    pruned: Mapping[str, Any],
    base_train: Mapping[str, Any],
    prune_train: Mapping[str, Any],
    retrained: Sequence[Mapping[str, Any]],
    unlearned: Sequence[Mapping[str, Any]],
    pairs: Sequence[Mapping[str, Any]],
    metric: str,
    out_csv: PathLike,
) -> list[dict[str, Any]]:
    """Table 1: FID (vs the training data) of each model kind, FID2 between unlearned and retrained
    models on the same subsets and its floor (two retrainings), train steps and measured minutes."""

    def mean_sd(values: Sequence[float]) -> tuple[float, float | str]:
        v = np.asarray(values, dtype=float)  # one value has no sd: left blank
        return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else ""

    def minutes(records: Sequence[Mapping[str, Any]]) -> float:
        return float(np.median([r["train_seconds"] for r in records])) / 60.0

    r_fid, r_sd = mean_sd([r["metrics"][metric] for r in retrained])
    u_fid, u_sd = mean_sd([r["metrics"][metric] for r in unlearned])
    fid2, fid2_sd = mean_sd([p["unlearn_vs_retrain"] for p in pairs])
    floor, floor_sd = mean_sd([p["retrain_vs_retrain"] for p in pairs])
    r_min, u_min = minutes(retrained), minutes(unlearned)
    rows = [
        {
            "model": "original",
            metric: base["metrics"][metric],
            f"{metric}_sd": "",
            "fid2": "",
            "fid2_sd": "",
            "n_models": 1,
            "train_steps": base_train["steps"],
            "train_minutes": base_train["train_seconds"] / 60,
            "speedup": "",
        },
        {
            "model": "pruned + fine-tuned",
            metric: pruned["metrics"][metric],
            f"{metric}_sd": "",
            "fid2": "",
            "fid2_sd": "",
            "n_models": 1,
            "train_steps": prune_train["steps"],
            "train_minutes": prune_train["train_seconds"] / 60,
            "speedup": "",
        },
        {
            "model": "retrained",
            metric: r_fid,
            f"{metric}_sd": r_sd,
            "fid2": floor,
            "fid2_sd": floor_sd,
            "n_models": len(retrained),
            "train_steps": retrained[0]["train_steps"],
            "train_minutes": r_min,
            "speedup": 1.0,
        },
        {
            "model": "unlearned",
            metric: u_fid,
            f"{metric}_sd": u_sd,
            "fid2": fid2,
            "fid2_sd": fid2_sd,
            "n_models": len(unlearned),
            "train_steps": unlearned[0]["train_steps"],
            "train_minutes": u_min,
            "speedup": r_min / u_min,
        },
    ]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in row.items()})
    write_text(out_csv, buf.getvalue())
    return rows


def make_table1(  # noqa: PLR0913  (its rule's nine input and output keys, train_ids, target)
    *,
    base: PathLike,
    pruned: PathLike,
    base_train: PathLike,
    prune_train: PathLike,
    retrained: Sequence[PathLike],
    unlearned: Sequence[PathLike],
    train_ids: Sequence[str],
    pairs: Sequence[PathLike],
    target: str,
    csv: PathLike,
    html: PathLike,
) -> list[dict[str, Any]]:
    """Table 1 (`csv`, and `html` for the report) from the behaviour and training records: the unlearned
    models `train_ids` are found in their behaviour batch folders (`unlearned`); `target`: the behaviour
    it reports."""
    from ..core.atomic import read_json
    from ..reporting.report import table_html
    from ..workflow.layout import batch_behaviours

    unlearned_records = [read_json(p) for p in batch_behaviours(list(unlearned), list(train_ids))]
    rows = table1(
        read_json(base),
        read_json(pruned),
        read_json(base_train),
        read_json(prune_train),
        [read_json(p) for p in retrained],
        unlearned_records,
        [read_json(p) for p in pairs],
        target,
        csv,
    )
    table_html(csv, html, "Table 1")
    return rows
