"""Pruning, checkpoints and the training loop on tiny models (CPU, seconds)."""

import numpy as np
import pytest
import torch
from conftest import TINY_UNET, prune_tiny

from diffattr.core.progress import get_logger
from diffattr.core.settings import Recipe
from diffattr.modelling.models import build_unet, count_params, ddpm_scheduler, load_model, save_model
from diffattr.modelling.pruning import macs_and_params, prune_unet
from diffattr.modelling.training import train_ddpm


def _recipe(**kw):
    base = dict(steps=3, batch_size=8, lr=1e-3, grad_clip=1.0, ema_max_decay=0.9999, ema_power=0.75, seed=0)
    base.update(kw)
    return Recipe(**base)


@pytest.mark.parametrize("attention", [False, True])
def test_pruning_shrinks_model_keeps_shape_and_reloads_exactly(tmp_path, config, attention):
    torch.manual_seed(0)
    model = build_unet({**TINY_UNET, "attention": attention}, 8, 1)
    macs0, params0 = macs_and_params(model)
    pruned = prune_unet(model, 0.3)
    macs1, params1 = macs_and_params(pruned)
    assert params1 < 0.75 * params0 and macs1 < macs0
    x, t = torch.randn(4, 1, 8, 8), torch.tensor([0, 10, 500, 999])
    with torch.no_grad():
        out = pruned(x, t).sample
    assert out.shape == x.shape
    # Every conv except conv_out lost channels; conv_out still maps to the image channels.
    assert pruned.conv_in.out_channels < 16 and pruned.conv_out.out_channels == 1
    save_model(pruned, tmp_path / "pruned.pt")
    reloaded = load_model(tmp_path / "pruned.pt")
    with torch.no_grad():
        assert torch.equal(reloaded(x, t).sample, out)
    assert count_params(reloaded) == params1


def test_unpruned_model_round_trips_through_save_pretrained(tmp_path):
    model = build_unet(TINY_UNET, 8, 1).eval()
    save_model(model, tmp_path / "model")
    assert (tmp_path / "model" / "config.json").exists()
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([3, 700])
    with torch.no_grad():
        assert torch.equal(load_model(tmp_path / "model")(x, t).sample, model(x, t).sample)


def test_missing_and_corrupt_checkpoints_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.pt"):
        load_model(tmp_path / "nothere.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt.*corrupt"):
        load_model(bad)


def test_training_is_reproducible_and_changes_weights(config, tmp_path):
    images = torch.from_numpy(np.random.default_rng(0).uniform(-1, 1, (32, 1, 8, 8)).astype(np.float32))
    log = get_logger(tmp_path / "train.log")
    sched = ddpm_scheduler(config["scheduler"])
    results = []
    for _ in range(2):
        torch.manual_seed(0)
        model = build_unet(TINY_UNET, 8, 1)
        before = [p.detach().clone() for p in model.parameters()]
        ema, stats = train_ddpm(model, images, _recipe(), sched, log, log_every=1)
        assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
        results.append([p.detach().clone() for p in ema.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*results))
    assert stats["steps"] == 3 and np.isfinite(stats["final_loss"])
    text = (tmp_path / "train.log").read_text()
    assert "step 3/3" in text and "steps/s" in text and "ETA" in text


def test_nan_loss_stops_with_the_step_number(config, tmp_path):
    images = torch.full((8, 1, 8, 8), float("nan"))
    with pytest.raises(FloatingPointError, match="at step 1"):
        train_ddpm(
            build_unet(TINY_UNET, 8, 1),
            images,
            _recipe(),
            ddpm_scheduler(config["scheduler"]),
            get_logger(tmp_path / "log"),
        )


def _write_unlearn_inputs(tmp_path, pruned, sizes: list[int], seed: int) -> dict:
    """An unlearn job's inputs in tmp_path (digits data.npz, pruned.pt, chunk.json with one subset of
    each size, drawn with `seed`); returns the subsets."""
    import json

    from diffattr.core.data import load_digits_dataset, save_dataset

    ds = load_digits_dataset()
    save_dataset(tmp_path / "data.npz", ds)
    save_model(pruned, tmp_path / "pruned.pt")
    rng = np.random.default_rng(seed)
    subsets = {
        f"train-{i:04d}": {
            "id": f"train-{i:04d}",
            "sample_indices": sorted(rng.choice(len(ds.images), size, replace=False).tolist()),
        }
        for i, size in enumerate(sizes)
    }
    (tmp_path / "chunk.json").write_text(json.dumps({"subsets": subsets}))
    return subsets


def _unlearn_settings(config, **overrides):
    """An unlearn job's settings from the config's unlearn section with `overrides` (hashed or run-time keys)."""
    from diffattr.core.settings import job_settings

    config = {**config, "unlearn": {**config["unlearn"], **overrides}}
    return job_settings("unlearn", config["unlearn"], config, scheduler=config["scheduler"])


def test_concurrent_unlearning_gives_the_sequential_models(tmp_path, config):
    """unlearn.concurrent trains a job's subsets in threads; each subset keeps its own seed and
    generator, so every checkpoint equals the one-after-another run's, bit for bit on the CPU."""
    import json

    from diffattr.stages.unlearn import unlearn_batch

    torch.manual_seed(0)
    subsets = _write_unlearn_inputs(tmp_path, prune_unet(build_unet(TINY_UNET, 8, 1), 0.3), [300] * 3, seed=0)
    out = {}
    for k in (1, 3):
        settings = _unlearn_settings(config, steps=4, batch_size=8, log_every=2, concurrent=k)
        job = unlearn_batch(
            start=tmp_path / "pruned.pt",
            data=tmp_path / "data.npz",
            subsets=tmp_path / "chunk.json",
            settings=settings,
            batch=tmp_path / f"batch{k}",
            log=get_logger(tmp_path / "log"),
        )
        assert job["subsets"] == list(subsets) and job["concurrent"] == k
        out[k] = {sid: load_model(tmp_path / f"batch{k}" / sid / "model").state_dict() for sid in subsets}
        seconds = [
            json.loads((tmp_path / f"batch{k}" / sid / "train.json").read_text())["train_seconds"] for sid in subsets
        ]
        # Models trained side by side are charged a share of the job, not the whole shared wall each.
        assert sum(seconds) <= job["job_seconds"]
    for sid in subsets:
        assert all(torch.equal(out[1][sid][name], out[3][sid][name]) for name in out[1][sid])
    # Different subsets (different data and seeds) give different models.
    first, second = out[3]["train-0000"], out[3]["train-0001"]
    assert not all(torch.equal(first[name], second[name]) for name in first)


def _weights_distance(a: dict, b: dict) -> float:
    return float(sum((a[n].double() - b[n].double()).norm() ** 2 for n in a) ** 0.5)


@pytest.mark.parametrize("attention", [False, True])
def test_vmap_stacked_unlearning_gives_the_sequential_models(tmp_path, config, attention):
    """unlearn.concurrent_mode: vmap trains a job's subsets as one stacked model with torch.func.
    Each subset keeps its seed, draws, loss, gradient clipping, Adam and EMA, so its checkpoint is
    the one-after-another run's up to float rounding: far closer to it than to any other subset's
    model. Subsets of different sizes, a group smaller than `concurrent`, attention and flips."""
    import json

    from diffattr.stages.unlearn import unlearn_batch

    torch.manual_seed(0)
    pruned = prune_unet(build_unet({**TINY_UNET, "attention": attention}, 8, 1), 0.3)
    subsets = _write_unlearn_inputs(tmp_path, pruned, [200, 300, 400], seed=1)
    recipe = {"steps": 12, "batch_size": 16, "log_every": 5, "hflip": True}
    out = {}
    for mode, k in (("streams", 1), ("vmap", 2)):
        settings = _unlearn_settings(config, **recipe, concurrent=k, concurrent_mode=mode)
        job = unlearn_batch(
            start=tmp_path / "pruned.pt",
            data=tmp_path / "data.npz",
            subsets=tmp_path / "chunk.json",
            settings=settings,
            batch=tmp_path / mode,
            log=get_logger(tmp_path / "log"),
        )
        assert job["subsets"] == list(subsets) and job["concurrent_mode"] == mode
        out[mode] = {sid: load_model(tmp_path / mode / sid / "model").state_dict() for sid in subsets}
    start = pruned.state_dict()
    for sid in subsets:
        moved = _weights_distance(out["streams"][sid], start)
        assert moved > 1e-3
        assert _weights_distance(out["vmap"][sid], out["streams"][sid]) < 1e-3 * moved
        others = [other for other in subsets if other != sid]
        assert all(_weights_distance(out["vmap"][sid], out["streams"][o]) > 0.1 * moved for o in others)
        seq, stacked = (json.loads((tmp_path / m / sid / "train.json").read_text()) for m in ("streams", "vmap"))
        assert seq["seed"] == stacked["seed"] and seq["n_images"] == stacked["n_images"]
        assert stacked["final_loss"] == pytest.approx(seq["final_loss"], rel=1e-3)
        # Each stacked model is charged its share of the stack's wall time.
        assert stacked["train_seconds"] * stacked["batched_models"] == pytest.approx(stacked["stack_train_seconds"])
    with pytest.raises(ValueError, match="unlearn.concurrent_mode"):
        unlearn_batch(
            start=tmp_path / "pruned.pt",
            data=tmp_path / "data.npz",
            subsets=tmp_path / "chunk.json",
            settings=_unlearn_settings(config, **recipe, concurrent=2, concurrent_mode="fork"),
            batch=tmp_path / "bad",
            log=get_logger(tmp_path / "log"),
        )
    assert not (tmp_path / "bad").exists()


def test_stacked_gradient_clipping_is_torchs_per_model():
    from diffattr.modelling.batched_training import clip_grad_norms_

    torch.manual_seed(0)
    models = [torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2)) for _ in range(3)]
    for scale, m in zip((0.01, 1.0, 100.0), models):  # one under the bound, two over
        for p in m.parameters():
            p.grad = scale * torch.randn_like(p)
    stacked = [torch.stack([m_p.grad for m_p in ps]).clone() for ps in zip(*(m.parameters() for m in models))]
    norms = clip_grad_norms_(stacked, 1.0)
    for k, m in enumerate(models):
        assert norms[k].item() == pytest.approx(torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0).item(), rel=1e-6)
        for g, p in zip(stacked, m.parameters()):
            assert torch.allclose(g[k], p.grad, rtol=1e-6, atol=0)


def test_stacked_training_needs_one_recipe_up_to_the_seed(config):
    from diffattr.modelling.batched_training import train_ddpm_batched

    model = build_unet(TINY_UNET, 8, 1)
    images = [torch.zeros(4, 1, 8, 8)] * 2
    with pytest.raises(ValueError, match="one recipe up to the seed"):
        train_ddpm_batched(
            model,
            images,
            [_recipe(seed=0), _recipe(seed=1, lr=1.0)],
            ddpm_scheduler(config["scheduler"]),
            get_logger(None),
        )
    with pytest.raises(ValueError, match="no training images for model 1"):
        train_ddpm_batched(
            model,
            [images[0], images[0][:0]],
            [_recipe(seed=0), _recipe(seed=1)],
            ddpm_scheduler(config["scheduler"]),
            get_logger(None),
        )


def test_groupnorm_layers_lose_a_floored_multiple_of_their_groups():
    """The authors' rule: remove C - int(0.7 C) channels rounded down to a multiple of the GroupNorm's
    groups (16 -> 12 and 32 -> 24 with 4 groups), not torch-pruning 1.6's per-group rounding (16 -> 8)."""
    torch.manual_seed(0)
    pruned = prune_unet(build_unet(TINY_UNET, 8, 1), 0.3)
    assert pruned.conv_in.out_channels == 12
    assert pruned.down_blocks[1].resnets[0].conv1.out_channels == 24
    assert pruned.mid_block.resnets[0].norm1.num_groups == 4


def test_paper_architecture_prunes_to_the_authors_size():
    """google/ddpm-cifar10-32's UNet (one attention head) at ratio 0.3: 35.7M -> 19.85M parameters and
    6.06 -> 3.39 GMACs, the counts of the authors' pruner (reference: about 19.9M and 3.4G)."""
    cifar = {
        "block_out_channels": [128, 256, 256, 256],
        "layers_per_block": 2,
        "norm_num_groups": 32,
        "attention": True,
        "attention_head_dim": None,
    }
    torch.manual_seed(0)
    model = build_unet(cifar, 32, 3)
    assert round(macs_and_params(model)[1] / 1e6, 1) == 35.7
    macs, params = macs_and_params(prune_unet(model, 0.3))
    assert abs(params - 19.85e6) < 0.02e6 and abs(macs - 3.39e9) < 0.02e9


def _snapshot(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("warmup", [False, True])
def test_ema_follows_the_configured_decay_schedule(config, tmp_path, warmup):
    """A fresh EMA from the start weights: without warm-up the authors' decay (1 + t) / (10 + t),
    with it diffusers' 1 - (1 + t) ** -power; both capped at ema_max_decay. The raw weights after
    each step come from reruns of 1, 2 and 3 steps (the same draws)."""
    images = torch.from_numpy(np.random.default_rng(0).uniform(-1, 1, (32, 1, 8, 8)).astype(np.float32))
    sched, log = ddpm_scheduler(config["scheduler"]), get_logger(None)
    raw = []
    for steps in (1, 2, 3):
        torch.manual_seed(0)
        model = build_unet(TINY_UNET, 8, 1)
        ema, _ = train_ddpm(model, images, _recipe(steps=steps, ema_warmup=warmup, batching="epoch"), sched, log)
        raw.append(_snapshot(model))
    decays = [(1 + t) / (10 + t) if not warmup else 1 - (1 + t) ** -0.75 for t in (1, 2)]
    expected = raw[0]  # the first update copies the weights (decay 0 at step 0)
    for d, w in zip(decays, raw[1:]):
        expected = [d * e + (1 - d) * x for e, x in zip(expected, w)]
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(expected, _snapshot(ema)))
    # The other schedule gives another EMA: the setting is not ignored.
    other = [(1 + t) / (10 + t) if warmup else 1 - (1 + t) ** -0.75 for t in (1, 2)]
    wrong = raw[0]
    for d, w in zip(other, raw[1:]):
        wrong = [d * e + (1 - d) * x for e, x in zip(wrong, w)]
    assert not all(torch.allclose(a, b, atol=1e-6) for a, b in zip(wrong, _snapshot(ema)))


def test_epoch_batches_visit_every_image_once_per_epoch():
    from diffattr.modelling.training import EpochBatches

    batches = EpochBatches(n_images=10, batch_size=4, seed=3)
    seen = torch.cat([batches.indices(s) for s in range(5)])  # 20 draws = 2 epochs, across boundaries
    assert sorted(seen[:10].tolist()) == list(range(10)) and sorted(seen[10:].tolist()) == list(range(10))
    assert not torch.equal(seen[:10], seen[10:])  # a fresh shuffle each epoch
    assert torch.equal(EpochBatches(10, 4, 3).indices(3), batches.indices(3))  # step s alone decides it
    assert not torch.equal(EpochBatches(10, 4, 4).indices(0), batches.indices(0))
    with pytest.raises(ValueError, match="batching"):
        _recipe(batching="shuffle")


def test_prune_keeps_raw_and_ema_weights(config, tmp_path):
    """The pruned model's fine-tune writes both weights: the EMA (evaluated) and the raw ones (where
    unlearning starts with unlearn.init: raw, as the authors do)."""
    from diffattr.core.settings import Pruning, job_settings

    job = job_settings("prune.finetune", {**config["prune"]["finetune"], "steps": 5, "batch_size": 8}, config)
    prune_tiny(tmp_path, Pruning(ratio=0.3, importance_p=2, finetune=job), config["scheduler"])
    ema, raw = load_model(tmp_path / "model"), load_model(tmp_path / "raw")
    assert count_params(ema) == count_params(raw)
    assert not all(torch.equal(a, b) for a, b in zip(ema.parameters(), raw.parameters()))


def test_the_same_weights_save_to_the_same_bytes(tmp_path):
    """A .pt artifact is written to a random temporary name first: its bytes must not depend on that
    name (torch.save names its archive after a path's file), so reruns compare byte for byte."""
    from diffattr.evaluation.classifier import DigitsCNN, load_classifier, save_classifier

    torch.manual_seed(0)
    net = DigitsCNN(10, 1)
    for name in ("a", "b"):
        save_classifier(net, tmp_path / name / "classifier.pt")
        save_model(net, tmp_path / name / "whole.pt")
    for f in ("classifier.pt", "whole.pt"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    loaded = load_classifier(tmp_path / "a" / "classifier.pt")
    assert all(torch.equal(p, q) for p, q in zip(loaded.state_dict().values(), net.state_dict().values()))
