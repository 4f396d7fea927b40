"""Device and precision choices on a machine without a GPU (the GPU paths run in bench/gpu_check.sh)."""

import copy

import pytest
import torch
from conftest import SCHED, write_reference

from diffattr.core.progress import get_logger
from diffattr.core.registry import DRAWING_STAGES
from diffattr.core.settings import Recipe
from diffattr.modelling.compute import CPU, Compute, resolve_compute
from diffattr.modelling.models import build_unet, ddim_scheduler, ddpm_scheduler
from diffattr.modelling.sampling import ddim_sample
from diffattr.modelling.training import train_ddpm
from diffattr.workflow.addressing import COMPUTED_STAGES, build_plan

TINY = {"block_out_channels": [16, 32], "layers_per_block": 1, "norm_num_groups": 4, "attention": False}


def test_auto_device_falls_back_to_cpu_and_cuda_without_gpu_is_an_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_compute({"device": "auto"}).device.type == "cpu"
    assert resolve_compute(None) == CPU
    with pytest.raises(RuntimeError, match="compute.device: 'cuda' but no GPU"):
        resolve_compute({"device": "cuda"})


def test_bf16_autocast_trains_and_samples_on_cpu(tmp_path):
    torch.manual_seed(0)
    images = torch.rand(16, 1, 8, 8) * 2 - 1
    recipe = Recipe(steps=4, batch_size=8, lr=1e-3, grad_clip=1.0, ema_max_decay=0.999, ema_power=0.75, seed=0)
    log = get_logger(tmp_path / "log")
    bf16 = Compute(torch.device("cpu"), "bf16")
    torch.manual_seed(1)
    ema, stats = train_ddpm(build_unet(TINY, 8, 1), images, recipe, ddpm_scheduler(SCHED), log, compute=bf16)
    assert stats["precision"] == "bf16" and torch.isfinite(torch.tensor(stats["final_loss"]))
    assert next(ema.parameters()).dtype == torch.float32  # autocast keeps fp32 master weights
    # The same start in fp32: bf16 changes the numbers (so it is hashed), but not by much.
    torch.manual_seed(1)
    _, ref = train_ddpm(build_unet(TINY, 8, 1), images, recipe, ddpm_scheduler(SCHED), log)
    assert ref["final_loss"] != stats["final_loss"]
    assert abs(ref["final_loss"] - stats["final_loss"]) < 0.1 * ref["final_loss"]
    out = ddim_sample(ema, ddim_scheduler(SCHED), 5, 3, seed=0, batch_size=4, compute=bf16)
    assert out.shape == (5, 1, 8, 8) and out.dtype == torch.float32 and out.device.type == "cpu"


def test_precision_names_the_computed_artifacts_and_device_does_not(config):
    base = build_plan(config).hashes
    cfg = copy.deepcopy(config)
    cfg["compute"]["device"] = "cuda"
    assert build_plan(cfg).hashes == base
    cfg["compute"]["precision"] = "bf16"
    changed = {s for s, h in build_plan(cfg).hashes.items() if h != base[s]}
    assert changed >= COMPUTED_STAGES and "data" not in changed and "classifier" not in changed
    assert "subsets" not in changed and "init" not in changed


def test_sampling_precision_draws_in_bf16_and_leaves_training_exact(tmp_path):
    """bf16 sampling with fp32 training: the training is fp32's bit for bit, the images are the
    all-bf16 run's for the same model, and they differ from fp32's."""
    images = torch.rand(16, 1, 8, 8) * 2 - 1
    recipe = Recipe(steps=3, batch_size=8, lr=1e-3, grad_clip=1.0, ema_max_decay=0.999, ema_power=0.75, seed=0)
    log = get_logger(tmp_path / "log")
    mixed = resolve_compute({"device": "cpu", "precision": "fp32", "sampling_precision": "bf16"})
    assert mixed.drawing_precision == "bf16" and CPU.drawing_precision == "fp32"
    assert Compute(torch.device("cpu"), "bf16").drawing_precision == "bf16"  # null follows precision
    trained = {}
    for name, compute in (("fp32", CPU), ("mixed", mixed)):
        torch.manual_seed(1)
        trained[name] = train_ddpm(build_unet(TINY, 8, 1), images, recipe, ddpm_scheduler(SCHED), log, compute=compute)
    (ema, ref), (ema_mixed, stats) = trained["fp32"], trained["mixed"]
    assert stats["final_loss"] == ref["final_loss"]
    assert all(torch.equal(a, b) for a, b in zip(ema.state_dict().values(), ema_mixed.state_dict().values()))
    draw = {
        name: ddim_sample(ema, ddim_scheduler(SCHED), 4, 3, seed=0, batch_size=4, compute=compute)
        for name, compute in (("fp32", CPU), ("mixed", mixed), ("bf16", Compute(torch.device("cpu"), "bf16")))
    }
    assert torch.equal(draw["mixed"], draw["bf16"]) and not torch.equal(draw["mixed"], draw["fp32"])


def test_sampling_precision_names_only_the_stages_that_draw(config):
    base = build_plan(config).hashes
    cfg = copy.deepcopy(config)
    cfg["compute"]["sampling_precision"] = "bf16"
    changed = {s for s, h in build_plan(cfg).hashes.items() if h != base[s]}
    drawing = DRAWING_STAGES & set(base)
    assert drawing >= {"behaviour_base", "behaviour_unlearn", "behaviour_retrain", "pairs"}
    # what draws, and what reads the images' behaviours downstream; no model is retrained
    assert changed >= drawing
    assert not changed & {"train_base", "prune", "unlearn", "retrain", "retrain_floor", "data", "reference"}
    for same in (None, "fp32"):  # as precision: drawn as before, so named as before
        cfg["compute"]["sampling_precision"] = same
        assert build_plan(cfg).hashes == base
    # bf16 training with fp32 sampling: the drawing stages differ from all-bf16's, the models do not
    cfg["compute"].update(precision="bf16", sampling_precision=None)
    all_bf16 = build_plan(cfg).hashes
    cfg["compute"]["sampling_precision"] = "fp32"
    moved = {s for s, h in build_plan(cfg).hashes.items() if h != all_bf16[s]}
    assert moved >= drawing and not moved & {"train_base", "prune", "unlearn", "retrain", "retrain_floor"}


# Library entry points that train, sample or extract features, and therefore need a device.
MODEL_ENTRY_POINTS = {
    "train_base",
    "prune_and_finetune",
    "unlearn_batch",
    "retrain_batch",
    "evaluate_model",
    "evaluate_batch",
    "evaluate_retrained",
    "pair_fids",
    "make_reference",
    "sample_grid",
    "make_classifier",
}


def test_every_stage_script_that_runs_a_model_resolves_compute_in_one_place():
    """A stage script that calls a model-running entry point must get its device from
    jobs.start_model_job (and nowhere else) and hand it to every such call; the entry points take it."""
    import ast
    import importlib
    import inspect
    from pathlib import Path

    import diffattr.stages

    stages = [
        importlib.import_module(f"diffattr.stages.{p.stem}")
        for p in Path(diffattr.stages.__file__).parent.glob("*.py")
        if p.stem != "__init__"
    ]
    entry_points = {name: getattr(m, name) for m in stages for name in MODEL_ENTRY_POINTS if hasattr(m, name)}
    scripts = sorted((Path(__file__).resolve().parents[1] / "workflow" / "scripts").glob("*.py"))
    checked = set()
    for script in scripts:
        tree = ast.parse(script.read_text())
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
        names = {c.func.id for c in calls}
        runs_model = [c for c in calls if c.func.id in MODEL_ENTRY_POINTS]
        assert "resolve_compute" not in names, f"{script.name}: resolve compute through jobs.start_model_job"
        if not runs_model:
            continue
        assert "start_model_job" in names, f"{script.name} runs a model but does not call start_model_job"
        for call in runs_model:
            assert any(k.arg == "compute" for k in call.keywords), f"{script.name}: {call.func.id} without compute="
            checked.add(call.func.id)
    assert checked == MODEL_ENTRY_POINTS  # every entry point is called by some script
    for name in MODEL_ENTRY_POINTS:
        assert "compute" in inspect.signature(entry_points[name]).parameters, name


def test_generation_stages_hand_their_device_down(tmp_path, monkeypatch):
    """pairs, reference and samples sample and extract on the job's device: the Compute a stage
    gets reaches ddim_sample and the feature extractor."""
    import diffattr.evaluation.behaviour as behaviour
    import diffattr.modelling.sampling as sampling
    from diffattr.core.settings import Job, Sampling, SamplingRuntime
    from diffattr.modelling.models import save_model
    from diffattr.stages.pairs import pair_fids
    from diffattr.stages.samples import sample_grid

    marker = Compute(torch.device("cpu"), "bf16")
    seen = {"sample": [], "extract": []}
    real_sample, real_extractor = sampling.ddim_sample, behaviour.make_extractor

    def spy_sample(*args, **kwargs):
        seen["sample"].append(kwargs.get("compute", args[7] if len(args) > 7 else None))
        return real_sample(*args, **kwargs)

    def spy_extractor(weights, inception=None, device="cpu"):
        seen["extract"].append(device)
        return real_extractor(weights, inception, device)

    monkeypatch.setattr(sampling, "ddim_sample", spy_sample)
    monkeypatch.setattr(behaviour, "make_extractor", spy_extractor)
    write_reference(tmp_path, compute=marker)
    torch.manual_seed(0)
    save_model(build_unet(TINY, 8, 1), tmp_path / "m")
    beh = Sampling.from_config({"n_samples": 8, "ddim_steps": 2, "seed": 0, "eta": 0.0})
    pair_fids(
        unlearned=tmp_path / "m",
        retrained=tmp_path / "m",
        floor=tmp_path / "m",
        classifier=tmp_path / "clf.pt",
        settings=Job(beh, SamplingRuntime(batch_size=8), scheduler=SCHED),
        subset="train-0000",
        pair=tmp_path / "pair.json",
        compute=marker,
    )
    sample_grid(
        model=tmp_path / "m",
        settings=Job(beh, SamplingRuntime(batch_size=8), scheduler=SCHED),
        n=4,
        title="t",
        grid=tmp_path / "grid.png",
        compute=marker,
    )
    assert seen["sample"] == [marker] * 4  # three models of the pair, one grid
    assert seen["extract"] == [marker.device] * 2  # reference, pair


def test_bf16_on_a_cpu_without_bf16_arithmetic_is_warned_of(tmp_path):
    from diffattr.workflow.config_checks import bf16_warning, cpu_flags

    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 fma\n")
    avx2 = cpu_flags(info)
    assert avx2 == {"fpu", "sse", "avx2", "fma"} and cpu_flags(tmp_path / "none") is None
    sampling = {"device": "auto", "precision": "fp32", "sampling_precision": "bf16"}
    assert "compute.sampling_precision: bf16 on this CPU" in bf16_warning(sampling, avx2, gpu_visible=False)
    assert "compute.precision" in bf16_warning({**sampling, "precision": "bf16"}, avx2, gpu_visible=False)
    # not where the CPU has bf16 arithmetic, a GPU takes it, nothing asks for bf16, or the CPU is unknown
    assert bf16_warning(sampling, avx2 | {"avx512_bf16"}, gpu_visible=False) is None
    assert bf16_warning(sampling, avx2, gpu_visible=True) is None
    assert bf16_warning({**sampling, "device": "cuda"}, avx2, gpu_visible=False) is None
    assert bf16_warning({**sampling, "sampling_precision": None}, avx2, gpu_visible=False) is None
    assert bf16_warning(sampling, None, gpu_visible=False) is None
