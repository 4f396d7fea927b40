"""Every problem of a config before any job, all at once, one line each naming the key (and for the
unit CSV the file and line) and the fix: through validate_config and through `snakemake -n`."""

import copy
import json
import logging
import math
import re
import subprocess
import sys

import pytest
import torch
from conftest import ROOT, copy_workflow, snakemake
from PIL import Image

from diffattr.core.settings import DataSource
from diffattr.workflow.addressing import build_plan
from diffattr.workflow.config import ConfigError, validate_config


def problems(config, schema_path) -> list[str]:
    with pytest.raises(ConfigError) as err:
        validate_config(config, schema_path)
    return str(err.value).split("\n")


def write_images(root, per_class=6, size=8, classes=10):
    """An image folder of `classes` classes (10: the default's class units draw as on digits)."""
    for c in range(classes):
        (root / f"c{c}").mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.new("RGB", (size, size), (25 * c, 10 * i, 0)).save(root / f"c{c}" / f"{i}.png")
    return root


def test_three_mistakes_give_one_error_with_a_line_each(config, schema_path):
    config["unlearn"]["stpes"] = 3  # schema: unknown key
    config["subsets"]["alpha"] = 1.5  # schema: out of range
    config["baseline"]["n_models"] = 99  # across keys: more than subsets.n_train
    lines = problems(config, schema_path)
    assert lines == [
        "config key subsets.alpha: 1.5 is greater than or equal to the maximum of 1",
        "config key unlearn.stpes: unknown key; remove it or fix its spelling (see config/config.yaml)",
        "config key baseline.n_models: 99 exceeds subsets.n_train=40 (the baseline retrains the first training "
        "subsets); lower it or raise subsets.n_train",
    ]


def test_problems_across_sections_and_files_are_all_listed(config, schema_path, tmp_path):
    config["behaviour"].update(features="inception", inception_weights=str(tmp_path / "none.pth"))
    config["behaviour"].update(metrics=["fid", "class_share"], share_class="eleven")
    config["base_model"]["path"] = str(tmp_path / "no-model")
    config["datamodel"]["primary"] = "trak"
    config["table1"]["floor_seed"] = config["retrain"]["seed"]
    config["model"]["norm_num_groups"] = 3
    keys = [line.split(":")[0] for line in problems(config, schema_path)]
    assert keys == [
        "config key model.norm_num_groups",
        "config key base_model.path",
        "config key behaviour.inception_weights",
        "config key behaviour.share_class",
        "config key datamodel.primary",
        "config key table1.floor_seed",
    ]


def test_a_missing_key_is_named_and_a_dotted_key_is_told_to_nest(config, schema_path):
    del config["subsets"]["n_test"]
    config["lds.ceiling_models"] = 4  # what `lds.ceiling_models: 4` in an overlay file gives
    assert problems(config, schema_path) == [
        "config key lds.ceiling_models: a dotted key is not nested; write `lds: {ceiling_models: ...}` in an "
        "overlay (--configfile)",
        "config key subsets.n_test: missing; add it (config/config.yaml has every key)",
    ]


@pytest.mark.parametrize(
    "text, lines",
    [
        (
            "idx,group\n0,a\n",
            [
                "{csv} line 1: needs a header with columns 'index' and 'unit', found 'idx,group'; make the first line "
                "`index,unit`"
            ],
        ),
        (
            "index,unit\n" + "".join(f"{i},u{i % 3}\n" for i in range(1797) if i != 5),
            ["{csv}: 1 training indices have no unit (first [5]); add a line `index,unit` for every index 0..1796"],
        ),
        (
            "index,unit\n" + "".join(f"{i},u{i % 3}\n" for i in range(1797)) + "\n12,u0\n1797,u1\n7,\n",
            [
                # line 1799 is blank: lines are the file's
                "{csv} line 1800: index 12 assigned twice (also on line 14); keep one line per index",
                "{csv} line 1801: index '1797' is not a training index (0..1796)",
                "{csv} line 1802: index 7 assigned twice (also on line 9); keep one line per index",
            ],
        ),
    ],
    ids=["header", "missing", "duplicates"],
)
def test_csv_units_are_checked_at_start_up_by_file_and_line(config, schema_path, tmp_path, text, lines):
    csv = tmp_path / "units.csv"
    csv.write_text(text)
    config["attribution"].update(unit="csv", csv=str(csv))
    assert problems(config, schema_path) == [f"config key attribution.csv: {line.format(csv=csv)}" for line in lines]


def test_a_csv_with_many_problems_is_cut_short(config, schema_path, tmp_path):
    csv = tmp_path / "units.csv"
    csv.write_text("index,unit\n" + "".join(f"{i},u\n" for i in range(3000, 3030)))
    config["attribution"].update(unit="csv", csv=str(csv))
    lines = problems(config, schema_path)
    assert len(lines) == 11 and lines[-1] == f"config key attribution.csv: {csv}: 21 more problems like these"


def test_images_must_halve_as_often_as_the_model_has_levels(config, schema_path, tmp_path):
    config["classifier"]["min_heldout"] = 0  # 60 stand-in images; the gate has its own tests
    config["model"]["block_out_channels"] = [16, 32, 32]  # halves twice: multiples of 4
    config["data"].update(kind="imagefolder", path=str(write_images(tmp_path / "imgs", size=10)))
    expected = (
        "config key data.resolution: the images are 10 x 10, but model.block_out_channels has 3 levels, which "
        "halve them 2 times: height and width must be multiples of 4; set data.resolution to a multiple of 4"
    )
    assert problems(config, schema_path) == [expected]
    config["data"]["resolution"] = 10
    assert problems(config, schema_path) == [expected]
    config["data"]["resolution"] = 12
    validate_config(config, schema_path)
    digits = copy.deepcopy(config)
    digits["data"] = {"kind": "digits"}
    digits["model"]["block_out_channels"] = [16] * 5
    assert problems(digits, schema_path) == [
        "config key model.block_out_channels: the images are 8 x 8, but model.block_out_channels has 5 levels, "
        "which halve them 4 times: height and width must be multiples of 16; use fewer levels"
    ]


def test_start_up_knows_the_image_shape_the_data_stage_loads(tmp_path):
    from test_data_sources import write_cifar

    from diffattr.core.data import image_shape, load_source
    from diffattr.core.settings import DataSource

    folder = str(write_images(tmp_path / "imgs", per_class=1, size=6, classes=2))
    for data in (
        {"kind": "digits"},
        {"kind": "cifar10", "path": str(write_cifar(tmp_path / "c", per_batch=1))},
        {"kind": "imagefolder", "path": folder, "resolution": 0},
        {"kind": "imagefolder", "path": folder, "resolution": 12},
    ):
        source = DataSource.from_config(data)
        assert image_shape(source) == load_source(source).images.shape[1:], data


@pytest.mark.parametrize(
    "model",
    [
        {"block_out_channels": [8], "norm_num_groups": 4},
        {"block_out_channels": [8, 8], "norm_num_groups": 4},
        {"block_out_channels": [8, 8, 8], "norm_num_groups": 4},
        {"block_out_channels": [8, 8, 8, 8], "norm_num_groups": 4},
        {"block_out_channels": [8, 12], "norm_num_groups": 8},
        {"block_out_channels": [8, 16], "norm_num_groups": 4, "attention": True, "attention_head_dim": 32},
        {"block_out_channels": [8, 16], "norm_num_groups": 4, "attention": True, "attention_head_dim": 16},
        {"block_out_channels": [8, 16], "norm_num_groups": 4, "attention": True, "attention_head_dim": None},
        {"block_out_channels": [4], "norm_num_groups": 2, "attention": True},
    ],
)
def test_unet_checks_agree_with_building_one(model):
    """The start-up verdict equals what diffusers' UNet2DModel does: built and run on images of each size,
    or an error."""
    from diffattr.modelling.models import build_unet
    from diffattr.workflow.config_checks import unet_problems

    model = {"layers_per_block": 1, **model}
    for size in (4, 6, 8, 12):
        try:
            with torch.no_grad():
                out = build_unet(model, size, 1)(torch.zeros(1, 1, size, size), 3).sample
            works = out.shape == (1, 1, size, size)
        except (RuntimeError, ValueError, ZeroDivisionError):
            works = False
        assert works == (not unet_problems(model, (1, size, size), "data.resolution")), (model, size)


def test_classifier_gate_applies_where_a_behaviour_uses_the_classifier(config):
    from diffattr.core.classifier_gate import MIN_ACCURACY, MIN_HELDOUT, ClassifierGate, ClassifierGateError

    gate = ClassifierGate.from_config(config)
    assert (gate.min_heldout, gate.min_accuracy) == (MIN_HELDOUT, MIN_ACCURACY) == (50, 0.8)
    assert "behaviour.features: inception" in gate.fix
    inception = copy.deepcopy(config)
    inception["behaviour"]["features"] = "inception"
    assert ClassifierGate.from_config(inception) is None  # trained, but nothing reads it
    inception["behaviour"]["metrics"] = ["fid", "class_share"]
    assert ClassifierGate.from_config(inception).fix == "remove class_share from behaviour.metrics"
    gate.check({"n_heldout": 180, "heldout_accuracy": 0.9722})  # the default's lower seed measured
    for info, message in [
        ({"n_heldout": 6, "heldout_accuracy": 0.5}, "held out 6 images, fewer than classifier.min_heldout=50"),
        ({"n_heldout": 180, "heldout_accuracy": 0.5}, "held-out accuracy 0.5000 on 180 images is below "),
        ({"n_heldout": 180, "heldout_accuracy": math.nan}, "classifier.min_accuracy=0.8"),
    ]:
        with pytest.raises(ClassifierGateError) as err:
            gate.check(info)
        assert message in str(err.value) and "behaviour.features: inception" in str(err.value)
        assert "\n" not in str(err.value)


def test_too_few_held_out_images_stop_at_start_up(config, schema_path, tmp_path):
    config["data"].update(kind="imagefolder", path=str(write_images(tmp_path / "imgs")))
    assert problems(config, schema_path) == [
        "config key classifier.holdout: 0.1 holds out 6 of the 60 training images to measure the domain "
        "classifier's accuracy, fewer than classifier.min_heldout=50: too few to show that the classifier, which "
        "defines FID's features, means anything; use Inception features (behaviour.features: inception), raise "
        "classifier.holdout, or lower classifier.min_heldout"
    ]
    weights = tmp_path / "inception.pth"
    weights.write_bytes(b"stand-in: start-up only checks that it exists")
    config["behaviour"].update(features="inception", inception_weights=str(weights))
    validate_config(config, schema_path)


def test_gate_thresholds_are_not_hashed(config):
    before = build_plan(config).hashes
    config["classifier"].update(min_heldout=7, min_accuracy=0.1)
    assert build_plan(config).hashes == before


def test_classifier_job_that_fails_the_gate_writes_nothing(config, tmp_path):
    """The smoke preset's 2 epochs pass its own gate (0.2) and fail the default's (0.8): the stage then
    writes neither the weights nor the record. The accuracy itself is this CPU's (0.3056 on one AMD
    EPYC, 0.3111 on another): the error must name the one the same training records."""
    import yaml

    from diffattr.core.classifier_gate import ClassifierGate, ClassifierGateError
    from diffattr.core.settings import ClassifierTraining
    from diffattr.stages.classifier import make_classifier
    from diffattr.stages.data import make_data

    make_data(settings=DataSource("digits"), data=tmp_path / "data.npz", info=tmp_path / "data.json")
    smoke = yaml.safe_load((ROOT / "config" / "presets" / "smoke.yaml").read_text())["classifier"]
    log = logging.getLogger("t")
    c = config["classifier"]
    files = {"data": tmp_path / "data.npz", "weights": tmp_path / "w.pt", "info": tmp_path / "i.json"}
    settings = ClassifierTraining(smoke["epochs"], c["seed"], c["holdout"])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the workflow's jobs run it (resources.default.threads)
    try:
        with pytest.raises(ClassifierGateError, match=r"held-out accuracy (0\.\d{4}) on 180 images is below") as failed:
            make_classifier(**files, settings=settings, log=log, gate=ClassifierGate.from_config(config))
        assert not (tmp_path / "w.pt").exists() and not (tmp_path / "i.json").exists()
        config["classifier"].update(smoke)
        gate = ClassifierGate.from_config(config)
        info = make_classifier(**files, settings=settings, log=log, gate=gate)
    finally:
        torch.set_num_threads(threads)
    said = float(re.search(r"accuracy (0\.\d{4})", str(failed.value)).group(1))
    assert info["heldout_accuracy"] == pytest.approx(said, abs=5e-5) and 0.2 <= said < 0.8
    assert (tmp_path / "w.pt").exists()


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("config-errors") / "wf")


def test_dry_run_lists_every_problem_without_a_traceback(workflow):
    (workflow / "units.csv").write_text("idx,group\n0,a\n")
    (workflow / "bad.yaml").write_text(
        "attribution: {unit: csv, csv: units.csv}\nunlearn: {stpes: 3}\nbaseline: {n_models: 99}\n"
    )
    proc = snakemake(workflow, "-n", "--configfile", "config/config.yaml", "bad.yaml", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in out
    assert "config key attribution.csv: units.csv line 1: needs a header with columns 'index' and 'unit'" in out
    assert "config key unlearn.stpes: unknown key" in out and "config key baseline.n_models: 99 exceeds" in out
    # --config reaches the workflow only as `section={key: value}`, whose values are strings.
    proc = snakemake(workflow, "-n", "--config", "subsets={alpha: 0.3, n_train: 5}", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in out
    for key, kind in (("alpha", "number"), ("n_train", "integer")):
        assert (
            f"config key subsets.{key}: '{'0.3' if key == 'alpha' else '5'}' is not of type '{kind}' (--config passes "
            "nested values as strings: put them in an overlay --configfile)"
        ) in out


def test_a_stored_classifier_that_fails_the_gate_stops_the_run(workflow, config):
    """A classifier in the store from a config that did not use it (or lower thresholds) is checked
    before anything uses it."""
    from diffattr.workflow.draws import SubsetPlan
    from diffattr.workflow.layout import Layout

    info = workflow / Layout(build_plan(config).hashes, SubsetPlan(config).chunk_of).path("classifier", "info")
    info.parent.mkdir(parents=True)
    info.write_text(json.dumps({"n_heldout": 180, "heldout_accuracy": 0.4}))
    try:
        proc = snakemake(workflow, "-n", check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0 and "Traceback" not in out
        assert "classifier: held-out accuracy 0.4000 on 180 images is below classifier.min_accuracy=0.8" in out
        (workflow / "lower.yaml").write_text("classifier: {min_accuracy: 0.3}\n")
        snakemake(workflow, "-n", "--configfile", "config/config.yaml", "lower.yaml")
    finally:
        info.unlink()


def test_the_classifier_job_stops_with_one_line(workflow):
    (workflow / "strict.yaml").write_text("classifier: {epochs: 1, min_accuracy: 0.99}\n")
    proc = snakemake(
        workflow, "classifier", "--cores", "1", "--configfile", "config/config.yaml", "strict.yaml", check=False
    )
    assert proc.returncode != 0
    assert "is below classifier.min_accuracy=0.99" in proc.stderr and "Traceback" not in proc.stderr
    assert not list((workflow / "results").rglob("classifier.pt"))
    assert not list((workflow / "results").rglob("classifier.json"))


def test_missing_prints_its_usage():
    proc = subprocess.run(
        [sys.executable, "-m", "diffattr.missing", "--help"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "lib"), "PATH": ""},
    )
    assert proc.returncode == 0 and proc.stdout.startswith("usage: python -m diffattr.missing")
