"""Stage classifier: the digits CNN used as the FID feature extractor."""

from __future__ import annotations

import logging
import os
import time

from ..core.atomic import write_json
from ..core.classifier_gate import ClassifierGate
from ..core.settings import ClassifierTraining


def make_classifier(
    *,
    data: str | os.PathLike,
    weights: str | os.PathLike,
    info: str | os.PathLike,
    settings: ClassifierTraining,
    log: logging.Logger,
    compute=None,
    gate: ClassifierGate | None = None,
) -> dict:
    """Train and save the classifier. With a `gate` (the config uses the classifier), one that fails it
    raises ClassifierGateError before anything is written, so no store ever holds it as complete.
    `weights`: the trained model, `info`: its training record."""
    from ..core.data import load_dataset
    from ..evaluation.classifier import save_classifier, train_classifier

    ds = load_dataset(data)
    start = time.perf_counter()
    s = settings
    model, record = train_classifier(ds.images, ds.labels, s.epochs, s.seed, s.holdout, log, compute)
    record["train_seconds"] = time.perf_counter() - start
    if gate is not None:
        try:
            gate.check(record)
        except ValueError as exc:
            log.error(str(exc))
            raise
    save_classifier(model, weights)
    write_json(info, record)
    return record
