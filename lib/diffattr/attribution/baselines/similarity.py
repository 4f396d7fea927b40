"""Similarity baselines: how much each training image resembles the generated images.

Cosine similarity, as the follow-up's pixel and CLIP baselines (Lu et al. 2025): in pixel space
(images flattened, values in [-1, 1]) and in the feature space FID uses here (the digits
classifier's penultimate layer, or Inception's pool features with behaviour.features: inception;
the training images' features are the reference statistics' own). The per-image support is the
mean over generated images of cos(train image, generated image).
"""

from __future__ import annotations

import numpy as np


def _unit_rows(x: np.ndarray, what: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError(f"{what}: a vector of norm 0 has no cosine similarity (image {int(np.argmin(norms))})")
    return x / norms


def cosine_support(train: np.ndarray, generated: np.ndarray) -> np.ndarray:
    """Per training row: the mean over generated rows of their cosine similarity. The mean of
    x_i . g_j over j is x_i . mean_j g_j, so no n_train x n_generated matrix is formed."""
    return _unit_rows(train, "training images") @ _unit_rows(generated, "generated images").mean(axis=0)


def pixel_support(train_images: np.ndarray, generated: np.ndarray) -> np.ndarray:
    """Cosine similarity of the flattened images (as stored, in [-1, 1])."""
    return cosine_support(train_images, generated)


def feature_support(train_features: np.ndarray, generated_features: np.ndarray) -> np.ndarray:
    """Cosine similarity in the FID feature space."""
    if train_features.shape[1:] != generated_features.shape[1:]:
        raise ValueError(
            f"feature baseline: training features {train_features.shape[1:]} and generated features "
            f"{generated_features.shape[1:]} differ; rerun the 'reference' rule"
        )
    return cosine_support(train_features, generated_features)
