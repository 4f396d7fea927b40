"""CIFAR-10 python batches and image folders from local paths: tiny files written by the test."""

import copy
import dataclasses
import pickle
from pathlib import Path

import numpy as np
import pytest
from conftest import CIFAR_NAMES as NAMES
from conftest import write_cifar, write_folder
from PIL import Image

from diffattr.core.data import class_names_of, digits_targets, load_cifar10, load_imagefolder, load_source, sample_count
from diffattr.core.settings import DataSource
from diffattr.workflow.addressing import build_plan
from diffattr.workflow.config import ConfigError, validate_config
from diffattr.workflow.draws import unit_count


def test_cifar10_batches_load_as_images_in_range(tmp_path):
    root = write_cifar(tmp_path / "cifar-10-batches-py")
    ds = load_cifar10(root)
    assert ds.images.shape == (20, 3, 32, 32) and ds.images.dtype == np.float32
    assert ds.images.min() >= -1 and ds.images.max() <= 1 and ds.class_names == tuple(NAMES)
    with open(root / "data_batch_1", "rb") as fh:
        first = pickle.load(fh, encoding="bytes")
    # Pixel (channel 0, row 0, col 1) of image 0: byte 1 of its row, scaled to [-1, 1].
    assert ds.images[0, 0, 0, 1] == pytest.approx(first[b"data"][0, 1] / 127.5 - 1, abs=1e-6)
    assert ds.labels[:4].tolist() == first[b"labels"]
    assert class_names_of(DataSource("cifar10", str(root))) == tuple(NAMES)


def test_cifar10_missing_or_corrupt_batches_are_named(tmp_path):
    root = write_cifar(tmp_path / "c")
    (root / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="data_batch_3 is corrupt"):
        load_cifar10(root)
    (root / "data_batch_3").unlink()
    with pytest.raises(ValueError, match="data_batch_3 missing; put CIFAR-10's python batches"):
        load_cifar10(root)
    write_cifar(root)
    with open(root / "data_batch_2", "wb") as fh:
        pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, fh)
    with pytest.raises(ValueError, match="data_batch_2 holds"):
        load_cifar10(root)


def test_imagefolder_subfolders_become_groups(tmp_path):
    root = write_folder(tmp_path / "imgs")
    ds = load_source(DataSource("imagefolder", str(root)))
    assert ds.images.shape == (6, 3, 6, 6) and ds.class_names == ("cats", "dogs")
    assert ds.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert ds.images[0, 0].max() == 1.0 and ds.images[0, 2].max() == -1.0  # red cats
    assert load_imagefolder(root, resolution=4).images.shape == (6, 3, 4, 4)


def test_imagefolder_errors_name_the_file(tmp_path):
    root = write_folder(tmp_path / "imgs")
    Image.new("RGB", (8, 8)).save(root / "dogs" / "big.png")
    with pytest.raises(ValueError, match="big.png is 8x8, others 6x6; set data.resolution"):
        load_imagefolder(root)
    (root / "dogs" / "big.png").unlink()
    (root / "cats" / "broken.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(ValueError, match="broken.png is not a readable image"):
        load_imagefolder(root)
    (root / "cats" / "broken.png").unlink()
    (root / "birds").mkdir()
    with pytest.raises(ValueError, match="class folder .*birds has no images"):
        load_imagefolder(root)
    with pytest.raises(ValueError, match="no class subfolders"):
        load_imagefolder(tmp_path / "imgs" / "cats")


def test_local_data_config_is_checked_and_hashed_by_path(config, schema_path, tmp_path):
    cfg = copy.deepcopy(config)
    cfg["data"].update(kind="cifar10", path=str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="config key data.path: .*nowhere' is not a directory"):
        validate_config(cfg, schema_path)
    root = write_cifar(tmp_path / "c")
    cfg["data"]["path"] = str(root)
    # 20 stand-in images hold out 2 for the domain classifier, which its gate refuses at start-up
    # (tests/test_config_errors.py); this test is about the path.
    cfg["classifier"]["min_heldout"] = 0
    validate_config(cfg, schema_path)
    assert build_plan(cfg).hashes["data"] != build_plan(config).hashes["data"]
    # digits ignores (and does not hash) the path and resolution.
    other = copy.deepcopy(config)
    other["data"].update(path="/somewhere", resolution=16)
    assert build_plan(other).hashes == build_plan(config).hashes


def test_units_are_counted_at_start_up_for_every_unit_kind(config, tmp_path):
    """The subsets are drawn at start-up, so the number of units must be known before any job."""
    cifar = DataSource("cifar10", str(write_cifar(tmp_path / "c")))
    folder = DataSource("imagefolder", str(write_folder(tmp_path / "imgs")))
    (tmp_path / "imgs" / "cats" / "notes.txt").write_text("not an image")
    for data in (cifar, folder, DataSource("digits")):
        assert sample_count(data) == len(load_source(data).labels)
        assert class_names_of(data) == load_source(data).class_names
    # digits are counted from scikit-learn's bundled table without importing scikit-learn.
    from sklearn.datasets import load_digits

    assert digits_targets().tolist() == load_digits().target.tolist()
    units = tmp_path / "units.csv"
    # Every index of the 20 stand-in images, once: a file that misses one is refused at start-up.
    units.write_text("index,unit\n" + "".join(f"{i},{'abc'[i % 3]}\n" for i in range(20)))
    cases = [
        ({"unit": "sample"}, cifar, 20),
        ({"unit": "class"}, cifar, 10),
        ({"unit": "class"}, folder, 2),
        ({"unit": "kmeans", "kmeans": {"k": 7, "seed": 0}}, cifar, 7),
        ({"unit": "csv", "csv": str(units)}, cifar, 3),
    ]
    for attribution, data, n in cases:
        cfg = copy.deepcopy(config)
        cfg["attribution"].update(attribution)
        cfg["data"].update(dataclasses.asdict(data))
        assert unit_count(cfg) == n, attribution


def test_the_data_section_becomes_a_typed_source():
    """The data stage and start-up read the data section as one DataSource: an absent or empty path is
    "", an absent or null resolution 0, and a value's type is coerced once here."""
    assert DataSource.from_config({"kind": "digits"}) == DataSource("digits", "", 0)
    assert DataSource.from_config({"kind": "imagefolder", "path": "/x", "resolution": None}) == DataSource(
        "imagefolder", "/x", 0
    )
    assert DataSource.from_config({"kind": "cifar10", "path": Path("/c"), "resolution": "12"}) == DataSource(
        "cifar10", "/c", 12
    )
