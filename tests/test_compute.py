"""Device and precision choices on a machine without a GPU (the GPU paths run in bench/gpu_check.sh)."""

import copy

import pytest
import torch

from diffattr.compute import CPU, Compute, resolve_compute
from diffattr.models import build_unet, ddim_scheduler, ddpm_scheduler
from diffattr.plan import COMPUTED_STAGES, build_plan
from diffattr.progress import get_logger
from diffattr.sampling import ddim_sample
from diffattr.training import Recipe, train_ddpm

TINY = {"block_out_channels": [16, 32], "layers_per_block": 1, "norm_num_groups": 4, "attention": False}


def test_auto_device_falls_back_to_cpu_and_cuda_without_gpu_is_an_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_compute({"device": "auto"}).device.type == "cpu"
    assert resolve_compute(None) == CPU
    with pytest.raises(RuntimeError, match="compute.device: 'cuda' but no GPU"):
        resolve_compute({"device": "cuda"})


def test_bf16_autocast_trains_and_samples_on_cpu(tmp_path):
    torch.manual_seed(0)
    sched = {"num_train_timesteps": 1000, "beta_start": 1e-4, "beta_end": 0.02, "beta_schedule": "linear",
             "prediction_type": "epsilon", "clip_sample": True}
    images = torch.rand(16, 1, 8, 8) * 2 - 1
    recipe = Recipe(steps=4, batch_size=8, lr=1e-3, grad_clip=1.0, ema_max_decay=0.999, ema_power=0.75, seed=0)
    log = get_logger(tmp_path / "log")
    bf16 = Compute(torch.device("cpu"), "bf16")
    torch.manual_seed(1)
    ema, stats = train_ddpm(build_unet(TINY, 8, 1), images, recipe, ddpm_scheduler(sched), log, compute=bf16)
    assert stats["precision"] == "bf16" and torch.isfinite(torch.tensor(stats["final_loss"]))
    assert next(ema.parameters()).dtype == torch.float32  # autocast keeps fp32 master weights
    # The same start in fp32: bf16 changes the numbers (so it is hashed), but not by much.
    torch.manual_seed(1)
    _, ref = train_ddpm(build_unet(TINY, 8, 1), images, recipe, ddpm_scheduler(sched), log)
    assert ref["final_loss"] != stats["final_loss"]
    assert abs(ref["final_loss"] - stats["final_loss"]) < 0.1 * ref["final_loss"]
    out = ddim_sample(ema, ddim_scheduler(sched), 5, 3, seed=0, batch_size=4, compute=bf16)
    assert out.shape == (5, 1, 8, 8) and out.dtype == torch.float32 and out.device.type == "cpu"


def test_precision_names_the_computed_artifacts_and_device_does_not(config):
    base = build_plan(config).hashes
    cfg = copy.deepcopy(config)
    cfg["compute"]["device"] = "cuda"
    assert build_plan(cfg).hashes == base
    cfg["compute"]["precision"] = "bf16"
    changed = {s for s, h in build_plan(cfg).hashes.items() if h != base[s]}
    assert COMPUTED_STAGES <= changed and "data" not in changed and "classifier" not in changed
    assert "subsets" not in changed and "init" not in changed
