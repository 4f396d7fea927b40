"""Stage classifier: the digits CNN used as the FID feature extractor."""

from __future__ import annotations

import logging
import os
import time

from ..atomic import write_json
from ..classifier_gate import ClassifierGate


def make_classifier(
    data_npz: str | os.PathLike,
    epochs: int,
    seed: int,
    holdout: float,
    out_pt: str | os.PathLike,
    out_json: str | os.PathLike,
    logger: logging.Logger,
    compute=None,
    gate: ClassifierGate | None = None,
) -> dict:
    """Train and save the classifier. With a `gate` (the config uses the classifier), one that fails it
    raises ClassifierGateError before anything is written, so no store ever holds it as complete."""
    from ..classifier import save_classifier, train_classifier
    from ..data import load_dataset

    ds = load_dataset(data_npz)
    start = time.perf_counter()
    model, info = train_classifier(ds.images, ds.labels, epochs, seed, holdout, logger, compute)
    info["train_seconds"] = time.perf_counter() - start
    if gate is not None:
        try:
            gate.check(info)
        except ValueError as exc:
            logger.error(str(exc))
            raise
    save_classifier(model, out_pt)
    write_json(out_json, info)
    return info
