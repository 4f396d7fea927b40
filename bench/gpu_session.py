"""One GPU session, run once on a machine with a GPU (bench/gpu_session.sh wraps it; < 9.5 minutes):

1. `gpu_check`: bench/gpu_check.py (train steps/s of the CIFAR-10 base and pruned model in fp32,
   TF32 and bf16, DDIM-100 images/s, seconds per unlearned subset at 4,000 steps, the unlearn job
   one subset after another vs `unlearn.concurrent` streams vs vmap, and a bare bf16 training step
   in NCHW, channels_last and under torch.compile).
2. `smoke`: the smoke preset through the snakemake CLI with `compute.device: cuda`. Checks that
   every job that runs a model logged the GPU as its device, and compares its behaviours with a CPU
   run of the same preset at the same commit (`--cpu-reference`, made beforehand with `--quick` on a
   CPU): (a) the CPU run's own checkpoints evaluated on the GPU (same noises: only float rounding
   differs) and (b) the whole GPU run (trained on the GPU from the same draws), each against a
   tolerance stated below before any GPU run.
3. `cifar`: the paper preset's CIFAR-10 architecture and settings through train_base -> prune ->
   unlearn -> behaviour -> pairs -> table1, through the snakemake CLI, on a small synthetic
   CIFAR-format data set written here, Inception features from a weights file of the right shapes
   made here (random values: no download; the loading and feature path is real, the FIDs are not),
   at short step counts.
4. `calibrate`: `python -m diffattr.plan --calibrate-only` of the paper preset on this device (the
   speeds a Slurm forecast reads from `slurm_limits.calibration`), kept in the summary JSON.

The summary JSON is rewritten after every section, so a run cut short keeps what it measured.
`--quick` runs on a CPU with tiny sizes (gpu_check, cifar and calibrate) and the full smoke preset: it checks
the script and writes the CPU reference for step 2.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from workflow_copy import copy_workflow  # noqa: E402  bench/ is on sys.path when a bench script runs

SMOKE = ["--configfile", "config/config.yaml", "config/presets/smoke.yaml"]
# Stated before any GPU run. (a) Same checkpoints and noises, fp32 without TF32: only kernels'
# summation order differs, so values agree to rounding; a label or neighbour flip of one or two of
# the 100 images may move the bounded metrics by 0.01-0.02. (b) The whole run, trained on the GPU from
# the same CPU-drawn batches, noise and timesteps: rounding differences grow over training, so looser.
TOLERANCE = {
    "checkpoints": {
        "rel": {"fid": 1e-3, "kid": 1e-3, "isc": 1e-3},
        "abs": {"precision": 0.02, "recall": 0.02, "class_share": 0.02, "class_entropy": 0.05},
    },
    "pipeline": {
        "rel": {"fid": 0.05, "kid": 0.25, "isc": 0.05},
        "abs": {"precision": 0.1, "recall": 0.1, "class_share": 0.05, "class_entropy": 0.1},
    },
}
# Log folders of the rules that train, sample or extract features: each job's log must name its device.
MODEL_LOG_DIRS = (
    "classifier",
    "reference",
    "train_base",
    "prune",
    "unlearn",
    "behaviour",
    "retrain",
    "retrain_floor",
    "retrain_cf",
    "pairs",
    "samples",
)


def run_limited(cmd: list[str], cwd: Path, timeout: float, log: Path, env: dict | None = None) -> dict:
    """Run cmd with its output in `log`; past `timeout`, kill its whole process group (a killed
    snakemake would otherwise leave its jobs running into the next section)."""
    import signal

    start = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            rc = "timeout"
    return {"returncode": rc, "seconds": round(time.perf_counter() - start, 1)}


def snakemake(work: Path, args: list[str], timeout: float, log: Path) -> dict:
    return run_limited([sys.executable, "-m", "snakemake", *args], work, timeout, log)


def device_of_logs(work: Path) -> dict:
    """Per model log: the device its start_model_job line names (None = no such line)."""
    out = {}
    for d in MODEL_LOG_DIRS:
        for f in sorted((work / "results/logs" / d).rglob("*.log")):
            dev = None
            for line in f.read_text(errors="replace").splitlines():
                if "compute: device " in line:
                    dev = line.split("compute: device ", 1)[1].split(" ", 1)[0]
            out[str(f.relative_to(work / "results/logs"))] = dev
    return out


def behaviours(work: Path) -> dict[str, dict]:
    """Store-relative path -> metrics of every behaviour JSON (the paths are the same on every device:
    the device is not hashed)."""
    out = {}
    for f in sorted((work / "results/store/behaviour").rglob("*.json")):
        if f.name in ("spec.json", "job.json"):
            continue
        out[str(f.relative_to(work / "results/store"))] = json.loads(f.read_text())["metrics"]
    return out


def compare(values: dict[str, dict], reference: dict[str, dict], tol: dict) -> dict:
    """Largest deviation per metric over the models both hold, and whether each is within `tol`."""
    worst: dict[str, dict] = {}
    for key, ref in reference.items():
        if key not in values:
            continue
        for metric, r in ref.items():
            v = values[key][metric]
            if metric in tol["rel"]:
                dev, bound = abs(v - r) / max(abs(r), 1e-12), tol["rel"][metric]
            else:
                dev, bound = abs(v - r), tol["abs"][metric]
            if dev > worst.get(metric, {}).get("deviation", -1):
                worst[metric] = {
                    "deviation": dev,
                    "bound": bound,
                    "kind": "rel" if metric in tol["rel"] else "abs",
                    "model": key,
                    "value": v,
                    "reference": r,
                }
    common = len(set(values) & set(reference))
    return {
        "models_compared": common,
        "worst": worst,
        "within": bool(common) and all(w["deviation"] <= w["bound"] for w in worst.values()),
    }


def reevaluate(ref_dir: Path, device: str) -> dict[str, dict]:
    """The CPU run's checkpoints (carried in ref_dir) evaluated here, from the same noises."""
    from diffattr.core.settings import Sampling
    from diffattr.evaluation.behaviour import Evaluator
    from diffattr.modelling.compute import resolve_compute

    spec = json.loads((ref_dir / "checkpoints.json").read_text())
    evaluate = Evaluator(
        ref_dir / "classifier.pt",
        ref_dir / "stats.npz",
        spec["scheduler"],
        Sampling.from_config(spec["behaviour"]),
        spec["behaviour"]["batch_size"],
        resolve_compute({"device": device}),
    )
    out = {}
    for key, model in spec["models"].items():
        train_json = ref_dir / "train.json"
        train_json.write_text("{}")
        out[key] = evaluate(ref_dir / model, train_json, "check", key)["metrics"]
    return out


def save_reference(work: Path, dest: Path) -> None:
    """Keep what the GPU run compares against: every behaviour, and a few checkpoints (base, pruned,
    one unlearned, one retrained) with the classifier and reference statistics."""
    import yaml

    store = work / "results/store"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "behaviours.json").write_text(json.dumps(behaviours(work), indent=0))
    cfg = yaml.safe_load((work / "config/config.yaml").read_text())
    smoke = yaml.safe_load((work / "config/presets/smoke.yaml").read_text())
    behaviour_cfg = {**cfg["behaviour"], **smoke["behaviour"]}
    models = {}
    picks = {
        "base": next(store.glob("train_base/*/model")),
        "pruned": next(store.glob("prune/*/model")),
        "unlearned": next(store.glob("unlearn/*/train-0000-*/train-0000/model")),
        "retrained": next(store.glob("retrain/*/*/test-0000/model")),
    }
    for name, path in picks.items():
        target = dest / name if path.is_dir() else dest / f"{name}.pt"
        (shutil.copytree if path.is_dir() else shutil.copy)(path, target)
        models[name] = target.name
    shutil.copy(next(store.glob("classifier/*/classifier.pt")), dest / "classifier.pt")
    shutil.copy(next(store.glob("reference/*/stats.npz")), dest / "stats.npz")
    spec = {"scheduler": cfg["scheduler"], "behaviour": behaviour_cfg, "models": models}
    # The same checkpoints evaluated on the CPU here: the reference of check (a).
    (dest / "checkpoints.json").write_text(json.dumps(spec, indent=1))
    spec["values"] = reevaluate(dest, "cpu")
    (dest / "checkpoints.json").write_text(json.dumps(spec, indent=1))


def write_cifar(root: Path, n: int, seed: int = 0) -> None:
    """A CIFAR-10-format folder (5 python batches + batches.meta) of n smooth random 32x32 images."""
    import numpy as np

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    labels = np.arange(n) % 10
    base = rng.uniform(0, 255, (10, 3, 4, 4))  # one coarse pattern per class, upsampled, plus noise
    imgs = np.repeat(np.repeat(base[labels], 8, axis=2), 8, axis=3) + rng.normal(0, 20, (n, 3, 32, 32))
    data = imgs.clip(0, 255).astype(np.uint8).reshape(n, -1)
    for b, part in enumerate(np.array_split(np.arange(n), 5), start=1):
        with open(root / f"data_batch_{b}", "wb") as fh:
            pickle.dump({b"data": data[part], b"labels": labels[part].tolist()}, fh)
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    with open(root / "batches.meta", "wb") as fh:
        pickle.dump({b"label_names": names}, fh)


def write_inception(path: Path) -> None:
    """torch-fidelity's Inception-v3 state dict with random values (no download is possible)."""
    from unittest import mock

    import torch
    import torch_fidelity.feature_extractor_inceptionv3 as m

    torch.manual_seed(0)
    with (
        mock.patch.object(m.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd, *a, **k: None),
        mock.patch.object(m.torch, "load", lambda *a, **k: {}),
    ):
        net = m.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"], feature_extractor_weights_path="unused")
    for module in net.modules():  # He init keeps the features' scale (PyTorch's default shrinks them to ~0)
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    torch.save(net.state_dict(), path)


def cifar_overlay(data: Path, weights: Path, device: str, quick: bool) -> dict:
    """The paper preset with a small data set and short step counts (everything else as the preset)."""
    steps = (2, 2, 2) if quick else (20, 20, 20)  # 100/50/50 did not reach table1 in 150 s (H200)
    return {
        "run_name": "gpu-cifar",
        "data": {"path": str(data)},
        "train_base": {"steps": steps[0], "batch_size": 4 if quick else 128, "log_every": 50, "checkpoint_every": 0},
        "prune": {
            "finetune": {"steps": steps[1], "batch_size": 4 if quick else 128, "log_every": 50, "checkpoint_every": 0}
        },
        "unlearn": {"steps": steps[2], "batch_size": 4 if quick else 128, "log_every": 50, "subsets_per_job": 4},
        "subsets": {"n_train": 4, "n_test": 3},
        "lds": {"ceiling_models": 0},
        "baseline": {"n_models": 2},
        "table1": {"n_pairs": 1},
        "classifier": {"epochs": 1 if quick else 5},
        "behaviour": {
            "inception_weights": str(weights),
            "n_samples": 8 if quick else 200,
            "ddim_steps": 2 if quick else 50,
            "batch_size": 8 if quick else 200,
        },
        "compute": {"device": device},
    }


def train_records(work: Path) -> dict:
    """steps/s and seconds of every training in the store (train.json)."""
    out = {}
    for f in sorted((work / "results/store").rglob("train.json")):
        r = json.loads(f.read_text())
        out[str(f.relative_to(work / "results/store"))] = {
            k: r.get(k) for k in ("steps", "train_seconds", "steps_per_second", "device", "params")
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench/out/gpu_session")
    ap.add_argument("--quick", action="store_true", help="CPU check: tiny gpu_check and cifar, the full smoke")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--cpu-reference", default="", help="folder written by a --quick run (its smoke_reference/)")
    ap.add_argument("--work", default="/tmp/gpu_session")
    ap.add_argument("--cores", type=int, default=8)
    ap.add_argument("--sections", default="gpu_check,smoke,cifar,calibrate")
    ap.add_argument(
        "--timeout-scale",
        type=float,
        default=None,
        help="multiplies each section's time limit (default 1; 20 with --quick on a slow CPU)",
    )
    args = ap.parse_args()
    scale = args.timeout_scale or (20.0 if args.quick else 1.0)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    work_root = Path(args.work)
    shutil.rmtree(work_root, ignore_errors=True)
    summary: dict = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "quick": args.quick,
        "device": args.device,
        "python": platform.python_version(),
        "tolerance": TOLERANCE,
        "sections": {},
    }

    def save() -> None:
        (out_dir / "gpu_session.json").write_text(json.dumps(summary, indent=1))

    try:
        import diffusers
        import torch
        import torch_fidelity
        import torch_pruning

        summary["versions"] = {
            "torch": torch.__version__,
            "diffusers": diffusers.__version__,
            "torch_fidelity": torch_fidelity.__version__,
            "torch_pruning": torch_pruning.__version__,
            "cuda": torch.version.cuda,
        }
        summary["gpu"] = torch.cuda.get_device_name() if torch.cuda.is_available() else None
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        summary["commit"] = commit or None
    except Exception as exc:  # a missing package: say which, and stop
        summary["error"] = f"{type(exc).__name__}: {exc}"
        save()
        raise
    save()
    sections = args.sections.split(",")

    if "gpu_check" in sections:
        cmd = [
            sys.executable,
            str(ROOT / "bench/gpu_check.py"),
            "--out",
            str(out_dir / "gpu_check.json"),
            "--device",
            args.device,
        ] + (["--quick"] if args.quick else [])
        summary["sections"]["gpu_check"] = run_limited(cmd, ROOT, 260 * scale, out_dir / "gpu_check.log")
        save()

    if "smoke" in sections:
        work = copy_workflow(work_root / "smoke")
        (work / "device.yaml").write_text(json.dumps({"compute": {"device": args.device}}))
        run = snakemake(
            work, ["--cores", str(args.cores), *SMOKE, "device.yaml"], 180 * scale, out_dir / "smoke_snakemake.log"
        )
        devices = device_of_logs(work)
        sec = {
            **run,
            "model_logs": len(devices),
            "devices": sorted({str(d) for d in devices.values()}),
            "logs_without_device": [k for k, v in devices.items() if v is None],
            "all_on_device": bool(devices) and all((v or "").startswith(args.device) for v in devices.values()),
        }
        values = behaviours(work)
        sec["behaviour_jsons"] = len(values)
        if args.cpu_reference:
            ref = Path(args.cpu_reference)
            spec = json.loads((ref / "checkpoints.json").read_text())
            sec["checkpoints_vs_cpu"] = compare(reevaluate(ref, args.device), spec["values"], TOLERANCE["checkpoints"])
            sec["pipeline_vs_cpu"] = compare(
                values, json.loads((ref / "behaviours.json").read_text()), TOLERANCE["pipeline"]
            )
        if args.quick and run["returncode"] == 0:
            save_reference(work, out_dir / "smoke_reference")
        with tarfile.open(out_dir / "smoke_logs.tar.gz", "w:gz") as tar:
            if (work / "results/logs").exists():
                tar.add(work / "results/logs", arcname="logs")
        summary["sections"]["smoke"] = sec
        save()

    if "cifar" in sections:
        start = time.perf_counter()
        work = copy_workflow(work_root / "cifar")
        write_cifar(work / "data/cifar-10-batches-py", 64 if args.quick else 512)
        write_inception(work / "data/inception.pth")
        overlay = cifar_overlay(work / "data/cifar-10-batches-py", work / "data/inception.pth", args.device, args.quick)
        (work / "cifar.yaml").write_text(json.dumps(overlay))
        targets = ["table1"]
        run = snakemake(
            work,
            [
                *targets,
                "--cores",
                str(args.cores),
                "--configfile",
                "config/config.yaml",
                "config/presets/cifar10-paper.yaml",
                "cifar.yaml",
            ],
            200 * scale,
            out_dir / "cifar_snakemake.log",
        )
        devices = device_of_logs(work)
        table = next((work / "results/store/table1").glob("*/table1.csv"), None)
        pairs = [json.loads(p.read_text()) for p in (work / "results/store/pairs").glob("*/train-*.json")]
        summary["sections"]["cifar"] = {
            **run,
            "seconds_with_setup": round(time.perf_counter() - start, 1),
            "overlay": overlay,
            "model_logs": len(devices),
            "logs_without_device": [k for k, v in devices.items() if v is None],
            "all_on_device": bool(devices) and all((v or "").startswith(args.device) for v in devices.values()),
            "table1": table.read_text() if table else None,
            "pairs": pairs,
            "trainings": train_records(work),
        }
        with tarfile.open(out_dir / "cifar_logs.tar.gz", "w:gz") as tar:
            if (work / "results/logs").exists():
                tar.add(work / "results/logs", arcname="logs")
        save()
    if "calibrate" in sections and (work_root / "cifar/data/cifar-10-batches-py").is_dir():
        # diffattr.plan's calibration of the paper preset on this device (its batch sizes, the
        # behaviour's 1,000-image sampling batch), on the cifar section's synthetic data (so its
        # classifier epoch is of that data's size): what slurm_limits.calibration would read.
        work = work_root / "cifar"
        overlay = {
            "data": {"path": str(work / "data/cifar-10-batches-py")},
            "behaviour": {"inception_weights": str(work / "data/inception.pth")},
            "compute": {"device": args.device},
        }
        if args.quick:  # the paper's batches take minutes per step on a CPU: check the path only
            overlay["train_base"] = {"batch_size": 4}
            overlay["unlearn"] = {"batch_size": 4}
            overlay["behaviour"].update(n_samples=8, batch_size=8)
        (work / "calibrate.yaml").write_text(json.dumps(overlay))
        configs = ["config/config.yaml", "config/presets/cifar10-paper.yaml", "calibrate.yaml"]
        run = run_limited(
            [sys.executable, "-m", "diffattr.plan", "--calibrate-only", "--recalibrate", "--configfile", *configs],
            work,
            60 * scale,
            work / "calibrate.log",
            env={
                **os.environ,
                "PYTHONPATH": os.pathsep.join(filter(None, [str(work / "lib"), os.environ.get("PYTHONPATH")])),
            },
        )
        files = sorted((work / "results/.calibration").glob("*.json"))
        summary["sections"]["calibrate"] = {
            **run,
            "log": (work / "calibrate.log").read_text()[-2000:],
            "calibration": json.loads(files[-1].read_text()) if files else None,
        }
        save()
    summary["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    save()
    print(json.dumps({k: v for k, v in summary.items() if k != "tolerance"}, indent=1)[:6000])


if __name__ == "__main__":
    main()
