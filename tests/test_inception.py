"""FID on torch-fidelity's Inception-v3 from a local weights file (made here with random weights of
the right shapes: the numbers are meaningless, the loading and feature path is the real one)."""

import copy

import numpy as np
import pytest
import torch
from conftest import write_inception_weights

from diffattr.evaluation.behaviour import compute_metrics, extract, feature_statistics, make_extractor
from diffattr.evaluation.classifier import DigitsCNN, save_classifier
from diffattr.workflow.addressing import build_plan
from diffattr.workflow.config import ConfigError, validate_config


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return write_inception_weights(tmp_path_factory.mktemp("inception") / "weights-inception.pth")


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    path = tmp_path_factory.mktemp("clf") / "classifier.pt"
    torch.manual_seed(0)
    save_classifier(DigitsCNN(n_classes=3, channels=3), path)
    return path


def test_inception_features_logits_and_domain_classes(weights, classifier):
    images = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    feats, logits, class_logits = extract(make_extractor(classifier, weights), images, batch_size=4)
    assert feats.shape == (6, 2048) and logits.shape == (6, 1008) and class_logits.shape == (6, 3)
    ref = {"features": feats.numpy(), "class_names": ["a", "b", "c"], **feature_statistics(feats)}
    out = compute_metrics(["fid", "class_share"], feats, logits, ref, "b", seed=0, class_logits=class_logits)
    # FID of a set against its own statistics is 0; the class share comes from the domain classifier.
    assert out["fid"] == pytest.approx(0, abs=1e-3)
    expected = float(np.mean(class_logits.argmax(1).numpy() == 1))
    assert out["class_share"] == pytest.approx(expected)
    # Without Inception the classifier gives the features and there are no separate class logits.
    f2, l2, c2 = extract(make_extractor(classifier), images)
    assert f2.shape[1] == 64 and l2.shape == (6, 3) and c2 is None


def test_inception_fid_orders_image_sets_by_their_distance(weights, classifier):
    """FID against one set's statistics: 0 for the set itself, small for a slightly perturbed copy,
    large for a set of a different kind (flat colours). Fails where the features do not depend on
    the images or FID is taken of a set against itself."""
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8, generator=g)
    near = (images.int() + torch.randint(-8, 9, images.shape, generator=g)).clamp(0, 255).to(torch.uint8)
    flat = torch.randint(0, 256, (6, 3, 1, 1), dtype=torch.uint8, generator=g).expand(6, 3, 32, 32).contiguous()
    extractor = make_extractor(classifier, weights)
    feats = {name: extract(extractor, x) for name, x in (("same", images), ("near", near), ("flat", flat))}
    ref = {"features": feats["same"][0].numpy(), "class_names": ["a", "b", "c"], **feature_statistics(feats["same"][0])}
    fid = {
        name: compute_metrics(["fid"], f, logits, ref, "b", seed=0, class_logits=cls)["fid"]
        for name, (f, logits, cls) in feats.items()
    }
    assert abs(fid["same"]) < 1e-4 < fid["near"] and fid["flat"] > 100 * fid["near"], fid


def test_missing_or_wrong_weights_name_the_key(tmp_path, classifier):
    with pytest.raises(ValueError, match="behaviour.inception_weights: .*nope.pth not found"):
        make_extractor(classifier, tmp_path / "nope.pth")
    with pytest.raises(ValueError, match="is not an Inception-v3 state dict"):
        make_extractor(classifier, classifier)


def test_inception_weights_name_the_reference_by_content(config, weights, tmp_path):
    cfg = copy.deepcopy(config)
    cfg["behaviour"]["inception_weights"] = str(weights)
    # Set but unused (features: classifier): nothing renamed.
    assert build_plan(cfg).hashes == build_plan(config).hashes
    cfg["behaviour"]["features"] = "inception"
    first = build_plan(cfg).hashes
    assert first["reference"] != build_plan(config).hashes["reference"]
    assert first["classifier"] == build_plan(config).hashes["classifier"]
    copy_path = tmp_path / "w.pth"
    copy_path.write_bytes(weights.read_bytes())
    cfg["behaviour"]["inception_weights"] = str(copy_path)
    assert build_plan(cfg).hashes["reference"] == first["reference"]  # same content, same statistics
    cfg["behaviour"]["inception_weights"] = str(tmp_path / "missing.pth")
    with pytest.raises(ValueError, match="behaviour.inception_weights: .*missing.pth' not found"):
        build_plan(cfg)


def test_pytorch_fids_file_loads_and_other_files_name_torch_fidelitys(
    config, schema_path, weights, classifier, tmp_path
):
    """pytorch-fid loads its pt_inception-2015-12-05-6726825d.pth into torchvision's Inception3 with
    1008 classes and no aux head (its FID blocks only override forward). A state dict of that network
    must load into torch-fidelity's and give the same features; torchvision's ImageNet Inception (aux
    head, 1000 classes) must fail in one line naming torch-fidelity's file, and so must a missing file
    at start-up."""
    import torchvision

    fid_net = torchvision.models.inception_v3(num_classes=1008, aux_logits=False, weights=None, init_weights=False)
    fid_net.load_state_dict(torch.load(weights))  # strict: the same names and shapes as torch-fidelity's
    pytorch_fid = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    torch.save(fid_net.state_dict(), pytorch_fid)
    images = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    ours = extract(make_extractor(classifier, weights), images)
    theirs = extract(make_extractor(classifier, pytorch_fid), images)
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs))
    imagenet = tmp_path / "inception_v3_google.pth"
    torch.save(torchvision.models.inception_v3(weights=None, init_weights=False).state_dict(), imagenet)
    with pytest.raises(ValueError) as err:
        make_extractor(classifier, imagenet)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"behaviour.inception_weights: {imagenet} is not an Inception-v3")
    assert "AuxLogits" in msg and msg.endswith(
        "use torch-fidelity's weights-inception-2015-12-05-6726825d.pth (pytorch-fid's "
        "pt_inception-2015-12-05-6726825d.pth has the same layout and loads too)"
    )
    cfg = copy.deepcopy(config)
    cfg["behaviour"].update(features="inception", inception_weights=str(tmp_path / "nowhere.pth"))
    with pytest.raises(
        ConfigError,
        match="nowhere.pth' not found; give torch-fidelity's Inception-v3 weights "
        r"\(weights-inception-2015-12-05-6726825d.pth; pytorch-fid's",
    ):
        validate_config(cfg, schema_path)
