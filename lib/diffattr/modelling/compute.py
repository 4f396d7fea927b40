"""Where and in what precision a job computes: `compute` in config (device, precision,
sampling_precision, tf32)."""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class Compute:
    device: torch.device
    precision: str = "fp32"  # "fp32" or "bf16" (autocast of the forward passes)
    sampling_precision: str | None = None  # DDIM sampling's forward passes; None: as `precision`

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def drawing_precision(self) -> str:
        return self.sampling_precision or self.precision

    def autocast(self, precision: str | None = None):
        """Autocast of a forward pass at `precision` (default: the training precision); sampling
        passes `drawing_precision`."""
        if (precision or self.precision) == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()


CPU = Compute(torch.device("cpu"))


def resolve_compute(cfg: Mapping[str, Any] | None) -> Compute:
    """`device: auto` takes CUDA when a GPU is visible, else the CPU; `cuda` without a GPU is an
    error naming the key. TF32 matmuls and convolutions are switched on for the process when asked."""
    cfg = dict(cfg or {})
    want = cfg.get("device", "auto")
    if want == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    elif want == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            "compute.device: 'cuda' but no GPU is visible to this job; use 'auto' or 'cpu', or ask "
            "the cluster for a GPU (resources.<rule>.gpu: 1)"
        )
    else:
        device = torch.device(want)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = bool(cfg.get("tf32", False))
        torch.backends.cudnn.allow_tf32 = bool(cfg.get("tf32", False))
    return Compute(device, cfg.get("precision", "fp32"), cfg.get("sampling_precision"))


# What a model job imports before its start-up is measured: the start-up share covers them.
HEAVY = ("torch", "diffusers.models.unets.unet_2d", "diffusers.training_utils", "torch_fidelity")


def start_model_job(
    log_path: str | os.PathLike | None,
    threads: int,
    compute_cfg: Mapping[str, Any] | None,
    heavy: tuple[str, ...] = HEAVY,
) -> tuple[logging.Logger, float | None, Compute]:
    """jobs.start for every job that trains, samples or extracts features: pins torch's threads,
    imports the heavy modules, and resolves `compute` (the one place a job's device and precision are
    chosen), logging the device so a job's log says where it ran. Returns (logger, start-up seconds,
    Compute)."""
    from ..core.jobs import start

    torch.set_num_threads(max(1, int(threads)))
    for name in heavy:
        importlib.import_module(name)
    logger, startup = start(log_path)
    compute = resolve_compute(compute_cfg)
    name = torch.cuda.get_device_name(compute.device) if compute.is_cuda else "cpu"
    logger.info(
        f"compute: device {compute.device} ({name}), precision {compute.precision}, "
        f"sampling precision {compute.drawing_precision}"
    )
    return logger, startup, compute
