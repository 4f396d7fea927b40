"""A finished run in Python: `load(run_dir)` reads a run view (results/runs/<run_name>/) into pandas
DataFrames and numpy arrays, each from the file the workflow wrote, through the library's readers;
nothing is recomputed.

    from diffattr import results
    run = results.load("results/runs/default")
    run.attributions            # every estimator x unit: coefficient, score, relative_score, rank, ...
    run.scores()                # unit x estimator table of scores
    run.estimators              # estimators.csv: LDS of every estimator x behaviour x test set
    run.matrix.masks, run.matrix.behaviour("fid"), run.matrix.rows("retrain")
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .attribution.matrix import Matrix, read_groups, read_matrix
from .core.atomic import read_json
from .core.families import family_of
from .workflow.layout import VIEW_FIGURES_DIR, VIEW_FILES

# attributions.csv's columns, in its order; `attributions` adds the estimator, the behaviour and the
# fit's intercept.
ATTRIBUTION_COLUMNS = ["unit_id", "coefficient", "score", "relative_score", "rank", "sign_identified"]
FIX = "run the workflow first (make run, or snakemake with the run's config) or pass results/runs/<run_name>"


class NotARunView(FileNotFoundError):
    """The folder is not a finished run view (or one written by an older workflow)."""


@dataclass(frozen=True)
class RunResults:
    """One finished run. DataFrames read from the view's CSV and JSON files; `matrix` (masks x
    behaviours with unit ids, subset ids and each row's source) from matrix.h5."""

    run_dir: Path
    # Every estimator's attributions (matrix.h5, group attributions/<estimator>), one row per
    # estimator x unit, columns estimator, behaviour + attributions.csv's + intercept; rank is <NA>
    # for a fit that ranks nothing (all scores tied).
    attributions: pd.DataFrame
    # attributions.csv as written: the primary estimator's, most helpful first (6 significant digits).
    primary_attributions: pd.DataFrame
    # estimators.csv: estimator x behaviour x test set: LDS, CI, ceiling, gap to the primary.
    estimators: pd.DataFrame
    # lds.json: the primary's LDS, its CI, ceiling, proxy fidelity, and every estimator's LDS.
    lds: dict
    # budget.json's points, one row per budget (nested keys joined by dots: unlearn.lds, gap.p_holm, ...).
    budget: pd.DataFrame
    # budget.json as written (costs, baselines, conventions).
    budget_info: dict
    table1: pd.DataFrame
    counterfactual: pd.DataFrame
    matrix: Matrix
    # manifest.json: every stage's store folder (stores), hash (hashes) and what was hashed (specs).
    manifest: dict
    # The report's figures in the view's figures/ folder: file name -> path.
    figures: dict[str, Path]

    @property
    def primary(self) -> str:
        """The estimator whose attributions attributions.csv holds and lds.json scores first."""
        return self.lds["estimator"]

    @property
    def behaviour(self) -> str:
        """The behaviour the attributions explain (behaviour.target)."""
        return self.lds["behaviour"]

    @property
    def hashes(self) -> dict[str, str]:
        return dict(self.manifest["hashes"])

    @property
    def stores(self) -> dict[str, str]:
        return dict(self.manifest["stores"])

    @property
    def config(self) -> dict:
        """The run's config as hashed: every key that decided a number, merged over the stages' specs
        (runtime keys such as resources, logging and checkpointing are not in it)."""
        return hashed_config(self.manifest["specs"])

    def scores(self, column: str = "score") -> pd.DataFrame:
        """Unit x estimator table of one attributions column (score, coefficient, relative_score, rank)."""
        table = self.attributions.pivot(index="unit_id", columns="estimator", values=column)
        return table.loc[self.matrix.unit_ids]

    def ranking(self, estimator: str | None = None) -> pd.DataFrame:
        """One estimator's attributions (default: the primary), most helpful first."""
        name = estimator or self.primary
        rows = self.attributions[self.attributions["estimator"] == name]
        if rows.empty:
            raise KeyError(f"estimator {name!r} not in the run (has {sorted(self.attributions['estimator'].unique())})")
        return rows.sort_values("rank", na_position="last").reset_index(drop=True)

    def models(self) -> pd.DataFrame:
        """One row per model of the matrix: source (unlearn, retrain, init), subset id, its family (the
        id's prefix: train, test, uniform, ...), train seconds, and every behaviour."""
        m = self.matrix
        frame = pd.DataFrame(
            {
                "source": m.source,
                "subset_id": m.subset_ids,
                "family": [family_of(s) for s in m.subset_ids],
                "train_seconds": m.train_seconds,
            }
        )
        return pd.concat([frame, pd.DataFrame(m.behaviours, columns=m.behaviour_names)], axis=1)


def load(run_dir: str | Path) -> RunResults:
    """Read the run view `run_dir` (results/runs/<run_name>/ of a finished run). Raises NotARunView,
    one line naming the file and the fix, when it is not one."""
    run = Path(run_dir)
    if not run.is_dir():
        raise NotARunView(f"{run}: no such folder; {FIX}")
    if not (run / "manifest.json").is_file() or not any(run.glob(".view-*")):
        raise NotARunView(f"{run}: not a finished run view (no manifest.json); {FIX}")
    missing = [name for name in VIEW_FILES if not (run / name).is_file()]
    if missing:
        raise NotARunView(f"{run}: run view without {', '.join(missing)}; rerun the workflow to rebuild it")
    manifest = read_json(run / "manifest.json")
    if "specs" not in manifest or "figures" not in manifest:
        old = run / "manifest.json"
        raise NotARunView(f"{old}: written by an older workflow; rerun the workflow to rebuild the view")
    figures = {name: run / VIEW_FIGURES_DIR / name for name in manifest["figures"]}
    absent = [str(p) for p in figures.values() if not p.is_file()]
    if absent:
        raise NotARunView(f"{absent[0]}: figure missing from the run view; rerun the workflow to rebuild it")
    lds = read_json(run / "lds.json")
    budget = read_json(run / "budget.json")
    return RunResults(
        run_dir=run,
        attributions=attributions_frame(read_groups(run / "matrix.h5", "attributions"), lds["behaviour"]),
        primary_attributions=_csv(run / "attributions.csv", dtype={"unit_id": str, "rank": "Int64"}),
        estimators=_csv(run / "estimators.csv"),
        lds=lds,
        budget=pd.json_normalize(budget["points"]),
        budget_info=budget,
        table1=_csv(run / "table1.csv"),
        counterfactual=_csv(run / "counterfactual.csv", dtype={"removed": str}),
        matrix=read_matrix(run / "matrix.h5"),
        manifest=manifest,
        figures=figures,
    )


def attributions_frame(groups: Mapping[str, Mapping[str, np.ndarray]], behaviour: str) -> pd.DataFrame:
    """matrix.h5's attributions/<estimator> groups as one long table, attributions.csv's columns."""
    frames = []
    for estimator, g in groups.items():
        n = len(g["unit_ids"])
        frames.append(
            pd.DataFrame(
                {
                    "estimator": estimator,
                    "behaviour": behaviour,
                    "unit_id": list(g["unit_ids"]),
                    "coefficient": g["coefficient"],
                    "score": g["score"],
                    "relative_score": g["relative_score"],
                    # No rank dataset: the fit ranks nothing (attributions.csv leaves its rank empty).
                    "rank": pd.array(g["rank"] if "rank" in g else [pd.NA] * n, dtype="Int64"),
                    "sign_identified": int(bool(g["level_identified"])),
                    "intercept": float(g["intercept"]),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def hashed_config(specs: Mapping[str, Mapping[str, Any]]) -> dict:
    """The stages' hashed config sections merged into one nested dict (a spec's dotted key such as
    "behaviour.seed" nests under behaviour)."""
    merged: dict = {}
    for stage, spec in specs.items():
        for key, value in spec["config"].items():
            *parents, leaf = key.split(".")
            node = merged
            for part in parents:
                node = node.setdefault(part, {})
            _merge(node, leaf, value, f"{stage}: {key}")
    return merged


def _merge(node: dict, key: str, value: Any, where: str) -> None:
    if isinstance(value, dict) and isinstance(node.get(key), dict):
        for k, v in value.items():
            _merge(node[key], k, v, f"{where}.{k}")
    elif key in node and node[key] != value:
        raise ValueError(f"manifest.json specs disagree on {where}: {node[key]!r} vs {value!r}")
    else:
        node[key] = copy.deepcopy(value)


def _csv(path: Path, **kwargs: Any) -> pd.DataFrame:
    try:
        return pd.read_csv(path, **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise ValueError(f"{path}: unreadable CSV ({exc}); rerun the workflow to rebuild the view") from None
