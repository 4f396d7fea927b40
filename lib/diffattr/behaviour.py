"""Global behaviours of a model, computed from one set of generated images: FID (torch-fidelity)."""

from __future__ import annotations

import os

import numpy as np
import torch



def make_extractor(weights_path: str | os.PathLike):
    from torch_fidelity.utils import create_feature_extractor

    from .classifier import register_extractor

    name = register_extractor()
    return create_feature_extractor(name, ["features"], cuda=False, verbose=False,
                                    feature_extractor_weights_path=str(weights_path))


@torch.no_grad()
def extract_features(extractor, images_uint8: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    chunks = [extractor(images_uint8[i:i + batch_size])[0] for i in range(0, len(images_uint8), batch_size)]
    return torch.cat(chunks).double()


def feature_statistics(features: torch.Tensor) -> dict[str, np.ndarray]:
    from torch_fidelity.metric_fid import fid_features_to_statistics

    return fid_features_to_statistics(features)


def save_statistics(path: str | os.PathLike, stats: dict[str, np.ndarray], n: int) -> None:
    from .atomic import atomic_path

    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, mu=stats["mu"], sigma=stats["sigma"], n=n)


def load_statistics(path: str | os.PathLike) -> dict[str, np.ndarray]:
    try:
        with np.load(path) as z:
            return {"mu": z["mu"], "sigma": z["sigma"]}
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: reference statistics missing; rerun the 'reference' rule") from None
    except Exception as exc:
        raise ValueError(f"{path}: corrupt reference statistics ({exc}); delete it and rerun 'reference'") from None


def fid(features: torch.Tensor, reference: dict[str, np.ndarray]) -> float:
    from torch_fidelity.metric_fid import fid_statistics_to_metric

    stats = feature_statistics(features)
    return float(fid_statistics_to_metric(stats, reference, verbose=False)["frechet_inception_distance"])
