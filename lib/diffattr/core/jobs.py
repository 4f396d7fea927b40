"""What every workflow job does first: open its log and measure its start-up (interpreter + imports),
so its share of the job can be reported. Jobs that run a model start with compute.start_model_job."""

from __future__ import annotations

import logging
import os
import subprocess
import time

from .handover import FORKED_LOG, in_fork
from .progress import get_logger, process_age_seconds


def start(log_path: str | os.PathLike | None) -> tuple[logging.Logger, float | None]:
    startup = process_age_seconds()
    logger = get_logger(log_path)
    if startup is not None:
        logger.info(f"start-up (interpreter + imports): {startup:.2f}s")
    if in_fork():
        logger.info(f"{FORKED_LOG} (compute.preload)")
    if os.environ.get("SLURM_JOB_ID"):  # which cluster job ran this, for tracing failures and costs
        logger.info(
            f"slurm job {os.environ['SLURM_JOB_ID']} partition {os.environ.get('SLURM_JOB_PARTITION')} "
            f"account {slurm_account(os.environ['SLURM_JOB_ID'])} node {os.environ.get('SLURMD_NODENAME')}"
        )
    return logger, startup


def slurm_account(job_id: str) -> str | None:
    """The account a Slurm job runs under. The slurm jobstep plugin removes SLURM_JOB_ACCOUNT (with
    every allocation-level SLURM_* variable) before its nested srun, so ask the controller when it
    is gone; None where neither knows."""
    if os.environ.get("SLURM_JOB_ACCOUNT"):
        return os.environ["SLURM_JOB_ACCOUNT"]
    try:
        out = subprocess.run(
            ["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    fields = dict(f.split("=", 1) for f in out.split() if "=" in f)
    account = fields.get("Account")
    return None if account in (None, "", "(null)") else account


def job_timing(job_start: float, startup: float | None) -> dict:
    """A batch job's seconds since `job_start` (time.perf_counter) plus its start-up, and the start-up's
    share of them: what the start-up costs per batch."""
    seconds = time.perf_counter() - job_start + (startup or 0.0)
    out = {"startup_seconds": startup, "job_seconds": seconds}
    if startup is not None:
        out["startup_share"] = startup / seconds
    return out
