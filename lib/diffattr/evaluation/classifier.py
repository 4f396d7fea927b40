"""A small digits CNN whose penultimate layer stands in for Inception features on the embedded
default (Inception weights cannot be downloaded here), registered as a torch-fidelity extractor."""

from __future__ import annotations

import logging
import os

import numpy as np
import torch
from torch import nn

EXTRACTOR_NAME = "diffattr-digits-cnn"
FEATURE_DIM = 64


class DigitsCNN(nn.Module):
    def __init__(self, n_classes: int = 10, channels: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(64, FEATURE_DIM, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(FEATURE_DIM, n_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feats = self.body(x)
        return feats, self.head(feats)


def uint8_to_input(x: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 N x 3 x H x W (torch-fidelity's convention) -> float in [-1, 1] with the model's channels."""
    x = x.float() / 127.5 - 1.0
    return x[:, :channels] if channels < x.shape[1] else x


def train_classifier(
    images: np.ndarray, labels: np.ndarray, epochs: int, seed: int, holdout: float, logger: logging.Logger, compute=None
) -> tuple[DigitsCNN, dict]:
    """Train on a random (1 - holdout) share with +-1 pixel shifts on `compute`'s device (the
    shuffles and shifts are drawn on the CPU); report held-out accuracy. Returned on the CPU."""
    from ..core.classifier_gate import heldout_count
    from ..modelling.compute import CPU

    dev = (compute or CPU).device
    torch.manual_seed(seed)
    rng = np.random.RandomState(seed)
    perm = rng.permutation(len(images))
    n_hold = heldout_count(len(images), holdout)
    hold, fit = perm[:n_hold], perm[n_hold:]
    # Quantise like generated images are before feature extraction.
    x = torch.from_numpy(np.round((images + 1) * 127.5) / 127.5 - 1).float().to(dev)
    y = torch.from_numpy(labels).long().to(dev)
    model = DigitsCNN(int(labels.max()) + 1, images.shape[1]).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        model.train()
        order = torch.from_numpy(fit)[torch.randperm(len(fit), generator=gen)]
        for start in range(0, len(order), 64):
            idx = order[start : start + 64].to(dev)
            dx, dy = (int(v) for v in torch.randint(-1, 2, (2,), generator=gen))
            xb = torch.roll(x[idx], shifts=(dy, dx), dims=(2, 3))
            loss = nn.functional.cross_entropy(model(xb)[1], y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        logger.info(f"classifier epoch {epoch + 1}/{epochs} loss {loss.item():.4f}")
    model.eval()
    with torch.no_grad():
        held = torch.from_numpy(hold).to(dev)
        acc = float((model(x[held])[1].argmax(1) == y[held]).float().mean()) if n_hold else float("nan")
    model.to("cpu")
    logger.info(f"classifier held-out accuracy {acc:.4f} on {n_hold} images")
    return model, {
        "heldout_accuracy": acc,
        "n_heldout": n_hold,
        "epochs": epochs,
        "seed": seed,
        "n_classes": int(labels.max()) + 1,
        "channels": int(images.shape[1]),
    }


def save_classifier(model: DigitsCNN, path: str | os.PathLike) -> None:
    from ..core.atomic import atomic_path

    # Through a file handle: torch.save names its archive after a path's file name, which here is a
    # random temporary one, so the same weights would give other bytes on every run.
    with atomic_path(path, suffix=".pt") as tmp, open(tmp, "wb") as fh:
        torch.save(
            {
                "state_dict": model.state_dict(),
                "n_classes": model.head.out_features,
                "channels": model.body[0].in_channels,
            },
            fh,
        )


def load_classifier(path: str | os.PathLike) -> DigitsCNN:
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        model = DigitsCNN(blob["n_classes"], blob["channels"])
        model.load_state_dict(blob["state_dict"])
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: classifier weights missing; rerun the 'classifier' rule") from None
    except Exception as exc:
        raise ValueError(
            f"{path}: corrupt classifier weights ({exc}); delete it and rerun the 'classifier' rule"
        ) from None
    return model.eval()


def register_extractor() -> str:
    """Register the digits CNN with torch-fidelity (idempotent) and return its name."""
    from torch_fidelity.feature_extractor_base import FeatureExtractorBase
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    class DigitsFeatureExtractor(FeatureExtractorBase):
        def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
            super().__init__(name, features_list)
            if feature_extractor_weights_path is None:
                raise ValueError(f"{EXTRACTOR_NAME}: feature_extractor_weights_path is required (no download)")
            self.net = load_classifier(feature_extractor_weights_path)

        @staticmethod
        def get_provided_features_list():
            return "features", "logits_unbiased"

        @staticmethod
        def get_default_feature_layer_for_metric(metric):
            return {"isc": "logits_unbiased", "fid": "features", "kid": "features", "prc": "features"}[metric]

        @staticmethod
        def can_be_compiled():
            return False

        @staticmethod
        def get_dummy_input_for_compile():
            return torch.zeros(1, 3, 8, 8, dtype=torch.uint8)

        def forward(self, x):
            feats, logits = self.net(uint8_to_input(x, self.net.body[0].in_channels))
            named = {"features": feats, "logits_unbiased": logits}
            return tuple(named[name] for name in self.features_list)

    if EXTRACTOR_NAME not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(EXTRACTOR_NAME, DigitsFeatureExtractor)
    return EXTRACTOR_NAME
