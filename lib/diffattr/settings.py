"""A job's settings as typed objects: the recipe its stage's hash covers (from the rule's params, as
addressing.stage_config hashed it) and its run-time options (read from the full config, never hashed, so
changing them renames nothing and trips no params rerun trigger)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .addressing import runtime_settings

R = TypeVar("R")


@dataclass(frozen=True)
class Runtime:
    """How a job runs and logs, not what it produces (addressing.UNHASHED)."""

    log_every: int = 100
    checkpoint_every: int = 0
    concurrent: int = 1  # unlearn: subsets trained at once
    concurrent_mode: str = "streams"  # unlearn: "streams" or "vmap"
    batch_size: int = 500  # behaviour: images sampled per forward pass; baselines: images per gradient batch

    @classmethod
    def from_config(cls, config: Mapping[str, Any], section: str) -> Runtime:
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in runtime_settings(config, section).items() if k in names}
        return cls(**{**SECTION_DEFAULTS.get(section, {}), **values})


# Run-time defaults that differ by section: a baselines job's batch carries each image's
# per-parameter gradients, so it holds far fewer images than a sampling batch.
SECTION_DEFAULTS: dict[str, dict[str, Any]] = {"baselines": {"batch_size": 32}}


@dataclass(frozen=True)
class Sampling:
    """How a model's images are generated and scored (the hashed behaviour section)."""

    ddim_steps: int
    eta: float
    seed: int
    n_samples: int = 0  # 0 for a sample grid, which draws report.n_images
    metrics: tuple[str, ...] = ()
    share_class: str | None = None
    kid_subsets: int = 100
    inception_weights: str | None = None  # local Inception-v3 weights when behaviour.features is inception

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> Sampling:
        inception = cfg.get("inception_weights") if cfg.get("features", "classifier") == "inception" else None
        return cls(
            ddim_steps=int(cfg["ddim_steps"]),
            eta=float(cfg["eta"]),
            seed=int(cfg["seed"]),
            n_samples=int(cfg.get("n_samples", 0)),
            metrics=tuple(cfg.get("metrics", ())),
            share_class=cfg.get("share_class"),
            kid_subsets=int(cfg.get("kid_subsets", 100)),
            inception_weights=inception or None,
        )


@dataclass(frozen=True)
class Baselines:
    """How the cheap baselines score (the hashed baselines section; lib/diffattr/baselines)."""

    model: str  # the attributed model: "base" or "prune"
    timesteps: int  # TRAK/D-TRAK: timesteps each image's output averages over
    proj_dim: int
    proj_type: str
    regularization: float
    seed: int  # of the noises and of the projection

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> Baselines:
        return cls(
            model=str(cfg["model"]),
            timesteps=int(cfg["timesteps"]),
            proj_dim=int(cfg["proj_dim"]),
            proj_type=str(cfg.get("proj_type", "normal")),
            regularization=float(cfg["regularization"]),
            seed=int(cfg["seed"]),
        )


@dataclass(frozen=True)
class Job(Generic[R]):
    recipe: R
    runtime: Runtime


def job_settings(section: str, hashed: Mapping[str, Any], config: Mapping[str, Any]) -> Job:
    """The settings of a job of config section `section` (train_base, prune.finetune, unlearn,
    behaviour or baselines): `hashed` is that section as hashed into the stage (the rule's params),
    `config` the full config the job runs under."""
    from .training import Recipe

    typed = {"behaviour": Sampling, "baselines": Baselines}.get(section, Recipe)
    return Job(typed.from_config(hashed), Runtime.from_config(config, section))
