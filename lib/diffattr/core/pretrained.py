"""A local pretrained DDPM (base_model.path): where its UNet lies, which files name it, and whether the
forward process it was trained with is the config's `scheduler` section. Reads JSON and hashes files
only (no torch): config_checks runs it at start-up, before any job.

Three layouts are accepted, in this order:
- a UNet2DModel folder: config.json + diffusion_pytorch_model.* (what UNet2DModel.save_pretrained writes);
- a pipeline root laid out as the hub's google/ddpm-cifar10-32 is: the UNet's config.json and weights at
  the root, beside model_index.json and scheduler_config.json;
- a pipeline root as DDPMPipeline.save_pretrained writes it: unet/ and scheduler/ subfolders.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

UNET_CLASS = "UNet2DModel"
WEIGHTS_PREFIX = "diffusion_pytorch_model"
# What a folder may hold: the local copy of the hub repository, a pipeline save or a UNet save.
ACCEPTED = (
    "give a local copy of google/ddpm-cifar10-32 (config.json and diffusion_pytorch_model.* at its root), "
    "a DDPMPipeline.save_pretrained folder (unet/ inside) or a UNet2DModel folder"
)
# diffusers' DDPMScheduler defaults, for keys an older scheduler_config.json leaves out (the hub's
# predates prediction_type). tests/test_pretrained.py checks them against DDPMScheduler's signature.
SCHEDULER_DEFAULTS: dict[str, Any] = {
    "num_train_timesteps": 1000,
    "beta_start": 0.0001,
    "beta_end": 0.02,
    "beta_schedule": "linear",
    "prediction_type": "epsilon",
}
# The keys that define the forward process the weights were trained for; clip_sample and
# variance_type only change sampling, which the config's `scheduler` section decides.
SCHEDULER_KEYS = tuple(SCHEDULER_DEFAULTS)


@dataclass(frozen=True)
class Pretrained:
    root: Path
    unet: Path  # the folder UNet2DModel.from_pretrained reads
    files: tuple[Path, ...]  # config.json and the weights: the files that name the artifact
    scheduler_config: Path | None  # the pipeline's scheduler_config.json, where it has one


def _fail(msg: str) -> NoReturn:
    raise ValueError(f"base_model.path: {msg}")


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        _fail(f"{path} is not readable JSON ({type(exc).__name__}: {exc}); replace it with the original file")
    if not isinstance(data, dict):
        _fail(f"{path} is not a JSON object; replace it with the original file")
    return data


def _is_unet(folder: Path) -> bool:
    config = folder / "config.json"
    return config.is_file() and _read_json(config).get("_class_name", UNET_CLASS) == UNET_CLASS


def locate(path: str | os.PathLike) -> Pretrained:
    """The UNet folder, the files that define the model and the scheduler config of base_model.path;
    ValueError with one line naming the folder or file and the fix."""
    root = Path(path)
    if not root.is_dir():
        _fail(f"{str(path)!r} is not a directory; {ACCEPTED}, or leave it empty to train the base model")
    unet = next((d for d in (root, root / "unet") if _is_unet(d)), None)
    if unet is None:
        config = root / "config.json"
        if config.is_file():
            _fail(f"{config} describes a {_read_json(config).get('_class_name')}, not a {UNET_CLASS}; {ACCEPTED}")
        _fail(f"{root} has no config.json and no unet/config.json; {ACCEPTED}")
    weights = sorted(p for p in unet.iterdir() if p.is_file() and p.name.startswith(WEIGHTS_PREFIX))
    if not any(p.suffix in (".safetensors", ".bin") for p in weights):
        _fail(f"{unet} has config.json but no weights ({WEIGHTS_PREFIX}.safetensors or .bin); copy them there")
    for p in weights:
        with open(p, "rb") as fh:
            if fh.read(64).startswith(b"version https://git-lfs"):
                _fail(f"{p} is a Git LFS pointer, not the weights; fetch the file itself (git lfs pull)")
    candidates = [root / "scheduler" / "scheduler_config.json", root / "scheduler_config.json"]
    if unet == root and (root.parent / "model_index.json").is_file():
        # The `unet` folder of a pipeline save, given directly: its pipeline's scheduler.
        candidates.append(root.parent / "scheduler" / "scheduler_config.json")
    scheduler = next((c for c in candidates if c.is_file()), None)
    return Pretrained(root, unet, (unet / "config.json", *weights), scheduler)


def sha256(path: str | os.PathLike) -> str:
    """sha256 over the names (relative to the UNet folder) and contents of the UNet's config.json and
    weight files: a README, model_index.json, scheduler_config.json or sample images beside them do
    not rename the artifact (the scheduler is the config's, checked by `scheduler_mismatches`). For a
    plain UNet folder this is the sha256 of all its files, as before the pipeline layouts."""
    found = locate(path)
    h = hashlib.sha256()
    for f in sorted(found.files):
        h.update(str(f.relative_to(found.unet)).encode() + b"\0")
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def _differs(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return not math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=0.0)
    return a != b


def scheduler_mismatches(found: Pretrained, sched_cfg: Mapping[str, Any]) -> list[str]:
    """'key pretrained (config value)' for each forward-process key where the pipeline's
    scheduler_config.json and the config's `scheduler` section differ; [] without a scheduler config."""
    if found.scheduler_config is None:
        return []
    pipeline = {**SCHEDULER_DEFAULTS, **_read_json(found.scheduler_config)}
    out = [
        f"{k} {pipeline[k]!r} (config {sched_cfg[k]!r})" for k in SCHEDULER_KEYS if _differs(pipeline[k], sched_cfg[k])
    ]
    if pipeline.get("trained_betas") is not None:
        out.append("trained_betas is set (the config's scheduler section has no explicit betas)")
    return out


def scheduler_problem(found: Pretrained, sched_cfg: Mapping[str, Any]) -> str | None:
    """One line (after 'config key base_model.path: ') naming every forward-process key where the
    pipeline's scheduler_config.json and the config's `scheduler` section differ, and the fix; None
    when they agree or there is no such file."""
    wrong = scheduler_mismatches(found, sched_cfg)
    if not wrong:
        return None
    fix = "set scheduler.* to the pretrained model's (its weights were trained for that forward process)"
    if any(w.startswith("prediction_type") for w in wrong):
        fix += "; the workflow trains epsilon-prediction models only, so use one trained with epsilon"
    return f"{found.scheduler_config} differs from the config's scheduler section: {'; '.join(wrong)}; {fix}"
