"""The cheap baselines (TRAK, D-TRAK, pixel and feature similarity): dattri's scores against a
brute-force gradient computation, the global aggregation and its sign on planted cases, their rows
in the datamodel, LDS and estimator table, the cost on the budget axis, the plan and the config."""

import ast
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SCHED

from diffattr.attribution.baselines import BASELINES, configured
from diffattr.attribution.baselines.aggregate import REDUCE, coefficients, unit_support
from diffattr.attribution.baselines.gradient import image_noise, make_attributor, pair_scores, timestep_grid
from diffattr.attribution.baselines.similarity import feature_support, pixel_support
from diffattr.attribution.datamodel import helpfulness, ranks
from diffattr.attribution.estimators import LEVEL_BY_DESIGN, fit_estimator
from diffattr.attribution.matrix import Matrix, write_matrix
from diffattr.core.settings import Bootstrap, DatamodelFit, Datamodels
from diffattr.modelling.models import build_unet, ddpm_scheduler

ROOT = Path(__file__).resolve().parents[1]
K, SEED = 2, 7


def tiny_unet() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_unet({"block_out_channels": [2, 4], "layers_per_block": 1, "norm_num_groups": 2}, 8, 1).eval()


def images(n: int, seed: int) -> torch.Tensor:
    return torch.rand((n, 1, 8, 8), generator=torch.Generator().manual_seed(seed)) * 2 - 1


def brute_force_grads(model: torch.nn.Module, imgs: torch.Tensor, method: str, role: int) -> torch.Tensor:
    """Per image: the gradient of the output function by plain torch.autograd, one image at a time,
    x_t from the scheduler's own add_noise (not the library's formula), float64 out."""
    sched = ddpm_scheduler(SCHED)
    t = timestep_grid(K, 1000)
    params = [p for p in model.parameters() if p.requires_grad]
    out = []
    for i, x0 in enumerate(imgs):
        noise = image_noise(SEED, role, i, K, tuple(x0.shape))
        x_t = sched.add_noise(x0.expand(K, -1, -1, -1), noise, t)
        eps = model(x_t, t).sample
        f = (eps**2).mean() if method == "dtrak" else ((eps - noise) ** 2).mean()
        out.append(torch.cat([g.flatten() for g in torch.autograd.grad(f, params)]).double())
    return torch.stack(out) / len(torch.cat([p.flatten() for p in params])) ** 0.5  # dattri's normalisation


def trak_formula(g_train: torch.Tensor, g_gen: torch.Tensor, lam: float) -> torch.Tensor:
    """TRAK: phi_gen (Phi^T Phi + lambda I)^-1 phi_train, n_train x n_gen."""
    kernel = g_train.T @ g_train + lam * torch.eye(g_train.shape[1], dtype=g_train.dtype)
    return (g_gen @ torch.linalg.solve(kernel, g_train.T)).T


@pytest.mark.parametrize("method", ["trak", "dtrak"])
def test_dattri_scores_equal_brute_force_gradient_inner_products(method):
    """Identity projection: dattri's scores are TRAK's kernel formula on the exact per-image gradients
    of our output function (loss, or D-TRAK's squared noise norm), for every train/generated pair.
    Fails if the output function, the timesteps, the noise per (image, timestep) or the side a
    gradient is taken on differs from what the attributor computes."""
    model = tiny_unet()
    train, gen = images(10, 1), images(3, 2)
    g_train, g_gen = brute_force_grads(model, train, method, 0), brute_force_grads(model, gen, method, 1)
    lam = float((g_train**2).sum(1).mean())  # comparable to the kernel's scale: a benign condition number
    p = g_train.shape[1]
    att = make_attributor(
        model,
        train,
        method,
        n_timesteps=K,
        alphas_cumprod=ddpm_scheduler(SCHED).alphas_cumprod,
        proj_dim=p,
        proj_type="identity",
        regularization=lam,
        seed=SEED,
        batch_size=4,
    )
    got = pair_scores(att, gen, K, SEED, batch_size=2).double()
    want = trak_formula(g_train, g_gen, lam)
    assert got.shape == (10, 3)
    assert torch.allclose(got, want, rtol=2e-3, atol=1e-4 * float(want.abs().max()))
    assert want.abs().max() > 0 and not torch.allclose(want, torch.zeros_like(want))


def test_random_projection_is_the_same_on_every_batch_and_side():
    """With dattri's normal projection, the scores are the formula on the brute-force gradients
    projected once by dattri's own projector (same seed): every batch, training or generated, is
    projected with the same matrix."""
    from dattri.func.projection import random_project

    model = tiny_unet()
    train, gen = images(12, 3), images(4, 4)
    g_train, g_gen = brute_force_grads(model, train, "trak", 0), brute_force_grads(model, gen, "trak", 1)
    proj = dict(proj_dim=8, proj_max_batch_size=32, proj_seed=SEED, proj_type="normal", device="cpu")
    g_all = torch.cat([g_train, g_gen]).float()
    phi = random_project(g_all, len(g_all), **proj)(g_all, ensemble_id=0).double()
    want = trak_formula(phi[:12], phi[12:], 1e-4)
    att = make_attributor(
        model,
        train,
        "trak",
        n_timesteps=K,
        alphas_cumprod=ddpm_scheduler(SCHED).alphas_cumprod,
        proj_dim=8,
        proj_type="normal",
        regularization=1e-4,
        seed=SEED,
        batch_size=5,
    )
    got = pair_scores(att, gen, K, SEED, batch_size=3).double()
    assert torch.allclose(got, want, rtol=5e-3, atol=1e-4 * float(want.abs().max()))


def test_scores_do_not_depend_on_batching_or_chunking():
    """Image i's noises follow its index, so the batch size and the chunks of generated images
    change nothing (up to float rounding)."""
    from diffattr.attribution.baselines.gradient import gradient_support

    model = tiny_unet()
    train, gen = images(8, 5).numpy(), images(5, 6).numpy()
    cfg = {"timesteps": K, "seed": SEED, "proj_dim": 8, "proj_type": "normal", "regularization": 1e-4}
    abar = ddpm_scheduler(SCHED).alphas_cumprod
    one = gradient_support(model, train, gen, "dtrak", cfg, abar, batch_size=8, chunk=5)
    other = gradient_support(model, train, gen, "dtrak", cfg, abar, batch_size=3, chunk=2)
    assert np.allclose(one, other, rtol=1e-4, atol=1e-6 * np.abs(one).max())
    assert image_noise(SEED, 1, 3, K, (1, 8, 8)).equal(image_noise(SEED, 1, 3, K, (1, 8, 8)))
    assert not image_noise(SEED, 1, 3, K, (1, 8, 8)).equal(image_noise(SEED, 0, 3, K, (1, 8, 8)))


def test_timesteps_are_dtraks_uniform_grid():
    assert timestep_grid(10, 1000).tolist() == list(range(0, 1000, 100))
    assert timestep_grid(3, 1000).tolist() == [0, 333, 666]
    with pytest.raises(ValueError, match="baselines.timesteps"):
        timestep_grid(1001, 1000)


def test_unit_support_sums_gradient_scores_and_averages_similarities():
    per_image = np.array([1.0, 2.0, 3.0, 10.0])
    members = (np.array([0, 1, 2]), np.array([3]))
    assert unit_support(per_image, members, "trak").tolist() == [6.0, 10.0]
    assert unit_support(per_image, members, "pixel").tolist() == [2.0, 10.0]
    assert set(REDUCE) == set(BASELINES)


def planted_similarity_case():
    """Unit 0's training images are the generated images; units 1 and 2 are unrelated noise."""
    rng = np.random.default_rng(0)
    generated = rng.uniform(-1, 1, (6, 1, 8, 8))
    train = np.concatenate([generated[:4], rng.uniform(-1, 1, (4, 1, 8, 8)), -np.abs(rng.uniform(0, 1, (4, 1, 8, 8)))])
    members = (np.arange(0, 4), np.arange(4, 8), np.arange(8, 12))
    return train, generated, members


def test_planted_unit_resembling_the_generated_images_ranks_first_and_helps_fid():
    """A unit whose images are the generated ones gets the highest support, hence (lower FID is
    better) a negative coefficient, the highest helpfulness and rank 1; for a higher-is-better
    behaviour the coefficient is positive. Fails if the sign mapping or the aggregation is flipped."""
    train, generated, members = planted_similarity_case()
    for support in (
        unit_support(pixel_support(train, generated), members, "pixel"),
        unit_support(feature_support(train.reshape(12, -1), generated.reshape(6, -1)), members, "feature"),
    ):
        assert int(np.argmax(support)) == 0
        fid = coefficients(support, lower_is_better=True)
        assert fid[0] < 0 and fid[0] == fid.min()
        assert ranks(helpfulness(fid, True))[0] == 1
        isc = coefficients(support, lower_is_better=False)
        assert isc[0] > 0 and ranks(helpfulness(isc, False))[0] == 1


def planted_matrix(n_units=6, n_train=8, n_test=12, seed=0):
    """FID = 50 - 3 * (units in the subset weighted by their planted effect): unit 0 helps most."""
    rng = np.random.default_rng(seed)
    effect = np.array([5.0, 3.0, 1.0, 0.5, -1.0, -2.0])[:n_units]  # FID points removed by including the unit
    masks = np.array([rng.permutation(n_units) < n_units // 2 for _ in range(n_train + n_test)])
    fid = 50.0 - masks @ effect
    isc = 2.0 + masks @ effect / 10
    sids = [f"train-{i:04d}" for i in range(n_train)] + [f"test-{i:04d}" for i in range(n_test)]
    m = Matrix(
        masks,
        np.c_[fid, isc],
        ["fid", "isc"],
        [f"class-{u}" for u in range(n_units)],
        sids,
        ["unlearn"] * n_train + ["retrain"] * n_test,
        np.ones(n_train + n_test),
        {"alpha": 0.5},
    )
    return m, effect


def test_baseline_as_estimator_follows_the_datamodel_convention():
    """Support equal to the planted effect: for FID the coefficients are -effect (the change of FID
    when the unit is included), for the Inception score +effect; fitted on no model, level not
    identified."""
    m, effect = planted_matrix()
    supports = {"trak": dict(zip(m.unit_ids, effect))}
    fid = fit_estimator(m, "fid", DatamodelFit("trak", [1.0], 2, 0), supports)
    assert np.allclose(fid.coef, -effect) and fid.n_models == 0 and not fid.level_identified
    assert np.allclose(fit_estimator(m, "isc", DatamodelFit("trak", [1.0], 2, 0), supports).coef, effect)
    assert not any(LEVEL_BY_DESIGN[name] for name in BASELINES)
    with pytest.raises(ValueError, match="baselines stage"):
        fit_estimator(m, "fid", DatamodelFit("pixel", [1.0], 2, 0), supports)
    with pytest.raises(ValueError, match="units differ"):
        fit_estimator(m, "fid", DatamodelFit("trak", [1.0], 2, 0), {"trak": {"class-0": 1.0}})


def test_baselines_are_rows_of_the_datamodel_lds_and_estimator_table(tmp_path):
    """A baseline whose support is the planted effect predicts the test FIDs perfectly (LDS 1), its
    negation perfectly wrong (LDS -1): the table, datamodel.json and lds.json carry both rows with
    their paired gaps to the primary."""
    from diffattr.stages.datamodel import fit_all
    from diffattr.stages.estimators import estimator_table
    from diffattr.stages.lds import evaluate_lds

    m, effect = planted_matrix()
    write_matrix(tmp_path / "m.h5", m)
    supports = {"pixel": dict(zip(m.unit_ids, effect)), "dtrak": dict(zip(m.unit_ids, -effect))}
    cfg = {"alphas": [0.1, 1.0], "cv_folds": 2, "seed": 0}
    names = ["ridge", "pixel", "dtrak"]
    fit_all(
        matrix=tmp_path / "m.h5",
        attributions=tmp_path / "a.csv",
        info=tmp_path / "dm.json",
        fitted=tmp_path / "dm.h5",
        settings=Datamodels.from_config({**cfg, "estimators": names, "primary": "ridge"}),
        target="fid",
        baselines=supports,
    )
    dm = json.loads((tmp_path / "dm.json").read_text())
    assert dm["estimators"]["pixel"]["family"] == "none" and dm["estimators"]["pixel"]["n_models"] == 0
    boot = Bootstrap(200, 0.95, 0)
    lds = evaluate_lds(
        datamodel=tmp_path / "dm.json", matrix=tmp_path / "dm.h5", lds=tmp_path / "lds.json", settings=boot
    )
    assert lds["estimators"]["pixel"]["lds"] == pytest.approx(1.0)
    assert lds["estimators"]["dtrak"]["lds"] == pytest.approx(-1.0)
    table = estimator_table(
        matrix=tmp_path / "m.h5",
        table=tmp_path / "e.csv",
        info=tmp_path / "e.json",
        datamodel=Datamodels.from_config({**cfg, "estimators": names, "primary": "ridge"}),
        settings=boot,
        baselines=supports,
    )
    rows = {(r["estimator"], r["behaviour"]): r for r in table["rows"]}
    assert set(rows) == {(e, b) for e in names for b in ("fid", "isc")}
    assert rows[("pixel", "isc")]["lds"] == pytest.approx(1.0)  # the sign follows each behaviour
    assert rows[("dtrak", "fid")]["gap_ci_high"] < 0 and rows[("pixel", "fid")]["n_fit_models"] == 0
    assert not rows[("pixel", "fid")]["sign_identified"]


def write_bench(path: Path, wall: float, cpu: float) -> Path:
    path.write_text(f"s\th:m:s\tmax_rss\tcpu_time\n{wall}\t0:00:00\t1\t{cpu}\n")
    return path


def test_baseline_cost_in_retrain_units(tmp_path):
    """Cost = (base training [+ pruning] + the images' job + the method's job) / unit, in wall seconds;
    attribution_units leaves the one-off training out."""
    from diffattr.attribution.baselines.cost import baseline_costs

    b = {
        name: write_bench(tmp_path / f"{name}.tsv", wall, wall / 2)
        for name, wall in (("base", 100.0), ("prune", 40.0), ("images", 10.0), ("trak", 30.0), ("pixel", 2.0))
    }
    costs = baseline_costs(b["images"], {"trak": b["trak"], "pixel": b["pixel"]}, {"train_base": b["base"]}, 50.0)
    assert costs["trak"]["units"] == pytest.approx((100 + 10 + 30) / 50)
    assert costs["pixel"]["attribution_units"] == pytest.approx(12 / 50)
    assert costs["trak"]["cpu_seconds"]["scores"] == pytest.approx(15.0)
    pruned = baseline_costs(
        b["images"], {"trak": b["trak"]}, {"train_base": b["base"], "prune_finetune": b["prune"]}, 50.0
    )
    assert pruned["trak"]["units"] == pytest.approx(180 / 50)


def test_budget_points_score_each_baseline_on_the_test_models(tmp_path):
    from diffattr.attribution.baselines.cost import baseline_points

    m, effect = planted_matrix()
    costs = {"pixel": {"units": 2.0, "attribution_units": 0.5, "wall_seconds": {}, "cpu_seconds": {}}}
    fit = DatamodelFit("ridge", (0.1, 1.0), 2, 0)
    boot = Bootstrap(200, 0.95, 0)
    (point,) = baseline_points(m, {"pixel": dict(zip(m.unit_ids, effect))}, "fid", True, costs, fit, boot)
    assert point["method"] == "pixel" and point["units"] == 2.0 and point["lds"] == pytest.approx(1.0)
    assert point["test_models"] == 12 and point["gap_to_unlearning"]["gap"] is not None


def test_configured_baselines_and_the_plan(config):
    """No baseline configured: no baselines stage and no other stage's name changes, whatever the
    section holds. One configured: its own stage (upstream: the attributed model) feeds the
    datamodel, estimators and budget stages; the batch size is not hashed."""
    import copy

    from diffattr.workflow.addressing import build_plan

    assert configured(["ridge", "trak", "loo", "feature"]) == ["trak", "feature"]
    plain = build_plan(config)
    assert "baselines" not in plain.hashes
    other = copy.deepcopy(config)
    other["baselines"]["timesteps"] = 3
    assert build_plan(other).hashes == plain.hashes
    with_trak = copy.deepcopy(config)
    with_trak["datamodel"]["estimators"] = [*config["datamodel"]["estimators"], "trak"]
    plan = build_plan(with_trak)
    assert plan.specs["baselines"]["upstream"].keys() >= {"train_base", "reference", "data", "baseline_images"}
    assert "train_base" in plan.specs["baseline_images"]["upstream"]
    for stage in ("datamodel", "estimators", "budget"):
        assert plan.specs[stage]["upstream"]["baselines"] == plan.hashes["baselines"]
    for stage in ("data", "train_base", "prune", "unlearn", "retrain", "behaviour_unlearn", "retrain_cf"):
        assert plan.hashes[stage] == plain.hashes[stage], stage
    batch = copy.deepcopy(with_trak)
    batch["baselines"]["batch_size"] = 7
    assert build_plan(batch).hashes == plan.hashes
    pruned = copy.deepcopy(with_trak)
    pruned["baselines"]["model"] = "prune"
    assert "prune" in build_plan(pruned).specs["baselines"]["upstream"]
    assert build_plan(pruned).hashes["baselines"] != plan.hashes["baselines"]


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda c: c["baselines"].update(model="pruned"), "config key baselines.model"),
        (lambda c: c["baselines"].update(proj_type="sjlt"), "config key baselines.proj_type"),
        (lambda c: c["baselines"].update(extra=1), "config key baselines.extra: unknown key"),
        (lambda c: c["datamodel"].update(estimators=["ridge", "trak2"]), "config key datamodel.estimators"),
        (
            lambda c: (c["datamodel"].update(estimators=["ridge", "dtrak"]), c["baselines"].update(timesteps=2000)),
            "config key baselines.timesteps",
        ),
    ],
)
def test_baseline_config_errors_are_one_line_naming_the_key(config, schema_path, mutate, message):
    from diffattr.workflow.config import ConfigError, validate_config

    mutate(config)
    with pytest.raises(ConfigError) as err:
        validate_config(config, schema_path)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_baseline_scripts_take_their_device_from_start_model_job():
    """Both baseline jobs run a model: each gets its device from compute.start_model_job and hands it
    to the library entry point."""
    for name, entry in (("baseline_images.py", "make_images"), ("baselines.py", "make_scores")):
        tree = ast.parse((ROOT / "workflow" / "scripts" / name).read_text())
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
        assert "start_model_job" in {c.func.id for c in calls}, name
        (call,) = [c for c in calls if c.func.id == entry]
        assert any(k.arg == "compute" for k in call.keywords), name
