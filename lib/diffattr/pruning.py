"""Structural magnitude pruning of a diffusers UNet with torch-pruning."""

from __future__ import annotations

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


def prune_unet(model: torch.nn.Module, ratio: float, p: int = 2) -> torch.nn.Module:
    """Remove `ratio` of the channels of every layer by L-p weight magnitude (one shot, local).

    Only `conv_out` is kept whole, so the model still predicts noise of the image's shape. GroupNorm
    layers keep their group count, so narrow layers can lose more than `ratio` of their channels.
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
