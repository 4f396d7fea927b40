"""One function per workflow stage: read inputs, call the library, write outputs atomically.

The Snakemake scripts only translate the `snakemake` object into these explicit arguments, so
every stage runs (and is tested) without Snakemake.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .atomic import read_json, write_json

PathLike = str | os.PathLike


def derived_seed(base: int, key: str) -> int:
    """A per-subset seed: independent across subsets, stable across runs and batchings."""
    return int.from_bytes(hashlib.sha256(f"{base}:{key}".encode()).digest()[:4], "little") & 0x7FFFFFFF


def write_spec(out_dir: PathLike, spec: Mapping[str, Any]) -> None:
    """Record beside the artifact exactly what was hashed into its path."""
    path = Path(out_dir) / "spec.json"
    write_json(path, dict(spec))


# ---------------------------------------------------------------- data, classifier, reference
def make_data(data_cfg: Mapping[str, Any], out_npz: PathLike, out_json: PathLike) -> dict:
    from .data import load_source, save_dataset

    ds = load_source(data_cfg)
    save_dataset(out_npz, ds)
    info = {"kind": data_cfg["kind"], "path": data_cfg.get("path") or None, "n": int(len(ds.images)), "shape": list(ds.images.shape[1:]),
            "classes": list(ds.class_names), "content_sha256": ds.content_hash}
    write_json(out_json, info)
    return info


def make_classifier(data_npz: PathLike, epochs: int, seed: int, holdout: float, out_pt: PathLike,
                    out_json: PathLike, logger: logging.Logger, compute=None) -> dict:
    from .classifier import save_classifier, train_classifier
    from .data import load_dataset

    ds = load_dataset(data_npz)
    start = time.perf_counter()
    model, info = train_classifier(ds.images, ds.labels, epochs, seed, holdout, logger, compute)
    info["train_seconds"] = time.perf_counter() - start
    save_classifier(model, out_pt)
    write_json(out_json, info)
    return info


def make_reference(data_npz: PathLike, classifier_pt: PathLike, out_npz: PathLike,
                   inception_weights: PathLike | None = None, compute=None) -> None:
    """Feature statistics of the training images, computed once and cached as an artifact."""
    import torch

    from .behaviour import extract_features, feature_statistics, make_extractor, save_statistics
    from .compute import CPU
    from .data import load_dataset
    from .sampling import to_uint8_rgb

    ds = load_dataset(data_npz)
    extractor = make_extractor(classifier_pt, inception_weights, (compute or CPU).device)
    feats = extract_features(extractor, to_uint8_rgb(torch.from_numpy(ds.images)))
    save_statistics(out_npz, feature_statistics(feats), feats.numpy(), ds.class_names)


# ---------------------------------------------------------------- training stages
def _train_and_save(model, images: np.ndarray, recipe_cfg: Mapping[str, Any], sched_cfg: Mapping[str, Any],
                    seed: int, out_model: PathLike, out_json: PathLike, logger: logging.Logger, label: str,
                    extra: Mapping[str, Any] | None = None, startup: float | None = None,
                    resume_path: PathLike | None = None, compute=None, out_raw: PathLike | None = None) -> dict:
    """Train `model` and save its EMA weights to `out_model` (what is sampled and evaluated) and,
    with `out_raw`, its raw weights (where unlearning starts, as in the authors' code)."""
    import torch

    from .models import count_params, ddpm_scheduler
    from .training import Recipe, train_ddpm

    recipe = Recipe.from_config(recipe_cfg, seed=seed)
    logger.info(f"{label}: {len(images)} images, {count_params(model)} params, {recipe}")
    ema_model, stats = train_ddpm(model, torch.from_numpy(images), recipe, ddpm_scheduler(sched_cfg), logger,
                                  log_every=int(recipe_cfg.get("log_every", 100)), label=label,
                                  resume_path=resume_path, checkpoint_every=int(recipe_cfg.get("checkpoint_every", 0)),
                                  compute=compute)
    if out_raw is not None:
        from .models import save_model

        save_model(model, out_raw)
    return _save_trained(ema_model, stats, seed, len(images), out_model, out_json, extra, startup)


def _save_trained(ema_model, stats: dict, seed: int, n_images: int, out_model: PathLike, out_json: PathLike,
                  extra: Mapping[str, Any] | None = None, startup: float | None = None) -> dict:
    from .models import count_params, save_model

    save_model(ema_model, out_model)
    stats = {**stats, "seed": seed, "n_images": int(n_images), "params": count_params(ema_model),
             "startup_seconds": startup, **(extra or {})}
    write_json(out_json, stats)
    return stats


def train_base(data_npz: PathLike, model_cfg: Mapping[str, Any], sched_cfg: Mapping[str, Any],
               recipe_cfg: Mapping[str, Any], out_dir: PathLike, out_json: PathLike,
               logger: logging.Logger, startup: float | None = None, resume_path: PathLike | None = None,
               compute=None) -> dict:
    import torch

    from .data import load_dataset
    from .models import build_unet

    ds = load_dataset(data_npz)
    torch.manual_seed(int(recipe_cfg["seed"]))  # weight initialisation
    model = build_unet(model_cfg, ds.images.shape[-1], ds.images.shape[1])
    return _train_and_save(model, ds.images, recipe_cfg, sched_cfg, int(recipe_cfg["seed"]), out_dir, out_json,
                           logger, "train_base", startup=startup, resume_path=resume_path, compute=compute)


def import_base(pretrained: PathLike, data_npz: PathLike, model_cfg: Mapping[str, Any], out_dir: PathLike,
                out_json: PathLike, logger: logging.Logger) -> dict:
    """Start from a pretrained UNet (base_model.path) instead of training one: checked, then copied
    into the store so every later stage reads it like a trained base model."""
    from .data import load_dataset
    from .models import count_params, import_pretrained_unet, save_model
    from .plan import dir_sha256

    ds = load_dataset(data_npz)
    model = import_pretrained_unet(pretrained, model_cfg, ds.images.shape[-1], ds.images.shape[1])
    save_model(model, out_dir)
    stats = {"steps": 0, "train_seconds": 0.0, "train_cpu_seconds": 0.0, "pretrained": str(pretrained),
             "pretrained_sha256": dir_sha256(pretrained), "params": count_params(model), "n_images": int(len(ds.images))}
    write_json(out_json, stats)
    logger.info(f"train_base: imported {pretrained} ({stats['params']} params) instead of training")
    return stats


def init_model(data_npz: PathLike, model_cfg: Mapping[str, Any], seed: int, out_dir: PathLike,
               out_json: PathLike) -> dict:
    """The model trained on nothing (train_base's initial weights): v(empty) for KernelSHAP."""
    import torch

    from .data import load_dataset
    from .models import build_unet, count_params, save_model

    ds = load_dataset(data_npz)
    torch.manual_seed(int(seed))  # the same initialisation as train_base
    model = build_unet(model_cfg, ds.images.shape[-1], ds.images.shape[1])
    save_model(model, out_dir)
    stats = {"steps": 0, "train_seconds": 0.0, "train_cpu_seconds": 0.0, "seed": int(seed), "n_images": 0,
             "params": count_params(model)}
    write_json(out_json, stats)
    return stats


def prune_and_finetune(base_dir: PathLike, data_npz: PathLike, ratio: float, importance_p: int,
                       finetune_cfg: Mapping[str, Any], sched_cfg: Mapping[str, Any], out_pt: PathLike,
                       out_json: PathLike, logger: logging.Logger, startup: float | None = None,
                       resume_path: PathLike | None = None, compute=None, out_raw: PathLike | None = None) -> dict:
    """Prune, fine-tune on all data, save the EMA weights (`out_pt`) and the raw ones (`out_raw`)."""
    from .data import load_dataset
    from .models import load_model
    from .pruning import macs_and_params, prune_unet

    ds = load_dataset(data_npz)
    model = load_model(base_dir)
    macs0, params0 = macs_and_params(model)
    model = prune_unet(model, ratio, importance_p)
    macs1, params1 = macs_and_params(model)
    logger.info(f"prune: params {params0} -> {params1} ({params1 / params0:.1%}), "
                f"MACs {macs0} -> {macs1} ({macs1 / macs0:.1%})")
    extra = {"ratio": ratio, "params_before": params0, "params_after": params1, "macs_before": macs0,
             "macs_after": macs1}
    return _train_and_save(model, ds.images, finetune_cfg, sched_cfg, int(finetune_cfg["seed"]), out_pt, out_json,
                           logger, "prune_finetune", extra=extra, startup=startup, resume_path=resume_path,
                           compute=compute, out_raw=out_raw)


def load_units(data_npz: PathLike, unit: str, reference_npz: PathLike | None = None,
               kmeans: Mapping[str, Any] | None = None, csv_path: str | None = None):
    """The attribution units of the data (k-means needs the reference features)."""
    from .data import load_dataset
    from .subsets import make_units

    ds = load_dataset(data_npz)
    features = np.load(reference_npz)["features"] if reference_npz else None
    return ds, make_units(ds.labels, ds.class_names, unit, features=features,
                          kmeans_k=int((kmeans or {}).get("k", 0)), kmeans_seed=int((kmeans or {}).get("seed", 0)),
                          csv_path=csv_path)


def subset_record(units, sid: str, family: str, index: int, unit: str, alpha: float, seed: int,
                  chosen: np.ndarray, redraws: int = 0) -> dict:
    return {"id": sid, "family": family, "index": index, "unit": unit, "alpha": alpha, "seed": seed,
            "n_units": len(units), "redraws": int(redraws), "unit_indices": [int(i) for i in chosen],
            "unit_ids": [units.ids[i] for i in chosen], "sample_indices": units.indices(chosen).tolist()}


def make_subsets(data_npz: PathLike, unit: str, alpha: float, seed: int, chunk: str, sids: Sequence[str],
                 out_json: PathLike, n_units: int, reference_npz: PathLike | None = None,
                 kmeans: Mapping[str, Any] | None = None, csv_path: str | None = None) -> dict:
    """Draw the subsets of one chunk (one file per chunk keeps the job count low at thousands of
    subsets); each is subset i of its family as `subsets.family_subsets` draws it, the same draw
    the workflow made at start-up over `n_units` units (checked against the data's units)."""
    import itertools

    from .subsets import family_subsets, parse_subset_id

    _, units = load_units(data_npz, unit, reference_npz, kmeans, csv_path)
    if len(units) != n_units:
        raise ValueError(f"attribution.unit {unit}: the data has {len(units)} units but {n_units} were counted at "
                         "start-up (the subsets were planned on those); rerun the workflow from the start")
    wanted = [parse_subset_id(sid) for sid in sids]
    drawn = {}
    for family in dict.fromkeys(f for f, _ in wanted):
        # Subset i depends on the family's earlier subsets (redraws), so draw the family's prefix.
        last = max(i for f, i in wanted if f == family)
        drawn[family] = list(itertools.islice(family_subsets(len(units), alpha, seed, family), last + 1))
        if len(drawn[family]) <= last:
            raise ValueError(f"{family}-{last:04d}: only {len(drawn[family])} {family} subsets exist")
    subsets = {}
    for sid, (family, index) in zip(sids, wanted):
        chosen, redraws = drawn[family][index]
        subsets[sid] = subset_record(units, sid, family, index, unit, alpha, seed, chosen, redraws)
    info = {"chunk": chunk, "subsets": subsets}
    write_json(out_json, info)
    return info


def read_subsets(chunk_jsons: Sequence[PathLike] | PathLike) -> dict[str, dict]:
    """Subset id -> subset record, from one or several chunk files."""
    paths = [chunk_jsons] if isinstance(chunk_jsons, (str, Path)) else list(chunk_jsons)
    out: dict[str, dict] = {}
    for p in paths:
        out.update(read_json(p)["subsets"])
    return out


def unlearn_batch(pruned_pt: PathLike, data_npz: PathLike, chunk_json: PathLike,
                  unlearn_cfg: Mapping[str, Any], sched_cfg: Mapping[str, Any], out_dir: PathLike,
                  logger: logging.Logger, startup: float | None = None, compute=None, concurrent: int = 1,
                  mode: str = "streams") -> dict:
    """Sparsified unlearning of several subsets in one process; one checkpoint per subset id.

    With `concurrent` > 1, that many subsets train at once; a small pruned model leaves most of a GPU
    idle between kernel launches. `mode` says how:
    - "streams": each subset in its own thread and, on a GPU, its own CUDA stream. Every subset keeps
      its own seed and generator, so its model is the one the sequential run gives (bit-identical on
      the CPU; on a GPU up to its usual nondeterminism).
    - "vmap": the subsets' models stacked and trained as one with torch.func
      (`batched_training.train_ddpm_batched`): one kernel launch serves them all. Same seeds and
      draws; the models equal the sequential ones up to floating-point rounding.
    Models trained at once are each charged an equal share of their group's wall and CPU time
    (`train_seconds`; the wall a model saw while sharing is kept as `shared_wall_seconds`), so the
    per-model cost and Table 1's speed-up do not count the sharing k times."""
    from concurrent.futures import ThreadPoolExecutor

    from .atomic import atomic_dir
    from .compute import CPU
    from .data import load_dataset
    from .models import load_model

    if mode not in ("streams", "vmap"):
        raise ValueError(f"unlearn.concurrent_mode: {mode!r}; use 'streams' or 'vmap'")
    compute = compute or CPU
    job_start = time.perf_counter()
    ds = load_dataset(data_npz)
    subsets = list(read_subsets(chunk_json).values())

    def images_of(sub: dict) -> np.ndarray:
        return ds.images[np.asarray(sub["sample_indices"], dtype=np.int64)]

    def seed_of(sub: dict) -> int:
        return derived_seed(int(unlearn_cfg["seed"]), sub["id"])

    def one(sub: dict, tmp: Path) -> float:
        import torch

        model = load_model(pruned_pt)
        model.requires_grad_(True)
        sid = sub["id"]
        stream = torch.cuda.Stream(compute.device) if compute.is_cuda and concurrent > 1 else None
        with torch.cuda.stream(stream) if stream is not None else contextlib.nullcontext():
            stats = _train_and_save(model, images_of(sub), unlearn_cfg, sched_cfg, seed_of(sub),
                                    tmp / sid / "model.pt", tmp / sid / "train.json", logger, f"unlearn {sid}",
                                    compute=compute)
        return stats["train_seconds"]

    def stacked(group: list[dict], tmp: Path) -> list[float]:
        import torch

        from .batched_training import train_ddpm_batched
        from .models import ddpm_scheduler
        from .training import Recipe

        recipes = [Recipe.from_config(unlearn_cfg, seed=seed_of(sub)) for sub in group]
        ids = ", ".join(sub["id"] for sub in group)
        logger.info(f"unlearn {ids}: stacked with torch.func, {recipes[0]}")
        trained = train_ddpm_batched(load_model(pruned_pt), [torch.from_numpy(images_of(sub)) for sub in group],
                                     recipes, ddpm_scheduler(sched_cfg), logger,
                                     log_every=int(unlearn_cfg.get("log_every", 100)), label=f"unlearn {ids}",
                                     compute=compute)
        for sub, recipe, (ema_model, stats) in zip(group, recipes, trained):
            _save_trained(ema_model, stats, recipe.seed, len(sub["sample_indices"]), tmp / sub["id"] / "model.pt",
                          tmp / sub["id"] / "train.json")
        return [stats["train_seconds"] for _, stats in trained]

    with atomic_dir(out_dir) as tmp:
        if concurrent > 1 and len(subsets) > 1 and mode == "vmap":
            seconds = [s for i in range(0, len(subsets), concurrent) for s in stacked(subsets[i:i + concurrent], tmp)]
        elif concurrent > 1 and len(subsets) > 1:
            group_start, cpu_start = time.perf_counter(), time.process_time()
            with ThreadPoolExecutor(max_workers=concurrent) as pool:
                list(pool.map(lambda sub: one(sub, tmp), subsets))
            seconds = _charge_shares([tmp / sub["id"] / "train.json" for sub in subsets],
                                     time.perf_counter() - group_start, time.process_time() - cpu_start)
        else:
            seconds = [one(sub, tmp) for sub in subsets]
        per_subset = {sub["id"]: s for sub, s in zip(subsets, seconds)}
        job = {"subsets": list(per_subset), "train_seconds": per_subset, "startup_seconds": startup,
               "concurrent": int(concurrent), "concurrent_mode": mode,
               "job_seconds": time.perf_counter() - job_start + (startup or 0.0)}
        if startup is not None:
            job["startup_share"] = startup / job["job_seconds"]
            logger.info(f"unlearn job: start-up {startup:.1f}s of {job['job_seconds']:.1f}s "
                        f"({job['startup_share']:.1%})")
        write_json(tmp / "job.json", job)
    return job


def _charge_shares(train_jsons: Sequence[PathLike], wall: float, cpu: float) -> list[float]:
    """Charge each of n models trained side by side wall / n and cpu / n (their own timers each saw
    the whole shared stretch); rewrites their train.json, returns the shares."""
    share = wall / len(train_jsons)
    for path in train_jsons:
        stats = read_json(path)
        write_json(path, {**stats, "shared_wall_seconds": stats["train_seconds"], "train_seconds": share,
                          "train_cpu_seconds": cpu / len(train_jsons)})
    return [share] * len(train_jsons)


def retrain(data_npz: PathLike, chunk_json: PathLike, sid: str, model_cfg: Mapping[str, Any], sched_cfg: Mapping[str, Any],
            recipe_cfg: Mapping[str, Any], retrain_seed: int, out_dir: PathLike, out_json: PathLike,
            logger: logging.Logger, startup: float | None = None, resume_path: PathLike | None = None,
            compute=None) -> dict:
    """Train from scratch on S_k with the base recipe: the ground truth the LDS is measured against."""
    import torch

    from .data import load_dataset
    from .models import build_unet

    ds = load_dataset(data_npz)
    sub = read_subsets(chunk_json)[sid]
    seed = derived_seed(retrain_seed, sub["id"])
    torch.manual_seed(seed)
    model = build_unet(model_cfg, ds.images.shape[-1], ds.images.shape[1])
    images = ds.images[np.asarray(sub["sample_indices"], dtype=np.int64)]
    return _train_and_save(model, images, recipe_cfg, sched_cfg, seed, out_dir, out_json, logger,
                           f"retrain {sub['id']}", startup=startup, resume_path=resume_path, compute=compute)


# ---------------------------------------------------------------- behaviour
def inception_path(behaviour_cfg: Mapping[str, Any]) -> str | None:
    """The local Inception weights when behaviour.features is inception, else None (classifier)."""
    if behaviour_cfg.get("features", "classifier") == "inception":
        return behaviour_cfg.get("inception_weights") or None
    return None


class Evaluator:
    """Samples a model from the shared initial noises and computes every configured behaviour.
    Built once per job, so a batch of models pays for the extractor and reference only once."""

    def __init__(self, classifier_pt: PathLike, reference_npz: PathLike, sched_cfg: Mapping[str, Any],
                 behaviour_cfg: Mapping[str, Any], compute=None):
        from .behaviour import load_statistics, make_extractor
        from .compute import CPU
        from .models import ddim_scheduler

        self.compute = compute or CPU
        self.extractor = make_extractor(classifier_pt, inception_path(behaviour_cfg), self.compute.device)
        self.reference = load_statistics(reference_npz)
        self.scheduler = ddim_scheduler(sched_cfg)
        self.cfg = dict(behaviour_cfg)

    def __call__(self, model_path: PathLike, train_json: PathLike, source: str, subset: str,
                 startup: float | None = None) -> dict:
        from .behaviour import compute_metrics, extract
        from .metrics import LOWER_IS_BETTER
        from .models import load_model
        from .sampling import ddim_sample, to_uint8_rgb

        cfg = self.cfg
        start, cpu_start = time.perf_counter(), time.process_time()
        model = load_model(model_path)
        images = ddim_sample(model, self.scheduler, int(cfg["n_samples"]), int(cfg["ddim_steps"]), int(cfg["seed"]),
                             int(cfg["batch_size"]), float(cfg["eta"]), self.compute)
        sample_seconds = time.perf_counter() - start
        feats, logits, class_logits = extract(self.extractor, to_uint8_rgb(images))
        values = compute_metrics(list(cfg["metrics"]), feats, logits, self.reference, cfg.get("share_class"),
                                 int(cfg["seed"]), int(cfg.get("kid_subsets", 100)), class_logits)
        trained = read_json(train_json)
        return {"source": source, "subset": subset, "metrics": values,
                "lower_is_better": {m: LOWER_IS_BETTER[m] for m in values},
                "n_samples": int(cfg["n_samples"]), "noise_seed": int(cfg["seed"]),
                "ddim_steps": int(cfg["ddim_steps"]), "eta": float(cfg["eta"]),
                "train_seconds": trained.get("train_seconds"), "train_steps": trained.get("steps"),
                "train_cpu_seconds": trained.get("train_cpu_seconds"),
                "sample_seconds": sample_seconds, "eval_seconds": time.perf_counter() - start,
                "eval_cpu_seconds": time.process_time() - cpu_start,
                "startup_seconds": startup}


def evaluate_model(model_path: PathLike, train_json: PathLike, classifier_pt: PathLike, reference_npz: PathLike,
                   sched_cfg: Mapping[str, Any], behaviour_cfg: Mapping[str, Any], source: str, subset: str,
                   out_json: PathLike, startup: float | None = None, compute=None) -> dict:
    """One model's behaviour JSON."""
    out = Evaluator(classifier_pt, reference_npz, sched_cfg, behaviour_cfg, compute)(model_path, train_json, source, subset,
                                                                           startup)
    write_json(out_json, out)
    return out


def evaluate_batch(batch_dir: PathLike, classifier_pt: PathLike, reference_npz: PathLike,
                   sched_cfg: Mapping[str, Any], behaviour_cfg: Mapping[str, Any], source: str, out_dir: PathLike,
                   logger: logging.Logger, startup: float | None = None, compute=None) -> dict:
    """Behaviour of every model in an unlearning batch folder: <out_dir>/<subset>.json each, plus
    job.json with the start-up share (one job per batch keeps the job count and start-up low)."""
    from .atomic import atomic_dir

    job_start = time.perf_counter()
    evaluate = Evaluator(classifier_pt, reference_npz, sched_cfg, behaviour_cfg, compute)
    sids = read_json(Path(batch_dir) / "job.json")["subsets"]
    with atomic_dir(out_dir) as tmp:
        for sid in sids:
            out = evaluate(Path(batch_dir) / sid / "model.pt", Path(batch_dir) / sid / "train.json", source, sid)
            write_json(tmp / f"{sid}.json", out)
            logger.info(f"{source} {sid}: {out['metrics']} in {out['eval_seconds']:.1f}s")
        job = {"subsets": sids, "startup_seconds": startup, "job_seconds": time.perf_counter() - job_start + (startup or 0.0)}
        if startup is not None:
            job["startup_share"] = startup / job["job_seconds"]
        write_json(tmp / "job.json", job)
    return job


def subset_rows(subsets: Mapping[str, dict], behaviours: Mapping[str, Sequence[PathLike]]) -> list[tuple[str, dict, str]]:
    """Pair each behaviour JSON (named <subset>.json) with its subset record: (source, subset, behaviour)."""
    rows = []
    for source, paths in behaviours.items():
        for p in paths:
            sid = Path(p).stem
            if sid not in subsets:
                raise ValueError(f"{p}: no subset record for {sid!r}")
            rows.append((source, subsets[sid], str(p)))
    return rows


def with_empty(subsets: Mapping[str, dict]) -> dict[str, dict]:
    """Add the record of the empty set (the untrained model's row) to subset records."""
    any_sub = next(iter(subsets.values()))
    empty = {**any_sub, "id": "empty", "family": "empty", "index": 0, "redraws": 0, "unit_indices": [],
             "unit_ids": [], "sample_indices": []}
    return {**subsets, "empty": empty}


def batch_behaviours(batch_dirs: Sequence[PathLike], subset_ids: Sequence[str]) -> list[str]:
    """The behaviour JSON of each wanted subset inside the per-batch behaviour folders (a subset
    excluded from the matrix may share a batch with included ones)."""
    found = {p.stem: str(p) for d in batch_dirs for p in Path(d).glob("*.json") if p.name != "job.json"}
    missing = [s for s in subset_ids if s not in found]
    if missing:
        raise ValueError(f"no behaviour JSON for {missing[:5]} in {list(batch_dirs)[:2]}...; rerun the workflow")
    return [found[s] for s in subset_ids]


# ---------------------------------------------------------------- Table 1 and the report
def generate(model_path: PathLike, sched_cfg: Mapping[str, Any], behaviour_cfg: Mapping[str, Any], n: int,
             compute=None):
    """n images in [-1, 1] from the shared initial noises of behaviour.seed, on `compute`'s device."""
    from .models import ddim_scheduler, load_model
    from .sampling import ddim_sample

    return ddim_sample(load_model(model_path), ddim_scheduler(sched_cfg), n, int(behaviour_cfg["ddim_steps"]),
                       int(behaviour_cfg["seed"]), int(behaviour_cfg["batch_size"]), float(behaviour_cfg["eta"]),
                       compute)


def pair_fids(unlearned: PathLike, retrained: PathLike, floor: PathLike, classifier_pt: PathLike,
              sched_cfg: Mapping[str, Any], behaviour_cfg: Mapping[str, Any], sid: str, out_json: PathLike,
              compute=None) -> dict:
    """FID2 between the unlearned and the retrained model of one subset, and its floor: FID between
    two retrainings of that subset with different seeds. All from the same initial noises."""
    from torch_fidelity.metric_fid import fid_statistics_to_metric

    from .behaviour import extract_features, feature_statistics, make_extractor
    from .compute import CPU
    from .sampling import to_uint8_rgb

    start = time.perf_counter()
    compute = compute or CPU
    extractor = make_extractor(classifier_pt, inception_path(behaviour_cfg), compute.device)
    n = int(behaviour_cfg["n_samples"])

    def stats_of(path: PathLike) -> dict:
        images = generate(path, sched_cfg, behaviour_cfg, n, compute)
        return feature_statistics(extract_features(extractor, to_uint8_rgb(images)))

    stats = {name: stats_of(path) for name, path in (("unlearn", unlearned), ("retrain", retrained), ("floor", floor))}

    def dist(a: str, b: str) -> float:
        return float(fid_statistics_to_metric(stats[a], stats[b], verbose=False)["frechet_inception_distance"])

    out = {"subset": sid, "unlearn_vs_retrain": dist("unlearn", "retrain"), "retrain_vs_retrain": dist("retrain", "floor"),
           "n_samples": n, "noise_seed": int(behaviour_cfg["seed"]), "device": str(compute.device),
           "seconds": time.perf_counter() - start}
    write_json(out_json, out)
    return out


def sample_grid(model_path: PathLike, sched_cfg: Mapping[str, Any], behaviour_cfg: Mapping[str, Any], n: int,
                title: str, out_png: PathLike, compute=None) -> None:
    """The first n images of the behaviour samples (image j from the same initial noise as image j of
    every model's evaluation), so the grids compare image by image."""
    from .figures import image_grid

    images = generate(model_path, sched_cfg, {**behaviour_cfg, "batch_size": max(n, 1)}, n, compute)
    image_grid(((images.permute(0, 2, 3, 1) + 1) * 127.5).round().clamp(0, 255).byte().numpy(), out_png, title)
