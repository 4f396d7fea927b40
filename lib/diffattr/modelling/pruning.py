"""Structural magnitude pruning of a diffusers UNet with torch-pruning."""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch


def example_inputs(model: torch.nn.Module) -> dict:
    size = model.config.sample_size
    size = size if isinstance(size, int) else size[0]
    return {"sample": torch.randn(1, model.config.in_channels, size, size), "timestep": torch.ones(1, dtype=torch.long)}


def macs_and_params(model: torch.nn.Module) -> tuple[int, int]:
    import torch_pruning as tp

    with torch.no_grad():
        macs, params = tp.utils.count_ops_and_params(model, example_inputs(model))
    return int(macs), int(params)


def layer_widths(model: torch.nn.Module) -> dict[str, tuple[int, int]]:
    """(in, out) channels of every conv and linear layer, (channels, groups) of every GroupNorm, by
    module name: what pruning changed."""
    out = {}
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Conv2d):
            out[name] = (module.in_channels, module.out_channels)
        elif isinstance(module, torch.nn.Linear):
            out[name] = (module.in_features, module.out_features)
        elif isinstance(module, torch.nn.GroupNorm):
            out[name] = (module.num_channels, module.num_groups)
    return out


def kept_channels(channels: int, ratio: float, groups: int, round_to: int | None = None) -> int:
    """How many of a layer's `channels` pruning keeps. The authors' rule (Diff-Pruning, torch-pruning
    <= 1.2): remove n = C - int(C (1 - ratio)) channels, rounded *down* to a multiple of the layer's
    channel `groups` (its GroupNorm's group count, its attention heads; 1 for a plain layer), so it
    loses at most `ratio`. With `round_to` k (prune.round_to), the kept count is then rounded down to
    a multiple of lcm(k, groups), as torch-pruning's round_to rounds it, but never below that
    multiple: the layer's width suits the kernels (a multiple of the CPU's vector width) and its
    GroupNorm still splits it evenly."""
    kept = channels - (channels - int(channels * (1 - ratio))) // groups * groups
    if round_to is None:
        return kept
    step = math.lcm(round_to, groups)
    if step > channels:
        raise ValueError(
            f"prune.round_to: {round_to} leaves no width for a layer of {channels} channels in {groups} groups "
            f"(a kept width must be a multiple of {step}); lower it or use null (the authors' rule)"
        )
    return max(kept // step * step, step)


def pruning_ratios(
    model: torch.nn.Module,
    ratio: float,
    round_to: int | None = None,
    heads: Mapping[torch.nn.Module, int] | None = None,
) -> dict[torch.nn.Module, float]:
    """Per-layer pruning ratios (torch-pruning's pruning_ratio_dict) that make each layer keep
    `kept_channels`. Without `round_to` only the layers coupled to a GroupNorm get one, by the rule of
    the torch-pruning the authors used; the others take torch-pruning's own rule at `ratio`.
    torch-pruning 1.6 rounds per group instead (group_size - int(group_size (1 - ratio)) from each),
    which takes 256 -> 160 and 128 -> 64 channels at ratio 0.3 with 32 groups and leaves the paper's
    CIFAR-10 model at 13.9M parameters instead of 19.9M; with these ratios it is 19.8M, the old
    version's shapes exactly (1 attention head). With `round_to` every layer gets one; torch-pruning's
    own round_to is not used, as it mixes a group's per-group count with the layer's channel count
    (it counts `current_channels - n_pruned` with n_pruned per group). `heads`: the attention
    projections' head counts, which split their channels as a GroupNorm does."""
    import torch_pruning as tp

    graph = tp.DependencyGraph().build_dependency(
        model, example_inputs=example_inputs(model), output_transform=lambda out: out.sample
    )
    heads = heads or {}
    ratios = {}
    for group in graph.get_all_groups(
        ignored_layers=list(model.conv_out.modules()), root_module_types=[torch.nn.Conv2d, torch.nn.Linear]
    ):
        norms = [dep.target.module.num_groups for dep, _ in group if isinstance(dep.target.module, torch.nn.GroupNorm)]
        if not norms and round_to is None:
            continue
        root = group[0].dep.target.module
        channels = graph.get_out_channels(root)
        # A projection's heads split its output channels; its input channels are the residual stream's.
        split = [
            heads[d.target.module]
            for d, _ in group
            if d.target.module in heads and graph.is_out_channel_pruning_fn(d.handler)
        ]
        groups = norms[0] if round_to is None else math.lcm(*norms[:1], *split)
        n = channels - kept_channels(channels, ratio, groups, round_to)
        # Just under n / C: torch-pruning multiplies back and truncates, and must land on n, not n - 1.
        ratios[root] = max(n / channels - 1e-9, 0.0)
    return ratios


def prune_unet(model: torch.nn.Module, ratio: float, p: int = 2, *, round_to: int | None = None) -> torch.nn.Module:
    """Remove `ratio` of the channels of every layer by L-p weight magnitude (one shot, local).

    Only `conv_out` is kept whole, so the model still predicts noise of the image's shape. Layers tied
    to a GroupNorm lose a multiple of its group count, rounded down (`pruning_ratios`), so they lose
    at most `ratio` of their channels, as in the authors' pruner. `round_to` (prune.round_to; None: the
    authors' rule) makes every pruned layer keep a multiple of it (`kept_channels`).
    """
    import torch_pruning as tp
    from diffusers.models.downsampling import Downsample2D
    from diffusers.models.upsampling import Upsample2D

    if not 0.0 < ratio < 1.0:
        raise ValueError(f"prune.ratio must lie in (0, 1), got {ratio}")
    from diffusers.models.attention_processor import Attention

    model = model.eval()
    # Keep every attention layer's head count: prune dimensions inside each head evenly.
    heads = {}
    for module in model.modules():
        if isinstance(module, Attention):
            for proj in (module.to_q, module.to_k, module.to_v):
                heads[proj] = module.heads
    pruner = tp.pruner.BasePruner(
        model,
        example_inputs(model),
        importance=tp.importance.MagnitudeImportance(p=p),
        pruning_ratio=ratio,
        pruning_ratio_dict=pruning_ratios(model, ratio, round_to, heads),
        global_pruning=False,
        ignored_layers=[model.conv_out],
        output_transform=lambda out: out.sample,
        num_heads=heads,
        prune_head_dims=True,
        prune_num_heads=False,
    )
    with torch.no_grad():
        pruner.step()
    # diffusers' resamplers assert on a stored channel count that torch-pruning does not know about.
    for module in model.modules():
        if isinstance(module, (Downsample2D, Upsample2D)):
            conv = module.conv
            if conv is not None:
                module.channels = conv.in_channels
                module.out_channels = conv.out_channels
    return model
