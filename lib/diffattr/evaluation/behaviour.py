"""Global behaviours of a model, all computed from one set of generated images: FID, KID, Inception
score, precision and recall (torch-fidelity, on the feature extractor's features or logits), and
the share of one class and the entropy of the class histogram (the domain classifier's labels)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence

import numpy as np
import torch

# torch-fidelity's own file, the one FeatureExtractorInceptionV3 downloads when given no path.
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
# Images per feature-extraction batch unless behaviour.feature_batch says otherwise. Features differ
# by ~1e-6 between batch sizes, so that setting is hashed (into the reference, the behaviours, the
# pairs and, through the reference, the baselines) and no store mixes two; on a CPU Inception-v3
# costs less per image in smaller batches (0.12 s at 4, 0.14 s at 16, 0.19 s at 128, 0.215 s at 500
# on this project's CPU).
FEATURE_BATCH = 500


def make_extractor(
    weights_path: str | os.PathLike,
    inception_weights: str | os.PathLike | None = None,
    device: torch.device | str = "cpu",
):
    """A callable: uint8 images -> (features, logits, class logits). With `inception_weights`, FID,
    KID, precision and recall use torch-fidelity's Inception-v3 pool features (2048-d) and the
    Inception score its logits, loaded from that local file (never downloaded); the class share and
    entropy always use the domain classifier at `weights_path`."""
    from torch_fidelity.utils import create_feature_extractor

    from .classifier import register_extractor

    cuda = torch.device(device).type == "cuda"
    domain = create_feature_extractor(
        register_extractor(),
        ["features", "logits_unbiased"],
        cuda=cuda,
        verbose=False,
        feature_extractor_weights_path=str(weights_path),
    )
    dev = torch.device("cuda" if cuda else "cpu")
    if not inception_weights:
        return lambda x: (*(o.cpu() for o in domain(x.to(dev))), None)
    if not os.path.isfile(inception_weights):
        raise ValueError(
            f"behaviour.inception_weights: {inception_weights} not found; put torch-fidelity's "
            f"Inception-v3 weights ({INCEPTION_FILE}) there"
        )
    try:
        inception = create_feature_extractor(
            "inception-v3-compat",
            ["2048", "logits_unbiased"],
            cuda=cuda,
            verbose=False,
            feature_extractor_weights_path=str(inception_weights),
        )
    except Exception as exc:
        raise ValueError(f"behaviour.inception_weights: {inception_weights} {_not_inception(exc)}") from None

    def both(x):
        x = x.to(dev)
        feats, logits = inception(x)
        return feats.cpu(), logits.cpu(), domain(x)[1].cpu()

    return both


def _not_inception(exc: Exception) -> str:
    detail = " ".join(str(exc).split())[:300]
    return (
        f"is not an Inception-v3 state dict in torch-fidelity's layout ({type(exc).__name__}: {detail}); use "
        f"torch-fidelity's {INCEPTION_FILE} (pytorch-fid's pt_inception-2015-12-05-6726825d.pth has the same "
        "layout and loads too)"
    )


@torch.no_grad()
def extract_features(extractor, images_uint8: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
    return extract(extractor, images_uint8, batch_size)[0]


@torch.no_grad()
def extract(
    extractor, images_uint8: torch.Tensor, batch_size: int | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(features, logits, class logits) of every image, float64, `batch_size` images at a time
    (None: FEATURE_BATCH); class logits None when the logits are the domain classifier's own."""
    batch_size = batch_size or FEATURE_BATCH
    outs = [extractor(images_uint8[i : i + batch_size]) for i in range(0, len(images_uint8), batch_size)]
    cat = [torch.cat([o[j] for o in outs]).double() if outs[0][j] is not None else None for j in range(3)]
    return cat[0], cat[1], cat[2]


def feature_statistics(features: torch.Tensor) -> dict[str, np.ndarray]:
    from torch_fidelity.metric_fid import fid_features_to_statistics

    return fid_features_to_statistics(features)


def save_statistics(
    path: str | os.PathLike, stats: dict[str, np.ndarray], features: np.ndarray, class_names: tuple[str, ...]
) -> None:
    """FID statistics plus the features themselves (KID, precision and recall need them) and the
    class names the classifier's logits index."""
    from ..core.atomic import atomic_path

    with atomic_path(path, suffix=".npz") as tmp, open(tmp, "wb") as fh:
        np.savez(
            fh,
            mu=stats["mu"],
            sigma=stats["sigma"],
            n=len(features),
            features=features.astype(np.float32),
            class_names=np.array(class_names),
        )


def load_statistics(path: str | os.PathLike) -> dict[str, np.ndarray]:
    try:
        with np.load(path) as z:
            return {
                "mu": z["mu"],
                "sigma": z["sigma"],
                "features": z["features"],
                "class_names": tuple(str(c) for c in z["class_names"]),
            }
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: reference statistics missing; rerun the 'reference' rule") from None
    except Exception as exc:
        raise ValueError(f"{path}: corrupt reference statistics ({exc}); delete it and rerun 'reference'") from None


def fid(features: torch.Tensor, reference: dict[str, np.ndarray]) -> float:
    from torch_fidelity.metric_fid import fid_statistics_to_metric

    stats = feature_statistics(features)
    return float(fid_statistics_to_metric(stats, reference, verbose=False)["frechet_inception_distance"])


def class_histogram(logits: torch.Tensor, n_classes: int) -> np.ndarray:
    """Share of the generated images the domain classifier assigns to each class."""
    counts = np.bincount(logits.argmax(dim=1).numpy(), minlength=n_classes)
    return counts / max(1, counts.sum())


def compute_metrics(
    names: list[str],
    features: torch.Tensor,
    logits: torch.Tensor,
    reference: dict,
    share_class: str | None,
    seed: int,
    kid_subsets: int = 100,
    class_logits: torch.Tensor | None = None,
) -> dict[str, float]:
    """Every requested behaviour from one set of generated images' features and logits (the
    Inception score's); class share and entropy from `class_logits`, the domain classifier's
    (the same as `logits` when the classifier is the feature extractor)."""
    from torch_fidelity.metric_isc import isc_features_to_metric
    from torch_fidelity.metric_kid import kid_features_to_metric
    from torch_fidelity.metric_prc import prc_features_to_metric

    ref = torch.from_numpy(reference["features"]).double()
    hist = class_histogram(logits if class_logits is None else class_logits, len(reference["class_names"]))
    out: dict[str, float] = {}
    prc = None
    for name in names:
        if name == "fid":
            out[name] = fid(features, reference)
        elif name == "kid":
            size = min(1000, len(features), len(ref))
            out[name] = float(
                kid_features_to_metric(
                    features, ref, kid_subsets=kid_subsets, kid_subset_size=size, rng_seed=seed, verbose=False
                )["kernel_inception_distance_mean"]
            )
        elif name == "isc":
            isc = isc_features_to_metric(logits, splits=10, shuffle=True, rng_seed=seed)
            out[name] = float(isc["inception_score_mean"])
        elif name in ("precision", "recall"):
            if prc is None:  # torch-fidelity convention: generated first, real second
                prc = prc_features_to_metric(
                    features, ref, prc_neighborhood=3, prc_batch_size=10000, save_cpu_ram=False, verbose=False
                )
            out[name] = float(prc[name])
        elif name == "class_share":
            if share_class not in reference["class_names"]:
                raise ValueError(
                    f"behaviour.share_class: {share_class!r} is not a class of the data "
                    f"{list(reference['class_names'])}"
                )
            out[name] = float(hist[reference["class_names"].index(share_class)])
        elif name == "class_entropy":
            p = hist[hist > 0]
            out[name] = float(-(p * np.log(p)).sum())
        else:  # the schema admits only known metrics
            raise ValueError(f"behaviour.metrics: unknown metric {name!r}")
    return out


def generate(model_path: str | os.PathLike, sched_cfg, sampling, n: int, batch_size: int, compute=None) -> torch.Tensor:
    """n images in [-1, 1] from the shared initial noises of `sampling.seed` (a settings.Sampling), on
    `compute`'s device: image j from the same noise for every model and every batch size."""
    from ..modelling import sampling as sampler
    from ..modelling.models import ddim_scheduler, load_model

    return sampler.ddim_sample(
        load_model(model_path),
        ddim_scheduler(sched_cfg),
        n,
        sampling.ddim_steps,
        sampling.seed,
        batch_size,
        sampling.eta,
        compute,
    )


class Evaluator:
    """Samples a model from the shared initial noises and computes every configured behaviour.
    Built once per job, so a batch of models pays for the extractor and reference only once.
    `sampling`: a settings.Sampling; `batch_size`: images per forward pass (changes no value)."""

    def __init__(
        self,
        classifier_pt: str | os.PathLike,
        reference_npz: str | os.PathLike,
        sched_cfg,
        sampling,
        batch_size: int,
        compute=None,
    ):
        from ..modelling.compute import CPU
        from ..modelling.models import ddim_scheduler

        self.compute = compute or CPU
        self.extractor = make_extractor(classifier_pt, sampling.inception_weights, self.compute.device)
        self.reference = load_statistics(reference_npz)
        self.scheduler = ddim_scheduler(sched_cfg)
        self.sampling, self.batch_size = sampling, int(batch_size)

    def __call__(
        self,
        model_path: str | os.PathLike,
        train_json: str | os.PathLike,
        source: str,
        subset: str,
        startup: float | None = None,
    ) -> dict:
        import time

        from ..core.atomic import read_json
        from ..core.metrics import LOWER_IS_BETTER
        from ..modelling import sampling as sampler
        from ..modelling.models import load_model

        s = self.sampling
        start, cpu_start = time.perf_counter(), time.process_time()
        model = load_model(model_path)
        images = sampler.ddim_sample(
            model, self.scheduler, s.n_samples, s.ddim_steps, s.seed, self.batch_size, s.eta, self.compute
        )
        sample_seconds = time.perf_counter() - start
        feats, logits, class_logits = extract(self.extractor, sampler.to_uint8_rgb(images), s.feature_batch)
        values = compute_metrics(
            list(s.metrics), feats, logits, self.reference, s.share_class, s.seed, s.kid_subsets, class_logits
        )
        trained = read_json(train_json)
        return {
            "source": source,
            "subset": subset,
            "metrics": values,
            "lower_is_better": {m: LOWER_IS_BETTER[m] for m in values},
            "n_samples": s.n_samples,
            "noise_seed": s.seed,
            "ddim_steps": s.ddim_steps,
            "eta": s.eta,
            "train_seconds": trained.get("train_seconds"),
            "train_steps": trained.get("steps"),
            "train_cpu_seconds": trained.get("train_cpu_seconds"),
            "sample_seconds": sample_seconds,
            "eval_seconds": time.perf_counter() - start,
            "eval_cpu_seconds": time.process_time() - cpu_start,
            "startup_seconds": startup,
        }


def evaluate_batch(  # noqa: PLR0913  (the evaluator, the models, where each behaviour goes and the job's timing; keyword-only)
    *,
    evaluate: Evaluator,
    members: Sequence[tuple[str, str | os.PathLike, str | os.PathLike]],
    source: str,
    behaviour_path: Callable[[str], str | os.PathLike],
    job_path: str | os.PathLike,
    log: logging.Logger,
    job_start: float,
    startup: float | None = None,
) -> dict:
    """Every (model id, checkpoint, training record) of `members`, models of stage kind `source`,
    evaluated by one `evaluate` (the extractor and the reference statistics loaded once for all), its
    behaviour written to `behaviour_path(model id)`; then the job's record (its model ids, seconds
    since `job_start` with the start-up and the start-up's share) to `job_path`, and returned."""
    from ..core.atomic import write_json
    from ..core.jobs import job_timing

    for sid, model, train in members:
        out = evaluate(model, train, source, sid)
        write_json(behaviour_path(sid), out)
        log.info(f"{source} {sid}: {out['metrics']} in {out['eval_seconds']:.1f}s")
    record = {"subsets": [sid for sid, *_ in members], **job_timing(job_start, startup)}
    write_json(job_path, record)
    share = record.get("startup_share")
    log.info(f"{len(members)} models in {record['job_seconds']:.1f}s" + (f" (start-up {share:.1%})" if share else ""))
    return record
