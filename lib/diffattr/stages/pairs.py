"""Stage pairs: FID2 between one subset's unlearned and retrained models, and its floor (FID between
two retrainings of the subset with different seeds), all from the same initial noises."""

from __future__ import annotations

import os
import time

from ..core.atomic import write_json
from ..core.settings import Job

PathLike = str | os.PathLike


def pair_fids(
    *,
    unlearned: PathLike,
    retrained: PathLike,
    floor: PathLike,
    classifier: PathLike,
    settings: Job,
    subset: str,
    pair: PathLike,
    compute=None,
) -> dict:
    from torch_fidelity.metric_fid import fid_statistics_to_metric

    from ..evaluation import behaviour
    from ..modelling.compute import CPU
    from ..modelling.sampling import to_uint8_rgb

    start = time.perf_counter()
    compute = compute or CPU
    s = settings.recipe
    extractor = behaviour.make_extractor(classifier, s.inception_weights, compute.device)

    def stats_of(path: PathLike) -> dict:
        images = behaviour.generate(path, settings.scheduler, s, s.n_samples, settings.runtime.batch_size, compute)
        features = behaviour.extract_features(extractor, to_uint8_rgb(images), s.feature_batch)
        return behaviour.feature_statistics(features)

    stats = {name: stats_of(path) for name, path in (("unlearn", unlearned), ("retrain", retrained), ("floor", floor))}

    def dist(a: str, b: str) -> float:
        return float(fid_statistics_to_metric(stats[a], stats[b], verbose=False)["frechet_inception_distance"])

    out = {
        "subset": subset,
        "unlearn_vs_retrain": dist("unlearn", "retrain"),
        "retrain_vs_retrain": dist("retrain", "floor"),
        "n_samples": s.n_samples,
        "noise_seed": s.seed,
        "device": str(compute.device),
        "seconds": time.perf_counter() - start,
    }
    write_json(pair, out)
    return out
