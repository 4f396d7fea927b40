"""Start-up checks of what the config points at and what it builds: the UNet against the data's image
size, the pruned widths (prune.round_to) against the UNet, the pretrained model's folder, the
Inception weights, the CSV units, the class share's class. Each returns [(key, text)], one per
problem (config.validate_config prefixes 'config key <key>: '); none reads more than a header, a
small JSON or a weights file's first bytes, so start-up stays fast. Torch-free."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

Problem = tuple[str, str]
# At most this many lines about one CSV file, then one line counting the rest.
MAX_CSV_LINES = 10


def attended_channels(channels: list[int]) -> list[int]:
    """The channel counts of the levels models.build_unet gives attention (model.attention): the second
    level (when there is one) and the mid-block, which has the last level's; smallest first."""
    return sorted({channels[1], channels[-1]} if len(channels) > 1 else {channels[-1]})


def unet_problems(model_cfg: Mapping[str, Any], shape: tuple[int, int, int], resolution_key: str) -> list[Problem]:
    """What diffusers' UNet2DModel, as models.build_unet builds it, needs of the image size and the
    model section (tests/test_config_errors.py builds one for each verdict): every level but the last
    halves the image, and the up path must meet each skip connection at its size, so height and width
    must be multiples of 2^(levels - 1); GroupNorm splits every level's channels into norm_num_groups
    groups; an attention layer has channels // attention_head_dim heads, at least one."""
    channels = list(model_cfg["block_out_channels"])
    _, height, width = shape
    out: list[Problem] = []
    factor = 2 ** (len(channels) - 1)
    if height % factor or width % factor:
        out.append(
            (
                resolution_key,
                f"the images are {height} x {width}, but model.block_out_channels has {len(channels)} levels, "
                f"which halve them {len(channels) - 1} times: height and width must be multiples of {factor}; "
                + (
                    f"set data.resolution to a multiple of {factor}"
                    if resolution_key == "data.resolution"
                    else "use fewer levels"
                ),
            )
        )
    groups = int(model_cfg["norm_num_groups"])
    uneven = [c for c in channels if c % groups]
    if uneven:
        out.append(
            (
                "model.norm_num_groups",
                f"{groups} does not divide the channels {uneven} of model.block_out_channels (GroupNorm splits "
                "every level's channels into that many groups); choose a common divisor",
            )
        )
    head_dim = model_cfg.get("attention_head_dim", 8)  # absent: diffusers' 8 (models.build_unet)
    if model_cfg.get("attention", False) and head_dim is not None:
        attended = attended_channels(channels)
        if head_dim > attended[0]:
            out.append(
                (
                    "model.attention_head_dim",
                    f"{head_dim} channels per head exceeds the {attended[0]} channels of an attention layer "
                    f"(model.block_out_channels {channels}), which would get no head; lower it or use null "
                    "(one head per layer)",
                )
            )
    return out


def round_to_problems(model_cfg: Mapping[str, Any], round_to: int) -> list[Problem]:
    """prune.round_to against the model (pruning.kept_channels' rule): a pruned layer keeps a multiple
    of lcm(round_to, its channel groups) (a level's GroupNorm groups; an attention projection's
    heads), so that multiple must fit in the level's channels; the time embedding (4x the first
    level) always has room when the levels do."""
    import math

    channels = list(model_cfg["block_out_channels"])
    groups = int(model_cfg["norm_num_groups"])
    splits = [(c, groups, f"model.norm_num_groups {groups}") for c in channels]
    head_dim = model_cfg.get("attention_head_dim", 8)
    if model_cfg.get("attention", False):
        for c in attended_channels(channels):
            heads = c // head_dim if head_dim else 1
            splits.append((c, heads, f"its {heads} attention heads"))
    for c, split, what in splits:
        step = math.lcm(int(round_to), split)
        if step > c:
            return [
                (
                    "prune.round_to",
                    f"{round_to} leaves no width for the {c}-channel level of model.block_out_channels {channels}: "
                    f"a pruned layer keeps a multiple of {step} (its lcm with {what}); lower it or use null "
                    "(the authors' rule)",
                )
            ]
    return []


def base_model_problems(
    path: str, shape: tuple[int, int, int] | None, sched_cfg: Mapping[str, Any] | None
) -> list[Problem]:
    """The pretrained model's folder (pretrained.locate: a copy of google/ddpm-cifar10-32, a pipeline
    save or a UNet2DModel folder) holds a UNet2DModel's config.json and weights, for the data's images,
    and, where it has a scheduler_config.json, for the config's forward process (`sched_cfg`; None
    when that section has its own problem). The full comparison with `model` needs the weights: the
    train_base job makes it."""
    from ..core.pretrained import locate, scheduler_problem

    key = "base_model.path"
    try:
        found = locate(path)
    except ValueError as exc:
        return [(key, _strip_key(str(exc), key))]
    out: list[Problem] = []
    config_json = found.unet / "config.json"
    try:
        cfg = json.loads(config_json.read_text())
        size, channels = cfg.get("sample_size"), cfg.get("in_channels")
    except (ValueError, AttributeError, OSError) as exc:
        return [(key, f"{config_json} is not a diffusers config ({type(exc).__name__}); replace the folder")]
    dims = tuple(size) if isinstance(size, (list, tuple)) else (size, size)
    if shape is not None and (channels, *dims) != tuple(shape):
        out.append(
            (
                key,
                f"{found.unet} is for {channels} x {dims[0]} x {dims[1]} images, the data are {shape[0]} x "
                f"{shape[1]} x {shape[2]}; give a model trained on images like the data's, or change data",
            )
        )
    problem = scheduler_problem(found, sched_cfg) if sched_cfg is not None else None
    if problem:
        out.append((key, problem))
    return out


def inception_problems(path: str) -> list[Problem]:
    if Path(path or "").is_file():
        return []
    return [
        (
            "behaviour.inception_weights",
            f"{path!r} not found; give torch-fidelity's Inception-v3 weights "
            "(weights-inception-2015-12-05-6726825d.pth; pytorch-fid's pt_inception-2015-12-05-6726825d.pth has "
            "the same layout), a local file (nothing is downloaded)",
        )
    ]


def share_class_problems(share_class: str, class_names: tuple[str, ...]) -> list[Problem]:
    if share_class in class_names:
        return []
    return [
        (
            "behaviour.share_class",
            f"{share_class!r} is not a class of the data {list(class_names)}; use one of them (class_share "
            "measures its share)",
        )
    ]


def csv_problems(path: str, n_samples: int) -> list[Problem]:
    """Every problem of the unit CSV, each naming the file and line (at most MAX_CSV_LINES)."""
    from ..attribution.subsets import read_unit_csv

    _, problems = read_unit_csv(path, n_samples)
    lines = [_strip_key(p, "attribution.csv") for p in problems[:MAX_CSV_LINES]]
    if len(problems) > MAX_CSV_LINES:
        lines.append(f"{path}: {len(problems) - MAX_CSV_LINES} more problems like these")
    return [("attribution.csv", line) for line in lines]


def _strip_key(message: str, key: str) -> str:
    return message[len(key) + 2 :] if message.startswith(key + ": ") else message


def slurm_limit_problems(limits: Mapping[str, Any], resources: Mapping[str, Mapping[str, Any]]) -> list[Problem]:
    """The Slurm limits' floor under their cap, their calibration file readable, and no runtime or
    mem_mb in resources.default (it would silently stand under every rule's derived limit)."""
    out: list[Problem] = []
    if limits["floor_minutes"] > limits["cap_minutes"]:
        out.append(
            (
                "slurm_limits.floor_minutes",
                f"{limits['floor_minutes']} is above cap_minutes {limits['cap_minutes']}; lower it",
            )
        )
    path = limits["calibration"]
    if path and not Path(path).is_file():
        out.append(
            (
                "slurm_limits.calibration",
                f"{path}: no such file; write it with `python -m diffattr.plan --calibrate-only` on a node "
                "of the partition, or leave it empty",
            )
        )
    for key in ("runtime", "mem_mb"):
        if key in resources.get("default", {}):
            out.append(
                (
                    f"resources.default.{key}",
                    f"each job's {key} is derived from its forecast (slurm_limits); remove it, or set it "
                    f"per rule (resources.<rule>.{key})",
                )
            )
    return out


# CPU flags of native bf16 arithmetic (Linux /proc/cpuinfo names); without one, torch emulates it.
BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str] | None:
    """The first CPU's flags, or None where /proc/cpuinfo cannot be read (not Linux)."""
    try:
        with open(cpuinfo) as fh:
            line = next(line for line in fh if line.startswith("flags"))
    except (OSError, StopIteration):
        return None
    return set(line.split(":", 1)[1].split())


def bf16_warning(compute: Mapping[str, Any], flags: set[str] | None, gpu_visible: bool) -> str | None:
    """A warning where compute.precision or compute.sampling_precision asks for bf16 on a CPU without
    bf16 arithmetic and no GPU will take it: there bf16 runs many times slower than fp32 (13x for
    sampling on an AVX2 EPYC, docs/results.md). None where it does not apply or cannot be known."""
    keys = [k for k in ("precision", "sampling_precision") if compute.get(k) == "bf16"]
    if not keys or compute.get("device") == "cuda" or gpu_visible or flags is None or flags & set(BF16_FLAGS):
        return None
    return (
        f"compute.{keys[0]}: bf16 on this CPU, which has no {' or '.join(BF16_FLAGS)} and no GPU: bf16 "
        "runs many times slower than fp32 here (docs/results.md); use fp32 here, bf16 on a GPU or a CPU "
        "with AVX512-BF16"
    )
