import h5py
import numpy as np
import pytest

from diffattr.attribution.matrix import Matrix, read_matrix, write_matrix
from diffattr.workflow.config import ConfigError, validate_config
from diffattr.workflow.draws import SubsetPlan


def _matrix():
    rng = np.random.default_rng(0)
    return Matrix(
        masks=rng.random((5, 4)) < 0.5,
        behaviours=rng.normal(size=(5, 1)),
        behaviour_names=["fid"],
        unit_ids=["class-0", "class-1", "class-2", "class-3"],
        subset_ids=["train-0000", "train-0001", "train-0002", "test-0000", "test-0001"],
        source=["unlearn"] * 3 + ["retrain"] * 2,
        train_seconds=np.arange(5.0),
        attrs={"config_hash": "abc123"},
    )


def test_hdf5_round_trip_and_plain_h5py_layout(tmp_path):
    m = _matrix()
    write_matrix(
        tmp_path / "m.h5",
        m,
        {"attributions/ridge": {"score": np.ones(4), "unit_ids": np.array(m.unit_ids, dtype=object)}},
    )
    back = read_matrix(tmp_path / "m.h5")
    assert np.array_equal(back.masks, m.masks) and np.allclose(back.behaviours, m.behaviours)
    assert back.subset_ids == m.subset_ids and back.source == m.source and back.unit_ids == m.unit_ids
    assert back.rows("retrain").tolist() == [3, 4] and back.attrs["config_hash"] == "abc123"
    with h5py.File(tmp_path / "m.h5") as f:
        assert f["masks"].dtype == bool and f["masks"].shape == (5, 4)
        assert f["behaviours"].shape == (5, 1) and f["train_seconds"].shape == (5,)
        assert f["attributions/ridge/score"][()].tolist() == [1, 1, 1, 1]


def test_matrix_rejects_duplicate_rows():
    m = _matrix()
    with pytest.raises(ValueError, match="twice"):
        Matrix(
            m.masks, m.behaviours, m.behaviour_names, m.unit_ids, ["train-0000"] * 5, ["unlearn"] * 5, m.train_seconds
        )


def test_corrupt_matrix_names_the_file(tmp_path):
    (tmp_path / "m.h5").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="m.h5"):
        read_matrix(tmp_path / "m.h5")


def test_default_config_is_valid(config, schema_path):
    validate_config(config, schema_path)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda c: c["unlearn"].update(stpes=3), "unlearn.stpes: unknown key"),
        (lambda c: c.update(bogus=1), "bogus: unknown key"),
        (lambda c: c["unlearn"].update(steps="7"), "unlearn.steps: '7' is not of type 'integer' (--config"),
        (lambda c: c["subsets"].update(alpha=1.5), "subsets.alpha"),
        (lambda c: c["subsets"].update(alpha=0), "subsets.alpha"),
        (lambda c: c["subsets"].update(n_train=1), "subsets.n_train"),
        (lambda c: c["prune"].update(ratio=1.0), "prune.ratio"),
        (lambda c: c["behaviour"].update(metrics=["fid"], target="kid"), "behaviour.target"),
        (lambda c: c["datamodel"].update(estimators=["lasso"]), "datamodel.primary"),
        (lambda c: c["datamodel"].update(estimators=["ridge", "tmc"]), "datamodel.estimators.1"),
        (lambda c: c["attribution"].update(unit="sample"), "'loo' needs one model per unit"),
        (
            lambda c: c["attribution"].update(unit="csv", csv="/nonexistent/units.csv"),
            "attribution.csv: '/nonexistent/units.csv' not found",
        ),
        (lambda c: c["attribution"].update(unit="cluster"), "attribution.unit"),
        (lambda c: c["lds"].update(extra_alphas=[0.3]), "lds.extra_alphas.0"),
        (lambda c: c["counterfactual"].update(fractions=[1.0]), "counterfactual.fractions.0"),
    ],
)
def test_bad_config_fails_with_one_line_naming_the_key(config, schema_path, mutate, message):
    mutate(config)
    with pytest.raises(ConfigError) as err:
        validate_config(config, schema_path)
    text = str(err.value)
    assert message in text and "\n" not in text


@pytest.mark.parametrize(
    "exclude, message",
    [
        (lambda c: ["train-0099"], "'train-0099' is not among the configured subsets"),
        (lambda c: ["uniform-0099"], "'uniform-0099' is not among the configured subsets"),
        # train-0000 equals a test subset at the default: a skipped candidate is never used.
        (lambda c: ["train-0000"], "'train-0000' is not among the configured subsets"),
        (lambda c: SubsetPlan(c).used("train")[:39], "fewer than datamodel.min_models=2"),
        (lambda c: [f"test-{i:04d}" for i in range(18)], "the LDS needs at least 3"),
    ],
)
def test_bad_exclusions_fail_naming_the_key(config, schema_path, exclude, message):
    config["subsets"]["exclude"] = exclude(config)
    with pytest.raises(ConfigError, match="subsets.exclude") as err:
        validate_config(config, schema_path)
    assert message in str(err.value)


def test_exclusions_leave_the_other_subsets(config, schema_path):

    config["subsets"]["exclude"] = ["train-0003", "test-0001"]
    validate_config(config, schema_path)
    train, test = SubsetPlan(config).ids("train"), SubsetPlan(config).ids("test")
    assert len(train) == 39 and "train-0003" not in train and len(test) == 19 and "test-0001" not in test


def test_family_subsets_can_be_excluded(config, schema_path):
    from diffattr.workflow.draws import unit_count

    config["subsets"]["exclude"] = ["uniform-0004", "loo-0002"]
    validate_config(config, schema_path)
    assert len(SubsetPlan(config).ids("uniform")) == 39 and "uniform-0004" not in SubsetPlan(config).ids("uniform")
    assert SubsetPlan(config, unit_count(config)).ids("loo") == [f"loo-{i:04d}" for i in range(10) if i != 2]


@pytest.mark.parametrize("n, ok", [(0, True), (3, True), (20, True), (2, False), (21, False)])
def test_ceiling_models_is_0_or_3_to_the_test_subsets(config, schema_path, n, ok):

    config["lds"]["ceiling_models"] = n
    if ok:
        validate_config(config, schema_path)
        assert SubsetPlan(config).ceiling == [f"test-{i:04d}" for i in range(n)]
    else:
        with pytest.raises(ConfigError, match="config key lds.ceiling_models"):
            validate_config(config, schema_path)


def test_ceiling_skips_excluded_test_subsets(config, schema_path):

    config["lds"]["ceiling_models"] = 3
    config["subsets"]["exclude"] = ["test-0001"]
    validate_config(config, schema_path)
    assert SubsetPlan(config).ceiling == ["test-0000", "test-0002", "test-0003"]
