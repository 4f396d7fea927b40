"""Stage reference: the feature statistics of the training images, computed once and cached."""

from __future__ import annotations

import os


def make_reference(
    *,
    data: str | os.PathLike,
    classifier: str | os.PathLike,
    stats: str | os.PathLike,
    inception_weights: str | os.PathLike | None = None,
    feature_batch: int | None = None,
    compute=None,
) -> None:
    import torch

    from ..core.data import load_dataset
    from ..evaluation.behaviour import extract_features, feature_statistics, make_extractor, save_statistics
    from ..modelling.compute import CPU
    from ..modelling.sampling import to_uint8_rgb

    ds = load_dataset(data)
    extractor = make_extractor(classifier, inception_weights, (compute or CPU).device)
    feats = extract_features(extractor, to_uint8_rgb(torch.from_numpy(ds.images)), feature_batch)
    save_statistics(stats, feature_statistics(feats), feats.numpy(), ds.class_names)
