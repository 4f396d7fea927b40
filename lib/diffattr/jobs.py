"""What every workflow job does first: pin threads, import its heavy modules, open its log, and
measure its start-up (interpreter + imports) so its share of the job can be reported."""

from __future__ import annotations

import importlib
import logging
import os

from .progress import get_logger, process_age_seconds

HEAVY = ("torch", "diffusers.models.unets.unet_2d", "diffusers.training_utils", "torch_fidelity")


def start(log_path: str | os.PathLike | None, threads: int, heavy: tuple[str, ...] = HEAVY) -> tuple[logging.Logger, float | None]:
    if heavy:
        import torch

        torch.set_num_threads(max(1, int(threads)))
        for name in heavy:
            importlib.import_module(name)
    startup = process_age_seconds()
    logger = get_logger(log_path)
    if startup is not None:
        logger.info(f"start-up (interpreter + imports): {startup:.2f}s")
    if os.environ.get("SLURM_JOB_ID"):  # which cluster job ran this, for tracing failures and costs
        logger.info(f"slurm job {os.environ['SLURM_JOB_ID']} partition {os.environ.get('SLURM_JOB_PARTITION')} "
                    f"node {os.environ.get('SLURMD_NODENAME')}")
    return logger, startup


def start_model_job(log_path: str | os.PathLike | None, threads: int, compute_cfg: dict | None,
                    heavy: tuple[str, ...] = HEAVY):
    """`start` for every job that trains, samples or extracts features: also resolves `compute`
    (the one place a job's device and precision are chosen) and logs the device, so a job's log
    says where it ran. Returns (logger, start-up seconds, Compute)."""
    import torch

    from .compute import resolve_compute

    logger, startup = start(log_path, threads, heavy)
    compute = resolve_compute(compute_cfg)
    name = torch.cuda.get_device_name(compute.device) if compute.is_cuda else "cpu"
    logger.info(f"compute: device {compute.device} ({name}), precision {compute.precision}")
    return logger, startup, compute
