"""The global behaviours, computed from features and logits with known answers."""

import numpy as np
import pytest
import torch
from conftest import write_reference

from diffattr.core.metrics import LOWER_IS_BETTER
from diffattr.evaluation.behaviour import compute_metrics, feature_statistics

ALL = ["fid", "kid", "isc", "precision", "recall", "class_share", "class_entropy"]
NAMES = tuple(str(i) for i in range(10))


def reference(features: torch.Tensor) -> dict:
    return {**feature_statistics(features), "features": features.numpy().astype(np.float32), "class_names": NAMES}


def one_hot_logits(labels: np.ndarray) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.from_numpy(labels), 10).double() * 20.0


def test_every_behaviour_is_known_and_signed():
    assert set(ALL) == set(LOWER_IS_BETTER)


def test_same_distribution_scores_near_perfect_and_shift_degrades():
    rng = np.random.default_rng(0)
    ref = torch.from_numpy(rng.standard_normal((600, 8)))
    gen = torch.from_numpy(rng.standard_normal((600, 8)))
    shifted = gen + 3.0
    labels = np.arange(600) % 10  # every class equally often
    good = compute_metrics(ALL, gen, one_hot_logits(labels), reference(ref), "3", seed=0, kid_subsets=20)
    bad = compute_metrics(ALL, shifted, one_hot_logits(labels), reference(ref), "3", seed=0, kid_subsets=20)
    assert good["fid"] < 0.5 < bad["fid"] and abs(good["kid"]) < 0.05 < bad["kid"]
    assert good["precision"] > 0.8 > bad["precision"] and good["recall"] > 0.8 > bad["recall"]
    # Confident, balanced labels: IS = exp(entropy of each split's label marginal) is at most the
    # number of classes, slightly below because the shuffled splits are not exactly balanced;
    # entropy log(10), each share 1/10.
    assert 9.0 < good["isc"] <= 10.0
    assert good["class_entropy"] == pytest.approx(np.log(10)) and good["class_share"] == pytest.approx(0.1)


def test_precision_and_recall_are_not_swapped():
    """Generated features covering only the centre of the real distribution (dropped modes): every
    generated sample lies among real ones (precision high) but most real samples have no generated
    neighbour (recall low). A shift of everything lowers both, so it cannot tell them apart;
    swapped arguments (torch-fidelity changed their order in 0.4.0) flip this one."""
    rng = np.random.default_rng(0)
    ref = torch.from_numpy(rng.standard_normal((600, 8)))
    centre = torch.from_numpy(0.5 * rng.standard_normal((600, 8)))
    out = compute_metrics(
        ["precision", "recall"], centre, one_hot_logits(np.arange(600) % 10), reference(ref), "3", seed=0
    )
    assert out["precision"] > 0.9 and out["recall"] < 0.4


def test_collapse_to_one_class_shows_in_share_entropy_and_isc():
    rng = np.random.default_rng(1)
    feats = torch.from_numpy(rng.standard_normal((200, 8)))
    out = compute_metrics(
        ["isc", "class_share", "class_entropy"], feats, one_hot_logits(np.full(200, 3)), reference(feats), "3", seed=0
    )
    assert out["class_share"] == 1.0 and out["class_entropy"] == 0.0 and out["isc"] == pytest.approx(1.0)


def test_unknown_share_class_names_the_key():
    feats = torch.zeros((20, 4), dtype=torch.float64)
    with pytest.raises(ValueError, match="behaviour.share_class: 'cat' is not a class"):
        compute_metrics(
            ["class_share"],
            feats,
            one_hot_logits(np.zeros(20, dtype=np.int64)),
            reference(feats + 1e-3 * torch.randn(20, 4, dtype=torch.float64)),
            "cat",
            seed=0,
        )


def test_reference_chain_from_data_to_statistics(tmp_path):
    """data -> classifier -> reference through the library, as the rules call it: the reference's
    features are the classifier's on the quantised training images, one row per image."""

    from diffattr.evaluation.behaviour import load_statistics
    from diffattr.modelling.sampling import to_uint8_rgb

    write_reference(tmp_path)
    ref = load_statistics(tmp_path / "ref.npz")
    assert ref["features"].shape[0] == 1797
    assert ref["mu"].shape == (ref["features"].shape[1],)
    assert ref["class_names"] == tuple(str(d) for d in range(10))
    grey = torch.tensor([[[[-1.0, 0.0, 1.0]]]])
    rgb = to_uint8_rgb(grey)
    assert rgb.dtype == torch.uint8 and rgb.shape == (1, 3, 1, 3)
    assert rgb[0, :, 0].tolist() == [[0, 128, 255]] * 3


def test_feature_batch_sets_the_extraction_batches_and_moves_features_only_by_rounding(tmp_path, monkeypatch):
    """behaviour.feature_batch: the reference (and every behaviour, through Sampling) extracts its
    features that many images at a time; other batch sizes give the same features up to float
    rounding, which is why the setting is hashed rather than silent."""
    from diffattr.core.settings import Sampling
    from diffattr.evaluation import behaviour
    from diffattr.evaluation.behaviour import load_statistics
    from diffattr.stages.reference import make_reference

    write_reference(tmp_path)  # data, classifier, and the reference at the default batch (500)
    sizes = []
    real = behaviour.make_extractor

    def counting(*args, **kwargs):
        extractor = real(*args, **kwargs)

        def call(x):
            sizes.append(len(x))
            return extractor(x)

        return call

    monkeypatch.setattr(behaviour, "make_extractor", counting)
    make_reference(
        data=tmp_path / "data.npz", classifier=tmp_path / "clf.pt", stats=tmp_path / "r7.npz", feature_batch=7
    )
    assert sizes == [7] * (1797 // 7) + [1797 % 7]
    default, small = load_statistics(tmp_path / "ref.npz"), load_statistics(tmp_path / "r7.npz")
    np.testing.assert_allclose(small["features"], default["features"], rtol=1e-4, atol=1e-5)
    assert Sampling.from_config({"ddim_steps": 2, "eta": 0.0, "seed": 0, "feature_batch": 7}).feature_batch == 7
    assert Sampling.from_config({"ddim_steps": 2, "eta": 0.0, "seed": 0, "feature_batch": None}).feature_batch is None
