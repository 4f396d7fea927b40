"""Building, saving and loading the DDPM UNet and its noise schedulers."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch


def build_unet(model_cfg: Mapping[str, Any], sample_size: int, channels: int) -> torch.nn.Module:
    """A diffusers UNet2DModel; `attention` switches the second-from-top level to attention blocks."""
    from diffusers import UNet2DModel

    levels = len(model_cfg["block_out_channels"])
    down = ["DownBlock2D"] * levels
    up = ["UpBlock2D"] * levels
    if model_cfg.get("attention", False) and levels > 1:
        down[1] = "AttnDownBlock2D"
        up[levels - 2] = "AttnUpBlock2D"
    return UNet2DModel(
        sample_size=sample_size,
        in_channels=channels,
        out_channels=channels,
        layers_per_block=model_cfg["layers_per_block"],
        block_out_channels=tuple(model_cfg["block_out_channels"]),
        down_block_types=tuple(down),
        up_block_types=tuple(up),
        norm_num_groups=model_cfg["norm_num_groups"],
        add_attention=bool(model_cfg.get("attention", False)),  # the mid-block's attention
        # None: one head per layer, as google/ddpm-cifar10-32; absent from the config: diffusers' 8.
        attention_head_dim=model_cfg.get("attention_head_dim", 8),
        dropout=model_cfg.get("dropout", 0.0),
    )


def initial_unet(model_cfg: Mapping[str, Any], images, seed: int) -> torch.nn.Module:
    """A fresh UNet for `images` (N x C x H x W) with its weights initialised from `seed`: the base
    model's and every retraining's starting point, and the untrained model init saves (v(empty)), so
    all three share one initialisation."""
    torch.manual_seed(int(seed))
    return build_unet(model_cfg, images.shape[-1], images.shape[1])


def _scheduler_kwargs(sched_cfg: Mapping[str, Any]) -> dict:
    keys = ("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "prediction_type", "clip_sample")
    return {k: sched_cfg[k] for k in keys}


def ddpm_scheduler(sched_cfg: Mapping[str, Any]):
    """The training-time forward process."""
    from diffusers import DDPMScheduler

    return DDPMScheduler(**_scheduler_kwargs(sched_cfg))


def ddim_scheduler(sched_cfg: Mapping[str, Any]):
    """The same noise schedule, sampled with DDIM."""
    from diffusers import DDIMScheduler

    return DDIMScheduler(**_scheduler_kwargs(sched_cfg))


MODULE_FILE = "module.pt"


def save_model(model: torch.nn.Module, path: str | os.PathLike, whole_module: bool = False) -> None:
    """A model folder (or a `.pt` file): diffusers' save_pretrained folder for an unpruned model; the
    whole pickled module (`whole_module`, as module.pt in the folder) for a structurally pruned one,
    whose layers the diffusers config no longer describes."""
    from ..core.atomic import atomic_dir, atomic_path

    path = Path(path)
    if path.suffix == ".pt":
        with atomic_path(path, suffix=".pt") as tmp, open(tmp, "wb") as fh:
            torch.save(model, fh)  # a handle, not the temporary name: same weights, same bytes
        return
    with atomic_dir(path) as tmp:
        if whole_module:
            torch.save(model, tmp / MODULE_FILE)
        else:
            model.save_pretrained(tmp)


def load_model(path: str | os.PathLike) -> torch.nn.Module:
    """Load a model written by save_model, naming the file when it is missing or corrupt."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: checkpoint missing; rerun the rule that writes it")
    pickled = path / MODULE_FILE if path.is_dir() else path
    try:
        if path.is_dir() and not pickled.exists():
            from diffusers import UNet2DModel

            model = UNet2DModel.from_pretrained(path)
        else:
            import diffusers.models.unets.unet_2d  # noqa: F401  (classes the pickle refers to)

            # weights_only=False: a pruned model is stored as a whole module (our own artifact).
            model = torch.load(pickled, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise ValueError(
            f"{path}: corrupt or unreadable checkpoint ({type(exc).__name__}: {exc}); "
            "delete it and rerun the rule that writes it"
        ) from None
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"{path}: not a model checkpoint; delete it and rerun the rule that writes it")
    return model.eval()


def count_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def import_pretrained_unet(
    path: str | os.PathLike, model_cfg: Mapping[str, Any], sample_size: int, channels: int
) -> torch.nn.Module:
    """The UNet of a local pretrained DDPM (pretrained.locate: a copy of google/ddpm-cifar10-32, a
    pipeline save or a UNet2DModel folder), checked against the data and against the config's
    architecture, which retraining from scratch uses: a mismatch would compare models of different shapes."""
    from diffusers import UNet2DModel

    from ..core.pretrained import locate

    unet = locate(path).unet
    try:
        model = UNet2DModel.from_pretrained(unet, local_files_only=True)
    except Exception as exc:
        detail = " ".join(str(exc).split())
        msg = f"base_model.path: {unet} is not a loadable UNet2DModel ({type(exc).__name__}: {detail})"
        raise ValueError(msg) from None
    cfg = model.config
    if cfg.sample_size != sample_size or cfg.in_channels != channels:
        raise ValueError(
            f"base_model.path: {unet} is for {cfg.in_channels} x {cfg.sample_size} x {cfg.sample_size} "
            f"images, the data are {channels} x {sample_size} x {sample_size}"
        )
    built = build_unet(model_cfg, sample_size, channels)
    reference = built.state_dict()
    loaded = model.state_dict()
    for key in sorted(set(reference) | set(loaded)):
        a, b = reference.get(key), loaded.get(key)
        if a is None or b is None or a.shape != b.shape:
            raise ValueError(
                f"base_model.path: {unet} differs from the config's model section at {key} "
                f"(config {None if a is None else tuple(a.shape)}, checkpoint "
                f"{None if b is None else tuple(b.shape)}); set model.* to the checkpoint's architecture "
                f"(its block_out_channels {list(cfg.block_out_channels)}, layers_per_block "
                f"{cfg.layers_per_block}, down blocks {list(cfg.down_block_types)})"
            )
    # Head counts change what attention computes but no tensor shape, so compare them on their own.
    from diffusers.models.attention_processor import Attention

    heads = [(n, m.heads) for n, m in built.named_modules() if isinstance(m, Attention)]
    have = dict((n, m.heads) for n, m in model.named_modules() if isinstance(m, Attention))
    for name, h in heads:
        if have.get(name) != h:
            raise ValueError(
                f"base_model.path: {unet} has {have.get(name)} attention heads at {name}, the config's "
                f"model section {h}; set model.attention_head_dim to "
                f"{'null' if cfg.attention_head_dim is None else cfg.attention_head_dim} "
                "(null = one head per layer)"
            )
    return model.eval()
