"""Every stage's settings as typed objects: what its hash covers (from the rule's params, as
addressing.stage_config hashed it: a model job's Job (its recipe: Recipe, Sampling or Baselines, with
the forward process, the architecture and the stage's seed where it uses them), Bootstrap,
DatamodelFit, Datamodels, Counterfactual, DataSource, BaseModel, Units, SubsetDraws, Pruning, ClassifierTraining,
BudgetSettings) and a job's run-time options (Runtime: read from the full config, never hashed, so
changing them renames nothing and trips no params rerun trigger; UNHASHED names them).
Plain data, nothing of the science: every floor may use these types."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

R = TypeVar("R")

# Keys that change how a job runs or logs, not what it produces.
UNHASHED = {
    "train_base.log_every",
    "prune.finetune.log_every",
    "unlearn.log_every",
    "unlearn.subsets_per_job",
    "retrain.models_per_job",
    "unlearn.concurrent",
    "unlearn.concurrent_mode",
    "train_base.checkpoint_every",
    "prune.finetune.checkpoint_every",
    "unlearn.checkpoint_every",
    "behaviour.target",
    "behaviour.batch_size",
    "datamodel.min_models",
    "baselines.batch_size",
    # The domain classifier's gate (classifier_gate.py): whether a run may use it, not what it is.
    "classifier.min_heldout",
    "classifier.min_accuracy",
    # Whether a local run forks its model jobs from one preloaded process (core/preload.py).
    "compute.preload",
}


def runtime_settings(config: Mapping[str, Any], section: str) -> dict:
    """The unhashed keys directly under a dotted config section (e.g. `train_base` -> log_every,
    checkpoint_every). Jobs read these from the full config, not from params, so changing them
    neither renames artifacts nor trips Snakemake's params rerun trigger."""
    node: Any = config
    for part in section.split("."):
        node = node[part]
    prefix = section + "."
    names = {k[len(prefix) :] for k in UNHASHED if k.startswith(prefix) and "." not in k[len(prefix) :]}
    return {k: node[k] for k in names if k in node}


BATCHINGS = ("random", "epoch")


@dataclass(frozen=True)
class Recipe:
    """How a model is trained (train_base, prune.finetune, unlearn; retrain takes train_base's)."""

    steps: int
    batch_size: int
    lr: float
    grad_clip: float
    ema_max_decay: float
    ema_power: float
    seed: int
    hflip: bool = False
    # EMA decay schedule: warm-up min(max, 1 - (1 + t) ** -power) (diffusers' EMAModel with
    # use_ema_warmup), or (1 + t) / (10 + t) capped at the max (the authors' unlearning EMA).
    ema_warmup: bool = True
    # "random": every batch drawn with replacement; "epoch": a fresh permutation of the images each
    # epoch (a shuffled DataLoader, the authors' unlearning).
    batching: str = "random"

    def __post_init__(self) -> None:
        if self.batching not in BATCHINGS:
            raise ValueError(f"batching: {self.batching!r}; use one of {list(BATCHINGS)}")

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], seed: int | None = None) -> Recipe:
        return cls(
            steps=int(cfg["steps"]),
            batch_size=int(cfg["batch_size"]),
            lr=float(cfg["lr"]),
            grad_clip=float(cfg["grad_clip"]),
            ema_max_decay=float(cfg["ema_max_decay"]),
            ema_power=float(cfg["ema_power"]),
            seed=int(cfg["seed"] if seed is None else seed),
            hflip=bool(cfg.get("hflip", False)),
            ema_warmup=bool(cfg.get("ema_warmup", True)),
            batching=str(cfg.get("batching", "random")),
        )


@dataclass(frozen=True)
class TrainRuntime:
    """How a training job (train_base, prune.finetune) runs and logs, not what it produces (UNHASHED)."""

    log_every: int = 100
    checkpoint_every: int = 0


@dataclass(frozen=True)
class UnlearnRuntime(TrainRuntime):
    """An unlearning job's: its training's, and how many subsets it trains at once, and how."""

    concurrent: int = 1
    concurrent_mode: str = "streams"  # or "vmap"


@dataclass(frozen=True)
class SamplingRuntime:
    """A behaviour job's (and the pairs' and the baselines' images'): images per forward pass."""

    batch_size: int = 500


@dataclass(frozen=True)
class BaselinesRuntime:
    """A baselines job's: a batch carries each image's per-parameter gradients, so it holds far fewer
    images than a sampling batch."""

    batch_size: int = 32


# Each config section's run-time type, its defaults written once, there.
RUNTIMES: dict[str, type] = {
    "train_base": TrainRuntime,
    "prune.finetune": TrainRuntime,
    "unlearn": UnlearnRuntime,
    "behaviour": SamplingRuntime,
    "baselines": BaselinesRuntime,
}
Runtime = TrainRuntime | UnlearnRuntime | SamplingRuntime | BaselinesRuntime


def runtime_of(config: Mapping[str, Any], section: str) -> Runtime:
    """The run-time settings of a job of config section `section`, from the full config: the keys of
    UNHASHED its type has (others, such as unlearn.subsets_per_job, act at start-up, not in the job)."""
    cls = RUNTIMES[section]
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in runtime_settings(config, section).items() if k in names})


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
    feature_batch: int | None = None  # images per feature-extraction batch; None: the jobs' 500

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
            feature_batch=None if cfg.get("feature_batch") is None else int(cfg["feature_batch"]),
        )


@dataclass(frozen=True)
class Baselines:
    """How the cheap baselines score (the hashed baselines section; lib/diffattr/attribution/baselines)."""

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
class Bootstrap:
    """The percentile bootstrap over test models of every CI and paired gap (the hashed lds.n_bootstrap,
    lds.ci_level, lds.seed)."""

    n_bootstrap: int
    ci_level: float
    seed: int

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> Bootstrap:
        """From the lds section (or any mapping holding its three keys)."""
        return cls(n_bootstrap=int(cfg["n_bootstrap"]), ci_level=float(cfg["ci_level"]), seed=int(cfg["seed"]))


@dataclass(frozen=True)
class DatamodelFit:
    """How one datamodel is fitted (the hashed datamodel section's fit keys): the estimator (ridge or
    lasso for a linear datamodel; any estimator's name where the fit is that estimator's), the ridge
    alphas its K-fold CV chooses from, the folds, the fold split's seed and lasso's path (n_alphas,
    eps; None where lasso is not fitted). From config: `Datamodels.fit(estimator)`."""

    estimator: str
    alphas: tuple[float, ...]
    cv_folds: int
    seed: int
    lasso_path: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Datamodels:
    """The hashed datamodel section as the datamodel, estimators and budget stages read it: the
    estimators fitted (`estimators`), the one whose attributions are the run's (`primary`), and the
    fit's keys every estimator shares (ridge alphas, folds, the fold split's seed, lasso's path);
    `fit(name)` is one estimator's DatamodelFit."""

    estimators: tuple[str, ...]
    primary: str
    alphas: tuple[float, ...]
    cv_folds: int
    seed: int
    lasso_path: Mapping[str, Any] | None = None

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> Datamodels:
        return cls(
            estimators=tuple(str(e) for e in cfg["estimators"]),
            primary=str(cfg["primary"]),
            alphas=tuple(cfg["alphas"]),  # as written: the chosen alpha is recorded as it stands
            cv_folds=int(cfg["cv_folds"]),
            seed=int(cfg["seed"]),
            lasso_path=cfg.get("lasso_path"),
        )

    def fit(self, estimator: str) -> DatamodelFit:
        return DatamodelFit(str(estimator), self.alphas, self.cv_folds, self.seed, self.lasso_path)


@dataclass(frozen=True)
class Counterfactual:
    """The hashed counterfactual section: the shares of units each ranking removes, the random removals
    of as many units beside them, and their draws' seed."""

    fractions: tuple[float, ...]
    n_random: int
    seed: int

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> Counterfactual:
        # fractions as written: the plan records each removal's fraction as it stands
        return cls(fractions=tuple(cfg["fractions"]), n_random=int(cfg["n_random"]), seed=int(cfg["seed"]))


@dataclass(frozen=True)
class BaseModel:
    """Where the base model's weights begin (stages init and train_base's import): the UNet
    architecture (`model`: the model section, diffusers' UNet2DModel config) with the seed of its
    initial weights (`seed`: train_base.seed), or a pretrained model's folder (`pretrained`:
    base_model.path) checked against that architecture."""

    model: Mapping[str, Any]
    seed: int | None = None
    pretrained: str | None = None


@dataclass(frozen=True)
class DataSource:
    """The hashed data section: which training set (`kind`: digits, cifar10 or imagefolder), the
    folder it is read from (`path`, empty for digits, where it is not hashed) and an imagefolder's
    size (`resolution`, 0: as the files are)."""

    kind: str
    path: str = ""
    resolution: int = 0

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> DataSource:
        return cls(kind=str(cfg["kind"]), path=str(cfg.get("path") or ""), resolution=int(cfg.get("resolution") or 0))


@dataclass(frozen=True)
class Units:
    """What is attributed to (the hashed attribution section): images, classes, k-means clusters of the
    reference features, or the groups of a CSV (whose content is hashed in its stead)."""

    unit: str
    kmeans: Mapping[str, Any] | None = None
    csv: str | None = None


@dataclass(frozen=True)
class SubsetDraws:
    """What the subsets stage hashes: the units drawn over (`units`: the attribution section), the
    share of units each subset keeps (`alpha`: subsets.alpha) and the draws' seed (subsets.seed)."""

    units: Units
    alpha: float
    seed: int


@dataclass(frozen=True)
class ClassifierTraining:
    """How the digits CNN is trained (the hashed classifier section, less the gate's run-time keys)."""

    epochs: int
    seed: int
    holdout: float

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> ClassifierTraining:
        return cls(epochs=int(cfg["epochs"]), seed=int(cfg["seed"]), holdout=float(cfg["holdout"]))


@dataclass(frozen=True)
class Pruning:
    """The hashed prune section: the share of channels removed, the importance norm, the fine-tune,
    and the width every pruned layer keeps a multiple of (round_to; None: the authors' rule)."""

    ratio: float
    importance_p: int
    finetune: Job
    round_to: int | None = None

    @classmethod
    def from_config(
        cls, cfg: Mapping[str, Any], config: Mapping[str, Any], scheduler: Mapping[str, Any] | None = None
    ) -> Pruning:
        """`cfg`: the prune section as hashed (the rule's params); `config`: the full config (run-time
        keys); `scheduler`: the forward process the fine-tune trains with."""
        # ratio as written (train.json records it), not coerced; round_to is absent from the hashed
        # section at null (addressing.HASHED_UNLESS_DEFAULT)
        round_to = cfg.get("round_to")
        return cls(
            cfg["ratio"],
            int(cfg["importance_p"]),
            job_settings("prune.finetune", cfg["finetune"], config, scheduler=scheduler),
            None if round_to is None else int(round_to),
        )


@dataclass(frozen=True)
class BudgetSettings:
    """What the budget stage's hash covers besides its inputs: the budget grid (retrain units), the
    datamodel section (both sides' datamodel and its fit), the bootstrap and the target behaviour."""

    grid: tuple[float, ...]
    datamodel: Datamodels
    bootstrap: Bootstrap
    target: str

    @classmethod
    def from_config(
        cls, grid: Sequence[float], datamodel: Mapping[str, Any], lds: Mapping[str, Any], target: str
    ) -> BudgetSettings:
        return cls(tuple(grid), Datamodels.from_config(datamodel), Bootstrap.from_config(lds), str(target))


@dataclass(frozen=True)
class Job(Generic[R]):
    """A model job's settings, what its stage hashes and how it runs: the section's recipe (`recipe`:
    a training Recipe, Sampling or Baselines), the forward process (`scheduler`: the scheduler
    section, diffusers' DDPMScheduler config), where the stage builds a UNet its architecture
    (`model`: the model section, diffusers' UNet2DModel config) and the stage's own seed (`seed`:
    retrain.seed), and the run-time options (`runtime`, never hashed)."""

    recipe: R
    runtime: Runtime
    scheduler: Mapping[str, Any] | None = None
    model: Mapping[str, Any] | None = None
    seed: int | None = None


def job_settings(
    section: str,
    hashed: Mapping[str, Any],
    config: Mapping[str, Any],
    *,
    scheduler: Mapping[str, Any] | None = None,
    model: Mapping[str, Any] | None = None,
    seed: int | None = None,
) -> Job:
    """The settings of a job of config section `section` (train_base, prune.finetune, unlearn,
    behaviour or baselines): `hashed` is that section as hashed into the stage (the rule's params),
    `config` the full config the job runs under; `scheduler`, `model` and `seed` as the stage hashes
    them (its rule's params), where it uses them."""
    typed = {"behaviour": Sampling, "baselines": Baselines}.get(section, Recipe)
    return Job(
        typed.from_config(hashed),
        runtime_of(config, section),
        scheduler=scheduler,
        model=model,
        seed=None if seed is None else int(seed),
    )
