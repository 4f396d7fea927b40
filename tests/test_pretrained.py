"""Starting from a pretrained diffusers UNet directory (base_model.path) instead of training one."""

import copy
import logging

import pytest
import torch

from diffattr.models import build_unet, load_model
from diffattr.plan import build_plan
from diffattr.stages.data import make_data
from diffattr.stages.train_base import import_base


@pytest.fixture
def pretrained(tmp_path, config):
    torch.manual_seed(5)
    model = build_unet(config["model"], 8, 1)
    model.save_pretrained(tmp_path / "unet")
    return tmp_path / "unet", model


def test_imported_model_is_the_checkpoint(tmp_path, config, pretrained):
    path, model = pretrained
    make_data({"kind": "digits"}, tmp_path / "data.npz", tmp_path / "data.json")
    info = import_base(
        path, tmp_path / "data.npz", config["model"], tmp_path / "base", tmp_path / "train.json", logging.getLogger("t")
    )
    assert info["steps"] == 0 and info["pretrained"] == str(path) and len(info["pretrained_sha256"]) == 64
    loaded = load_model(tmp_path / "base")
    for (k, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), k


def test_architecture_or_size_mismatch_is_refused(tmp_path, config, pretrained):
    path, _ = pretrained
    make_data({"kind": "digits"}, tmp_path / "data.npz", tmp_path / "data.json")
    other = dict(config["model"], block_out_channels=[16, 48])
    with pytest.raises(ValueError, match="differs from the config's model section at .*set model.* to the checkpoint"):
        import_base(path, tmp_path / "data.npz", other, tmp_path / "b", tmp_path / "t.json", logging.getLogger("t"))
    torch.manual_seed(0)
    build_unet(config["model"], 16, 1).save_pretrained(tmp_path / "big")
    with pytest.raises(ValueError, match="is for 1 x 16 x 16 images, the data are 1 x 8 x 8"):
        import_base(
            tmp_path / "big",
            tmp_path / "data.npz",
            config["model"],
            tmp_path / "b",
            tmp_path / "t.json",
            logging.getLogger("t"),
        )
    with pytest.raises(ValueError, match="has no config.json"):
        import_base(
            tmp_path,
            tmp_path / "data.npz",
            config["model"],
            tmp_path / "b",
            tmp_path / "t.json",
            logging.getLogger("t"),
        )


def test_pretrained_base_is_named_by_its_files(config, pretrained):
    path, _ = pretrained
    cfg = copy.deepcopy(config)
    cfg["base_model"]["path"] = str(path)
    first = build_plan(cfg).hashes
    assert first["train_base"] != build_plan(config).hashes["train_base"]
    # The training recipe no longer determines it; the files do.
    cfg["train_base"]["steps"] += 1
    assert build_plan(cfg).hashes["train_base"] == first["train_base"]
    weights = next(p for p in path.iterdir() if p.name != "config.json")
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
    changed = build_plan(cfg).hashes
    assert changed["train_base"] != first["train_base"] and changed["prune"] != first["prune"]
    cfg["base_model"]["path"] = str(path / "missing")
    with pytest.raises(ValueError, match="base_model.path: .*missing' is not a directory"):
        build_plan(cfg)


def test_attention_head_count_mismatch_is_refused(tmp_path, config):
    """Heads change no tensor shape, so the shape check alone would accept a checkpoint whose
    attention differs from the model that retraining builds."""
    with_attention = dict(config["model"], attention=True)
    one_head = dict(with_attention, attention_head_dim=None)
    torch.manual_seed(0)
    build_unet(one_head, 8, 1).save_pretrained(tmp_path / "unet")
    make_data({"kind": "digits"}, tmp_path / "data.npz", tmp_path / "data.json")
    with pytest.raises(ValueError, match="attention heads at .*set model.attention_head_dim to null"):
        import_base(
            tmp_path / "unet",
            tmp_path / "data.npz",
            with_attention,
            tmp_path / "b",
            tmp_path / "t.json",
            logging.getLogger("t"),
        )
    info = import_base(
        tmp_path / "unet", tmp_path / "data.npz", one_head, tmp_path / "b", tmp_path / "t.json", logging.getLogger("t")
    )
    assert info["steps"] == 0
