"""Stage reference: the feature statistics of the training images, computed once and cached."""

from __future__ import annotations

import os


def make_reference(
    data_npz: str | os.PathLike,
    classifier_pt: str | os.PathLike,
    out_npz: str | os.PathLike,
    inception_weights: str | os.PathLike | None = None,
    compute=None,
) -> None:
    import torch

    from ..behaviour import extract_features, feature_statistics, make_extractor, save_statistics
    from ..compute import CPU
    from ..data import load_dataset
    from ..sampling import to_uint8_rgb

    ds = load_dataset(data_npz)
    extractor = make_extractor(classifier_pt, inception_weights, (compute or CPU).device)
    feats = extract_features(extractor, to_uint8_rgb(torch.from_numpy(ds.images)))
    save_statistics(out_npz, feature_statistics(feats), feats.numpy(), ds.class_names)
