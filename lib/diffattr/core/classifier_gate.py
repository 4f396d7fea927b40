"""Whether the domain classifier can mean anything: with behaviour.features: classifier its features
define FID (and KID, precision, recall, the Inception score, Table 1's FID2, k-means units), and its
labels always define class_share and class_entropy. A classifier trained on a few dozen images, or
one that barely beats chance on its held-out images, makes every such number meaningless, so the run
stops instead: the held-out count at start-up (it follows from the data's size and classifier.holdout),
the held-out accuracy in the classifier job. The thresholds are run-time keys (settings.UNHASHED).
Torch-free: start-up imports it."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Defaults of classifier.min_heldout and classifier.min_accuracy (config/config.yaml states the same).
# The digits default holds out 180 images and reaches 0.9944 (seed 0) and 0.9722 (seed 1) after 30
# epochs; a 60-image set holds out 6 (0.1) or 30 (0.5) and reached 0.0 to 0.5.
MIN_HELDOUT = 50
MIN_ACCURACY = 0.8
CLASS_METRICS = ("class_share", "class_entropy")


class ClassifierGateError(ValueError):
    pass


def heldout_count(n_images: int, holdout: float) -> int:
    """Images train_classifier holds out of `n_images` (the same rounding)."""
    return int(round(float(holdout) * int(n_images)))


@dataclass(frozen=True)
class ClassifierGate:
    min_heldout: int
    min_accuracy: float
    holdout: float
    defines_features: bool  # behaviour.features is the classifier's
    class_metrics: tuple[str, ...]  # class_share / class_entropy among behaviour.metrics

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ClassifierGate | None:
        """The gate of a config, or None when no configured behaviour uses the domain classifier
        (Inception features and no class metric: it is still trained, but nothing reads its output)."""
        b, c = config["behaviour"], config["classifier"]
        defines = b.get("features", "classifier") == "classifier"
        class_metrics = tuple(m for m in b["metrics"] if m in CLASS_METRICS)
        if not defines and not class_metrics:
            return None
        return cls(
            int(c.get("min_heldout", MIN_HELDOUT)),
            float(c.get("min_accuracy", MIN_ACCURACY)),
            float(c["holdout"]),
            defines,
            class_metrics,
        )

    @property
    def role(self) -> str:
        parts = ["defines FID's features"] if self.defines_features else []
        parts += [f"labels the images for {'/'.join(self.class_metrics)}"] if self.class_metrics else []
        return " and ".join(parts)

    @property
    def fix(self) -> str:
        parts = ["use Inception features (behaviour.features: inception)"] if self.defines_features else []
        if self.class_metrics:
            parts.append(f"remove {'/'.join(self.class_metrics)} from behaviour.metrics")
        return " and ".join(parts)

    def startup_problem(self, n_images: int) -> str | None:
        """The start-up line (after 'config key classifier.holdout: ') when too few images are held out."""
        n = heldout_count(n_images, self.holdout)
        if n >= self.min_heldout:
            return None
        return self._too_few(
            f"{self.holdout:g} holds out {n} of the {n_images} training images to measure the domain "
            "classifier's accuracy"
        )

    def _too_few(self, what: str) -> str:
        return (
            f"{what}, fewer than classifier.min_heldout={self.min_heldout}: too few to show that the "
            f"classifier, which {self.role}, means anything; {self.fix}, raise classifier.holdout, or lower "
            "classifier.min_heldout"
        )

    def check(self, info: Mapping[str, Any]) -> None:
        """Raise ClassifierGateError (one line, the thresholds and the fix) when a trained classifier's
        record (its info.json) fails the gate."""
        n, acc = int(info["n_heldout"]), float(info["heldout_accuracy"])
        if n < self.min_heldout:
            raise ClassifierGateError(self._too_few(f"classifier: held out {n} images"))
        if math.isnan(acc) or acc < self.min_accuracy:
            raise ClassifierGateError(
                f"classifier: held-out accuracy {acc:.4f} on {n} images is below classifier.min_accuracy="
                f"{self.min_accuracy:g}: the classifier, which {self.role}, does not tell the data's classes "
                f"apart, so what it measures means nothing; {self.fix}, train it longer (classifier.epochs), "
                "or lower classifier.min_accuracy"
            )
