"""Starting from a pretrained diffusers UNet directory (base_model.path) instead of training one."""

import copy
import logging

import pytest
import torch
from conftest import SCHED, write_pretrained

from diffattr.core.settings import BaseModel, DataSource
from diffattr.modelling.models import build_unet, load_model
from diffattr.stages.data import make_data
from diffattr.stages.train_base import import_base
from diffattr.workflow.addressing import build_plan
from diffattr.workflow.config import ConfigError, validate_config


@pytest.fixture
def pretrained(tmp_path, config):
    torch.manual_seed(5)
    model = build_unet(config["model"], 8, 1)
    model.save_pretrained(tmp_path / "unet")
    return tmp_path / "unet", model


def test_imported_model_is_the_checkpoint(tmp_path, config, pretrained):
    path, model = pretrained
    make_data(settings=DataSource("digits"), data=tmp_path / "data.npz", info=tmp_path / "data.json")
    info = import_base(
        data=tmp_path / "data.npz",
        settings=BaseModel(config["model"], pretrained=str(path)),
        model=tmp_path / "base",
        info=tmp_path / "train.json",
        log=logging.getLogger("t"),
    )
    assert info["steps"] == 0 and info["pretrained"] == str(path) and len(info["pretrained_sha256"]) == 64
    loaded = load_model(tmp_path / "base")
    for (k, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), k


def test_architecture_or_size_mismatch_is_refused(tmp_path, config, pretrained):
    path, _ = pretrained
    make_data(settings=DataSource("digits"), data=tmp_path / "data.npz", info=tmp_path / "data.json")
    other = dict(config["model"], block_out_channels=[16, 48])
    with pytest.raises(ValueError, match="differs from the config's model section at .*set model.* to the checkpoint"):
        import_base(
            data=tmp_path / "data.npz",
            settings=BaseModel(other, pretrained=str(path)),
            model=tmp_path / "b",
            info=tmp_path / "t.json",
            log=logging.getLogger("t"),
        )
    torch.manual_seed(0)
    build_unet(config["model"], 16, 1).save_pretrained(tmp_path / "big")
    with pytest.raises(ValueError, match="is for 1 x 16 x 16 images, the data are 1 x 8 x 8"):
        import_base(
            data=tmp_path / "data.npz",
            settings=BaseModel(config["model"], pretrained=str(tmp_path / "big")),
            model=tmp_path / "b",
            info=tmp_path / "t.json",
            log=logging.getLogger("t"),
        )
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="has no config.json and no unet/config.json"):
        import_base(
            data=tmp_path / "data.npz",
            settings=BaseModel(config["model"], pretrained=str(tmp_path / "empty")),
            model=tmp_path / "b",
            info=tmp_path / "t.json",
            log=logging.getLogger("t"),
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
    make_data(settings=DataSource("digits"), data=tmp_path / "data.npz", info=tmp_path / "data.json")
    with pytest.raises(ValueError, match="attention heads at .*set model.attention_head_dim to null"):
        import_base(
            data=tmp_path / "data.npz",
            settings=BaseModel(with_attention, pretrained=str(tmp_path / "unet")),
            model=tmp_path / "b",
            info=tmp_path / "t.json",
            log=logging.getLogger("t"),
        )
    info = import_base(
        data=tmp_path / "data.npz",
        settings=BaseModel(one_head, pretrained=str(tmp_path / "unet")),
        model=tmp_path / "b",
        info=tmp_path / "t.json",
        log=logging.getLogger("t"),
    )
    assert info["steps"] == 0


def test_hub_and_pipeline_layouts_are_imported_and_named_by_the_unets_files(tmp_path, config):
    """google/ddpm-cifar10-32 keeps its UNet at the repository's root beside model_index.json and
    scheduler_config.json; DDPMPipeline.save_pretrained puts it in unet/. Both import the same model,
    and only the UNet's config.json and weights name it (not a README or the pipeline's index)."""
    make_data(settings=DataSource("digits"), data=tmp_path / "data.npz", info=tmp_path / "data.json")
    torch.manual_seed(5)
    model = build_unet(config["model"], 8, 1)
    hub = write_pretrained(tmp_path / "ddpm-cifar10-32", model, SCHED, "hub")
    pipeline = write_pretrained(tmp_path / "pipeline", model, SCHED, "pipeline")
    plain = write_pretrained(tmp_path / "unet", model, SCHED, "unet")
    for path, weights in ((hub, "diffusion_pytorch_model.bin"), (pipeline, "diffusion_pytorch_model.safetensors")):
        out = tmp_path / "store" / path.name
        log = logging.getLogger("t")
        info = import_base(
            data=tmp_path / "data.npz",
            settings=BaseModel(config["model"], pretrained=str(path)),
            model=out,
            info=tmp_path / "t.json",
            log=log,
        )
        assert info["pretrained_hashed"] == ["config.json", weights], path
        assert info["pretrained_unet"] == str(path if path == hub else path / "unet")
        loaded = load_model(out)
        for (k, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
            assert torch.equal(a, b), (path, k)
    cfg = copy.deepcopy(config)

    def name(path):
        cfg["base_model"]["path"] = str(path)
        return build_plan(cfg).hashes["train_base"]

    # The pipeline's unet/ holds exactly what UNet2DModel.save_pretrained writes: one name for both.
    assert name(pipeline) == name(plain) == name(pipeline / "unet")
    first = name(hub)
    (hub / "README.md").write_text("# edited model card\n")
    (hub / "model_index.json").write_text((hub / "model_index.json").read_text() + "\n")
    assert name(hub) == first
    weights = hub / "diffusion_pytorch_model.bin"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\1")
    assert name(hub) != first


def test_start_up_names_a_scheduler_that_differs_and_a_broken_folder(tmp_path, config, schema_path):
    """A pipeline's scheduler_config.json is the forward process its weights were trained for: every
    key that differs from the config's `scheduler` section is named in one line before any job."""
    cfg = copy.deepcopy(config)
    torch.manual_seed(0)
    other = dict(SCHED, beta_end=0.012, beta_schedule="scaled_linear")
    cfg["base_model"]["path"] = str(write_pretrained(tmp_path / "hub", build_unet(config["model"], 8, 1), other, "hub"))
    with pytest.raises(ConfigError) as err:
        validate_config(cfg, schema_path)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("config key base_model.path: ") and "scheduler_config.json differs" in msg
    assert "beta_end 0.012 (config 0.02)" in msg and "beta_schedule 'scaled_linear' (config 'linear')" in msg
    assert "num_train_timesteps" not in msg and "set scheduler.* to the pretrained model's" in msg
    cfg["scheduler"].update(beta_end=0.012, beta_schedule="scaled_linear")
    validate_config(cfg, schema_path)  # matching: accepted
    # A v-prediction model cannot be matched: the workflow's loss and sampler are epsilon's.
    other = dict(SCHED, prediction_type="v_prediction")
    cfg["base_model"]["path"] = str(write_pretrained(tmp_path / "v", build_unet(config["model"], 8, 1), other, "hub"))
    with pytest.raises(ConfigError, match="prediction_type 'v_prediction' .*epsilon-prediction models only"):
        validate_config(copy.deepcopy(dict(cfg, scheduler=config["scheduler"])), schema_path)
    # The pipeline layout keeps its scheduler in scheduler/, also when unet/ is given directly.
    pipeline = write_pretrained(tmp_path / "pipe", build_unet(config["model"], 8, 1), SCHED, "pipeline")
    for path in (pipeline, pipeline / "unet"):
        cfg["base_model"]["path"] = str(path)
        with pytest.raises(ConfigError, match=r"scheduler[/\\]scheduler_config.json differs .*beta_end 0.02"):
            validate_config(cfg, schema_path)
    cfg["scheduler"] = copy.deepcopy(config["scheduler"])
    validate_config(cfg, schema_path)
    weights = pipeline / "unet" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(b"version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 1\n")
    with pytest.raises(ConfigError, match="safetensors is a Git LFS pointer, not the weights"):
        validate_config(cfg, schema_path)
    weights.unlink()
    with pytest.raises(ConfigError, match="has config.json but no weights"):
        validate_config(cfg, schema_path)
    (pipeline / "unet" / "config.json").write_text('{"_class_name": "UNet2DConditionModel"}')
    with pytest.raises(ConfigError, match="describes a UNet2DConditionModel, not a UNet2DModel"):
        validate_config(cfg, schema_path)


def test_scheduler_defaults_are_diffusers(config):
    """Keys an older scheduler_config.json leaves out take DDPMScheduler's defaults."""
    import inspect

    from diffusers import DDPMScheduler

    from diffattr.core.pretrained import SCHEDULER_DEFAULTS

    params = inspect.signature(DDPMScheduler.__init__).parameters
    assert {k: params[k].default for k in SCHEDULER_DEFAULTS} == SCHEDULER_DEFAULTS
