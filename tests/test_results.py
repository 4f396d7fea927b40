"""diffattr.results.load on the smoke run: every DataFrame and array equals the file it came from (read
here with csv, json and h5py, not with the library), the report's figures lie in the run view as
copies of the stored PNGs, and a folder that is not a finished run view gets one line naming the fix."""

import csv
import json
import math
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

from diffattr import results

FIGURES = {
    "units_top.png",
    "units_bottom.png",
    "scatter.png",
    "histogram.png",
    "budget.png",
    "counterfactual.png",
    "samples_base.png",
    "samples_pruned.png",
    "samples_unlearned.png",
    "samples_retrained.png",
}


@pytest.fixture(scope="module")
def run(smoke_run) -> Path:
    return smoke_run / "results/runs/smoke"


@pytest.fixture(scope="module")
def loaded(run):
    return results.load(run)


def rows_of(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def same_json(a, b) -> bool:
    """Equal JSON values, NaN included (lds.json holds NaN where an estimator ranks nothing)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def same_cell(text: str, value) -> bool:
    """A CSV cell as written against the DataFrame's value: numbers by value (empty and nan: missing)."""
    missing = value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))
    if text in ("", "nan"):
        return missing
    try:
        return float(text) == float(value)
    except ValueError:
        return text == str(value)


@pytest.mark.integration
def test_every_estimators_attributions_equal_matrix_h5(run, loaded):
    frame = loaded.attributions
    with h5py.File(run / "matrix.h5") as f:
        group = f["attributions"]
        assert sorted(frame["estimator"].unique()) == sorted(group)
        for name, g in group.items():
            rows = frame[frame["estimator"] == name]
            assert list(rows["unit_id"]) == [u.decode() for u in g["unit_ids"][()]]
            for column in ("coefficient", "score", "relative_score"):
                assert np.array_equal(rows[column].to_numpy(), g[column][()]), (name, column)
            if "rank" in g:
                assert np.array_equal(rows["rank"].to_numpy(dtype=np.int64), g["rank"][()]), name
            else:  # a fit that ranks nothing
                assert rows["rank"].isna().all(), name
            assert set(rows["sign_identified"]) == {int(g["level_identified"][()])}, name
            assert set(rows["intercept"]) == {float(g["intercept"][()])}, name
        assert len(frame) == len(group) * 10  # the 10 digit classes of every estimator
    assert set(frame["behaviour"]) == {json.loads((run / "lds.json").read_text())["behaviour"]}


@pytest.mark.integration
def test_primary_attributions_equal_attributions_csv(run, loaded):
    rows = rows_of(run / "attributions.csv")
    table = loaded.primary_attributions
    assert list(table.columns) == list(rows[0]) == results.ATTRIBUTION_COLUMNS
    assert len(table) == len(rows) == 10
    for row, (_, got) in zip(rows, table.iterrows()):
        for column in results.ATTRIBUTION_COLUMNS:
            assert same_cell(row[column], got[column]), (row, column)
    # The same units, ranks and (to the CSV's 6 significant digits) scores as the primary's h5 group.
    primary = loaded.ranking().set_index("unit_id")
    assert loaded.primary == json.loads((run / "lds.json").read_text())["estimator"]
    for row in rows:
        assert int(row["rank"]) == primary.loc[row["unit_id"], "rank"]
        for column in ("coefficient", "score", "relative_score"):
            assert row[column] == f"{primary.loc[row['unit_id'], column]:.6g}", (row["unit_id"], column)
    assert list(loaded.ranking()["rank"]) == list(range(1, 11))
    scores = loaded.scores()
    assert list(scores.index) == loaded.matrix.unit_ids and loaded.primary in scores.columns


@pytest.mark.integration
def test_matrix_arrays_equal_h5py(run, loaded):
    m = loaded.matrix
    with h5py.File(run / "matrix.h5") as f:
        assert np.array_equal(m.masks, f["masks"][()])
        assert np.array_equal(m.behaviours, f["behaviours"][()], equal_nan=True)
        assert np.array_equal(m.train_seconds, f["train_seconds"][()], equal_nan=True)  # NaN: the untrained model
        assert m.subset_ids == [s.decode() for s in f["subset_ids"][()]]
        assert m.source == [s.decode() for s in f["source"][()]]
        assert m.unit_ids == list(f.attrs["unit_ids"])
        assert m.behaviour_names == list(f.attrs["behaviour_names"])
        fid = f["behaviours"][()][:, list(f.attrs["behaviour_names"]).index("fid")]
    assert np.array_equal(m.behaviour("fid"), fid, equal_nan=True)
    # The datamodel's train rows and the retrained test rows, as the file's ids record them.
    train = [i for i, (s, sid) in enumerate(zip(m.source, m.subset_ids)) if s == "unlearn" and sid.startswith("train-")]
    test = [i for i, (s, sid) in enumerate(zip(m.source, m.subset_ids)) if s == "retrain" and sid.startswith("test-")]
    smoke = yaml.safe_load((run.parents[2] / "config/presets/smoke.yaml").read_text())
    assert list(m.rows("unlearn")) == train and len(train) == smoke["subsets"]["n_train"]
    assert list(m.rows("retrain")) == test and len(test) == smoke["subsets"]["n_test"]
    models = loaded.models()
    assert list(models["subset_id"]) == m.subset_ids and list(models["source"]) == m.source
    assert np.array_equal(models[m.behaviour_names].to_numpy(), m.behaviours, equal_nan=True)
    assert list(models.index[models["family"] == "train"]) == train


@pytest.mark.integration
def test_tables_equal_their_files(run, loaded):
    for name, table in (
        ("estimators.csv", loaded.estimators),
        ("table1.csv", loaded.table1),
        ("counterfactual.csv", loaded.counterfactual),
    ):
        rows = rows_of(run / name)
        assert list(table.columns) == list(rows[0]) and len(table) == len(rows), name
        for row, (_, got) in zip(rows, table.iterrows()):
            for column, text in row.items():
                assert same_cell(text, got[column]), (name, row, column)
    assert same_json(loaded.lds, json.loads((run / "lds.json").read_text()))
    budget = json.loads((run / "budget.json").read_text())
    assert same_json(loaded.budget_info, budget)
    assert list(loaded.budget["budget"]) == [p["budget"] for p in budget["points"]]
    for column in ("unlearn.lds", "retrain.lds", "gap.gap", "unlearn.models", "retrain.models"):
        outer, inner = column.split(".")
        expected = [p[outer].get(inner) for p in budget["points"]]
        got = loaded.budget[column].tolist()
        assert all((e is None and (g is None or math.isnan(g))) or e == g for e, g in zip(expected, got)), column


@pytest.mark.integration
def test_hashes_stores_and_config_are_the_manifests(smoke_run, run, loaded):
    manifest = json.loads((run / "manifest.json").read_text())
    assert same_json(loaded.manifest, manifest)
    assert loaded.hashes == manifest["hashes"] and loaded.stores == manifest["stores"]
    for stage, digest in loaded.hashes.items():
        store = smoke_run / loaded.stores[stage]
        assert store.name == digest, stage
        spec = store / "spec.json"
        if spec.is_file():  # what the stage hashed, as its store folder records it
            assert json.loads(spec.read_text()) == manifest["specs"][stage], stage
    config = loaded.config
    smoke = yaml.safe_load((smoke_run / "config/presets/smoke.yaml").read_text())
    for key in ("n_train", "n_test", "n_uniform", "n_kernel"):
        assert config["subsets"][key] == smoke["subsets"][key]
    assert config["behaviour"]["target"] == loaded.behaviour == "fid"
    assert "resources" not in config  # runtime keys are not hashed


@pytest.mark.integration
def test_the_report_figures_are_copies_of_the_stored_pngs(smoke_run, run, loaded):
    stores = loaded.stores
    stored = {
        "units_top.png": f"{stores['figures']}/units_top.png",
        "units_bottom.png": f"{stores['figures']}/units_bottom.png",
        "scatter.png": f"{stores['figures']}/scatter.png",
        "histogram.png": f"{stores['figures']}/histogram.png",
        "budget.png": f"{stores['budget']}/budget.png",
        "counterfactual.png": f"{stores['counterfactual']}/counterfactual.png",
        "samples_base.png": f"{stores['samples_train_base']}/base.png",
        "samples_pruned.png": f"{stores['samples_prune']}/pruned.png",
        "samples_unlearned.png": f"{stores['samples_unlearn']}/unlearned.png",
        "samples_retrained.png": f"{stores['samples_retrain']}/retrained.png",
    }
    assert set(loaded.figures) == set(p.name for p in (run / "figures").iterdir()) == FIGURES
    for name, path in loaded.figures.items():
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG") and data == (smoke_run / stored[name]).read_bytes(), name
        assert path.stat().st_ino != (smoke_run / stored[name]).stat().st_ino  # a copy, not a link into the store


def test_a_folder_that_is_no_run_view_gets_one_line_with_the_fix(tmp_path):
    with pytest.raises(results.NotARunView, match=r"no such folder; run the workflow first") as err:
        results.load(tmp_path / "nope")
    assert "\n" not in str(err.value)
    with pytest.raises(results.NotARunView, match=r"not a finished run view \(no manifest.json\); run the workflow"):
        results.load(tmp_path)
    # A view interrupted before its files were all copied (the marker and manifest alone).
    (tmp_path / ".view-abc").write_text("{}")
    (tmp_path / "manifest.json").write_text(json.dumps({"hashes": {}}))
    with pytest.raises(results.NotARunView, match=r"run view without attributions.csv, lds.json, .*rerun the workflow"):
        results.load(tmp_path)
    for name in ("attributions.csv", "lds.json", "estimators.csv", "budget.json", "table1.csv"):
        (tmp_path / name).write_text("x\n")
    (tmp_path / "counterfactual.csv").write_text("x\n")
    (tmp_path / "matrix.h5").write_bytes(b"")
    (tmp_path / "summary.html").write_text("")
    with pytest.raises(results.NotARunView, match=r"manifest.json: written by an older workflow; rerun the workflow"):
        results.load(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"hashes": {}, "specs": {}, "figures": ["budget.png"]}))
    with pytest.raises(results.NotARunView, match=r"figures/budget.png: figure missing from the run view"):
        results.load(tmp_path)


def test_the_hashed_config_nests_dotted_keys_and_refuses_disagreeing_specs():
    specs = {
        "lds": {"config": {"lds": {"seed": 0}, "behaviour.seed": 3}},
        "datamodel": {"config": {"behaviour.target": "fid", "lds": {"seed": 0, "n_bootstrap": 9}}},
    }
    assert results.hashed_config(specs) == {
        "lds": {"seed": 0, "n_bootstrap": 9},
        "behaviour": {"seed": 3, "target": "fid"},
    }
    specs["datamodel"]["config"]["lds"]["seed"] = 1
    with pytest.raises(ValueError, match=r"specs disagree on datamodel: lds.seed: 0 vs 1"):
        results.hashed_config(specs)
