"""Common random numbers: every model, batch size and device starts image j from the same noise."""

import numpy as np
import pytest
import torch
from conftest import SCHED, write_reference

from diffattr.modelling.models import build_unet, ddim_scheduler, save_model
from diffattr.modelling.sampling import ddim_sample, initial_noise

TINY = {"block_out_channels": [16, 32], "layers_per_block": 1, "norm_num_groups": 4, "attention": False}


def _model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_unet(TINY, 8, 1).eval()


def test_an_images_initial_noise_depends_only_on_seed_and_index():
    whole = initial_noise((1, 8, 8), seed=3, start=0, count=10)
    parts = torch.cat(
        [initial_noise((1, 8, 8), 3, 0, 4), initial_noise((1, 8, 8), 3, 4, 4), initial_noise((1, 8, 8), 3, 8, 2)]
    )
    assert torch.equal(whole, parts)
    assert not torch.equal(whole, initial_noise((1, 8, 8), seed=4, start=0, count=10))
    assert len({tuple(row.flatten()[:4].tolist()) for row in whole}) == 10  # no two images share a noise


@pytest.mark.parametrize("eta", [0.0, 0.5])
def test_samples_do_not_depend_on_the_batch_size(eta):
    model = _model(0)
    small = ddim_sample(model, ddim_scheduler(SCHED), 10, 3, seed=1, batch_size=3, eta=eta)
    large = ddim_sample(model, ddim_scheduler(SCHED), 10, 3, seed=1, batch_size=10, eta=eta)
    assert torch.allclose(small, large, atol=1e-5)


def test_two_models_start_from_the_same_noises():
    """Record what each model sees at the first DDIM step: the same initial noises."""
    seen = []

    def record(module, args):
        if len(seen) % 3 == 0:  # the first of the 3 steps of each model's single batch
            seen.append(args[0].clone())
        else:
            seen.append(None)

    for seed in (0, 1):
        model = _model(seed)
        handle = model.register_forward_pre_hook(record)
        ddim_sample(model, ddim_scheduler(SCHED), 6, 3, seed=2, batch_size=6)
        handle.remove()
    first_a, first_b = seen[0], seen[3]
    assert torch.equal(first_a, first_b) and torch.equal(first_a, initial_noise((1, 8, 8), 2, 0, 6))


def test_behaviour_values_do_not_depend_on_the_batch_size(tmp_path):
    """The evaluation of one model at two behaviour.batch_size values gives identical behaviours
    (a store extended at another batch size compares its models on the same noises)."""
    from diffattr.core.settings import Sampling
    from diffattr.evaluation.behaviour import Evaluator

    write_reference(tmp_path)
    save_model(_model(0), tmp_path / "model")
    (tmp_path / "train.json").write_text("{}")
    cfg = {
        "metrics": ["fid", "kid", "precision", "recall", "class_entropy"],
        "n_samples": 40,
        "ddim_steps": 3,
        "seed": 0,
        "eta": 0.0,
        "kid_subsets": 10,
    }
    values = {}
    for bs in (7, 40):
        evaluate = Evaluator(tmp_path / "clf.pt", tmp_path / "ref.npz", SCHED, Sampling.from_config(cfg), bs)
        values[bs] = evaluate(tmp_path / "model", tmp_path / "train.json", "base", "full")["metrics"]
    for name, v in values[7].items():
        assert v == pytest.approx(values[40][name], rel=1e-6, abs=1e-9), name
    assert np.isfinite(list(values[7].values())).all()


def test_a_behaviour_extracts_its_features_feature_batch_images_at_a_time(tmp_path, monkeypatch):
    """behaviour.feature_batch reaches the evaluation (Sampling -> Evaluator -> extract): 40 samples
    in batches of 7; the behaviours agree with the default batch's up to float rounding."""
    from diffattr.core.settings import Sampling
    from diffattr.evaluation import behaviour

    write_reference(tmp_path)
    save_model(_model(0), tmp_path / "model")
    (tmp_path / "train.json").write_text("{}")
    cfg = {"metrics": ["fid", "class_entropy"], "n_samples": 40, "ddim_steps": 2, "seed": 0, "eta": 0.0}
    sizes, real = [], behaviour.extract

    def recording(extractor, images, batch_size=None):
        sizes.append(batch_size)
        return real(extractor, images, batch_size)

    monkeypatch.setattr(behaviour, "extract", recording)
    values = {}
    for batch in (None, 7):
        settings = Sampling.from_config({**cfg, "feature_batch": batch})
        evaluate = behaviour.Evaluator(tmp_path / "clf.pt", tmp_path / "ref.npz", SCHED, settings, 40)
        values[batch] = evaluate(tmp_path / "model", tmp_path / "train.json", "base", "full")["metrics"]
    assert sizes == [None, 7]
    for name, v in values[7].items():
        assert v == pytest.approx(values[None][name], rel=1e-5, abs=1e-8), name
