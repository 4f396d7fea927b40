"""Common random numbers: how much noise does evaluation add to a behaviour, and how much does
sharing the initial noises across models remove from behaviour *differences*?

Reads a finished run (its manifest names the store paths), evaluates its pruned model and a few
unlearned ones under several noise seeds, and writes bench/out/common_noise.json:
- within_model_std: std of FID over noise seeds for one model (evaluation noise);
- across_model_std: std of FID over the run's unlearned models at the shared seed (the signal);
- diff_std_shared / diff_std_independent: std of FID(A) - FID(B) when A and B are sampled from the
  same noises vs from different noises, and their ratio.
Usage: python bench/common_noise.py [--run results/runs/default] [--seeds 8] [--models 4]
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np
import torch

from diffattr.core.atomic import read_json, write_json
from diffattr.evaluation.behaviour import extract_features, fid, load_statistics, make_extractor
from diffattr.modelling.models import ddim_scheduler, load_model
from diffattr.modelling.sampling import ddim_sample, to_uint8_rgb
from diffattr.workflow.layout import Layout, batch_members, in_batch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", default="results/runs/default")
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--models", type=int, default=4)
    ap.add_argument("--out", default="bench/out/common_noise.json")
    args = ap.parse_args()
    torch.set_num_threads(2)
    manifest = read_json(Path(args.run) / "manifest.json")
    stores = manifest["stores"]
    bspec = read_json(Path(stores["behaviour_unlearn"]) / "spec.json")["config"]["behaviour"]
    sched_cfg = read_json(Path(stores["train_base"]) / "spec.json")["config"]["scheduler"]
    classifier = Path(stores["classifier"]) / "classifier.pt"
    reference = load_statistics(Path(stores["reference"]) / "stats.npz")
    extractor = make_extractor(classifier)
    # The pruned model and a few unlearned ones (closely related models, as in a datamodel).
    layout = Layout(manifest["hashes"])
    unlearned = [Path(layout.path("prune", "model"))]
    batches = sorted(Path(stores["unlearn"]).glob("train-*-*"))
    unlearned += [in_batch(d, "unlearn", "model", sid) for d in batches for sid in batch_members(d, "unlearn")][
        : args.models
    ]
    across = [
        read_json(in_batch(d, "behaviour_unlearn", "behaviour", sid))["metrics"]["fid"]
        for d in sorted(Path(stores["behaviour_unlearn"]).glob("train-*-*"))
        for sid in batch_members(d, "behaviour_unlearn")
    ]
    start = time.perf_counter()
    table = np.zeros((len(unlearned), args.seeds))
    for i, path in enumerate(unlearned):
        model = load_model(path)
        for s in range(args.seeds):
            images = ddim_sample(
                model, ddim_scheduler(sched_cfg), bspec["n_samples"], bspec["ddim_steps"], 1000 + s, 500, bspec["eta"]
            )
            table[i, s] = fid(extract_features(extractor, to_uint8_rgb(images)), reference)
    # Per pair of models, the std over seeds of FID(A) - FID(B), averaged over pairs.
    shared, independent, pairs = [], [], []
    for a, b in itertools.combinations(range(len(unlearned)), 2):
        shared.append(np.std(table[a] - table[b], ddof=1))
        independent.append(np.std(table[a] - np.roll(table[b], 1), ddof=1))
        pairs.append(
            {
                "a": str(unlearned[a]),
                "b": str(unlearned[b]),
                "shared": shared[-1],
                "independent": independent[-1],
                "ratio": shared[-1] / independent[-1],
            }
        )
    out = {
        "models": [str(p) for p in unlearned],
        "seeds": args.seeds,
        "n_samples": bspec["n_samples"],
        "ddim_steps": bspec["ddim_steps"],
        "fid_table": table.tolist(),
        "within_model_std": float(table.std(axis=1, ddof=1).mean()),
        "across_model_std": float(np.std(across, ddof=1)),
        "n_models_across": len(across),
        "diff_std_shared": float(np.mean(shared)),
        "diff_std_independent": float(np.mean(independent)),
        "pairs": pairs,
        "seconds": time.perf_counter() - start,
    }
    out["diff_std_ratio_shared_over_independent"] = out["diff_std_shared"] / out["diff_std_independent"]
    out["signal_to_noise"] = out["across_model_std"] / out["within_model_std"]
    write_json(args.out, out)
    for pair in pairs:
        print(f"{Path(pair['a']).parent.name} vs {Path(pair['b']).parent.name}: ratio {pair['ratio']:.2f}")
    print(json.dumps({k: v for k, v in out.items() if k not in ("fid_table", "models", "pairs")}, indent=2))


if __name__ == "__main__":
    main()
