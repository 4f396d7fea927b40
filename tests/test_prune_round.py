"""prune.round_to: every pruned layer keeps a multiple of round_to channels (and of its GroupNorm's
groups and attention heads), the model still runs and reloads exactly, null keeps the authors' widths,
and the start-up check refuses exactly the values the pruner cannot honour."""

import pytest
import torch
from conftest import TINY_UNET, prune_tiny

from diffattr.modelling.models import build_unet, count_params, load_model, save_model
from diffattr.modelling.pruning import kept_channels, layer_widths, macs_and_params, prune_unet
from diffattr.workflow.config import ConfigError, validate_config
from diffattr.workflow.config_checks import round_to_problems


@pytest.mark.parametrize(
    "channels, groups, round_to, kept",
    [
        (16, 4, None, 12),  # the authors' rule: 16 - int(11.2) = 5 removed, floored to 4
        (32, 4, None, 24),
        (64, 1, None, 44),  # a plain layer: int(64 * 0.7) kept
        (16, 4, 8, 8),
        (32, 4, 8, 24),
        (64, 1, 8, 40),
        (16, 4, 16, 16),  # floored to 0, kept at one multiple: the layer is not pruned
        (32, 4, 16, 16),
        (40, 4, 6, 24),  # 28 kept by the authors' rule, floored to a multiple of lcm(6, 4) = 12
        (256, 32, 8, 192),  # round_to dividing the group count changes nothing
    ],
)
def test_kept_channels_rounds_the_authors_count_down_to_the_lcm(channels, groups, round_to, kept):
    assert kept_channels(channels, 0.3, groups, round_to) == kept


def test_kept_channels_refuses_a_multiple_wider_than_the_layer():
    with pytest.raises(ValueError, match=r"^prune\.round_to: 32 leaves no width for a layer of 16 channels"):
        kept_channels(16, 0.3, 4, 32)


def test_round_to_null_keeps_the_authors_widths():
    """Today's widths of the default's architecture (the digits UNet) at ratio 0.3: GroupNorm-tied
    layers 16 -> 12 and 32 -> 24 (their concatenations 36 and 48); by torch-pruning's own rule, the
    layers no GroupNorm ties: the time embedding 64 -> 44 and the deepest up block's last conv (into
    the upsampler) 32 -> 22; the image's 1 channel and the timestep features' 16 kept."""
    torch.manual_seed(0)
    w = layer_widths(prune_unet(build_unet(TINY_UNET, 8, 1), 0.3, round_to=None))
    assert w["conv_in"] == (1, 12) and w["down_blocks.1.resnets.0.conv1"] == (12, 24)
    assert w["time_embedding.linear_1"] == (16, 44) and w["conv_out"] == (12, 1)
    assert w["up_blocks.0.resnets.1.conv2"] == (24, 22)
    assert {n for pair in w.values() for n in pair} == {1, 4, 12, 16, 22, 24, 36, 44, 48}


@pytest.mark.parametrize("attention", [False, True])
@pytest.mark.parametrize("round_to", [4, 8, 16])
def test_round_to_keeps_multiples_runs_and_reloads_exactly(tmp_path, round_to, attention):
    torch.manual_seed(0)
    base = build_unet({**TINY_UNET, "attention": attention}, 8, 1)
    before = layer_widths(base)
    _, params0 = macs_and_params(base)
    pruned = prune_unet(base, 0.3, round_to=round_to)
    after = layer_widths(pruned)
    assert after.keys() == before.keys()
    changed = {(name, side): w for name in after for side, w in enumerate(after[name]) if w != before[name][side]}
    assert changed, "nothing was pruned"
    off = {key: w for key, w in changed.items() if w % round_to}
    assert not off, f"pruned widths not a multiple of {round_to}: {off}"
    for name, module in pruned.named_modules():
        if isinstance(module, torch.nn.GroupNorm):
            assert module.num_groups == 4 and module.num_channels % 4 == 0, name
    _, params1 = macs_and_params(pruned)
    assert params1 < params0
    x, t = torch.randn(3, 1, 8, 8), torch.tensor([0, 400, 999])
    with torch.no_grad():
        out = pruned(x, t).sample
    assert out.shape == x.shape and torch.isfinite(out).all()
    save_model(pruned, tmp_path / "pruned.pt")
    reloaded = load_model(tmp_path / "pruned.pt")
    with torch.no_grad():
        assert torch.equal(reloaded(x, t).sample, out)
    assert count_params(reloaded) == params1


def test_round_to_8_widths_of_the_default_architecture():
    """16 -> 8, 32 -> 24 and the time embedding 64 -> 40 (the authors' 12 and 44 floored to 8)."""
    torch.manual_seed(0)
    w = layer_widths(prune_unet(build_unet(TINY_UNET, 8, 1), 0.3, round_to=8))
    assert w["conv_in"] == (1, 8) and w["down_blocks.1.resnets.0.conv1"] == (8, 24)
    assert w["time_embedding.linear_1"] == (16, 40) and w["up_blocks.1.resnets.0.conv1"] == (32, 8)


@pytest.mark.parametrize(
    "model, round_to, refused",
    [
        (TINY_UNET, 8, False),
        (TINY_UNET, 16, False),
        (TINY_UNET, 32, True),  # the 16-channel level has no multiple of 32
        (TINY_UNET, 12, False),  # lcm(12, 4) = 12 fits in 16
        # 16 heads of 2 channels at 32 channels: lcm(12, 16) = 48 > 32, though lcm(12, 4) fits.
        ({**TINY_UNET, "attention": True, "attention_head_dim": 2}, 12, True),
        ({**TINY_UNET, "attention": True, "attention_head_dim": 2}, 8, False),
    ],
)
def test_the_start_up_check_refuses_exactly_what_the_pruner_cannot_do(model, round_to, refused):
    assert bool(round_to_problems(model, round_to)) == refused
    torch.manual_seed(0)
    if refused:
        with pytest.raises(ValueError, match=r"^prune\.round_to: "):
            prune_unet(build_unet(model, 8, 1), 0.3, round_to=round_to)
    else:
        prune_unet(build_unet(model, 8, 1), 0.3, round_to=round_to)


def test_an_impossible_round_to_is_one_config_line(config, schema_path):
    config["prune"]["round_to"] = 32
    with pytest.raises(ConfigError) as err:
        validate_config(config, schema_path)
    assert str(err.value).split("\n") == [
        "config key prune.round_to: 32 leaves no width for the 16-channel level of model.block_out_channels "
        "[16, 32]: a pruned layer keeps a multiple of 32 (its lcm with model.norm_num_groups 4); lower it or use "
        "null (the authors' rule)"
    ]
    config["prune"]["round_to"] = 8
    validate_config(config, schema_path)


def test_the_calibration_prunes_as_the_stage_and_is_keyed_by_round_to_only_when_set(config):
    """make plan's calibration times the pruned model the prune stage builds; its cache key names
    round_to only when set, so the caches measured before the key existed still match."""
    from diffattr.workflow import calibration

    config["prune"]["round_to"] = None
    assert calibration.calibration_key(config, 1)["prune"] == {"ratio": 0.3, "importance_p": 2}
    config["prune"]["round_to"] = 8
    assert calibration.calibration_key(config, 1)["prune"] == {"ratio": 0.3, "importance_p": 2, "round_to": 8}
    torch.manual_seed(0)
    timed = calibration.pruned_model(build_unet(TINY_UNET, 8, 1), config["prune"])
    assert layer_widths(timed)["conv_in"] == (1, 8) and layer_widths(timed)["time_embedding.linear_1"] == (16, 40)


@pytest.mark.parametrize("round_to", [None, 8])
def test_the_prune_stage_takes_round_to_from_the_rules_params(config, tmp_path, round_to):
    """The prune rule's params (the hashed section, as build_plan selects it) carry round_to to the
    stage, which prunes with it and records it in train.json only when set."""
    from diffattr.core.atomic import read_json
    from diffattr.core.settings import Pruning
    from diffattr.workflow.addressing import build_plan

    config["prune"]["round_to"] = round_to
    config["prune"]["finetune"].update(steps=2, batch_size=8)
    settings = Pruning.from_config(build_plan(config).specs["prune"]["config"]["prune"], config)
    assert settings.round_to == round_to
    prune_tiny(tmp_path, settings, config["scheduler"])
    assert layer_widths(load_model(tmp_path / "model"))["conv_in"] == (1, 12 if round_to is None else 8)
    info = read_json(tmp_path / "train.json")
    assert info.get("round_to") == round_to and ("round_to" in info) == (round_to is not None)
