"""Two stores of the same config, file by file: did a change leave every computation's output as it was?

For each file both stores hold (by its path under results/store, which names the config it came from):
- `identical`: the same bytes (every model's weights, behaviours, attributions, LDS, ... when nothing
  that computes them changed);
- `timing_only`: a JSON whose values differ only under timing keys (seconds, start-up, steps/s: they
  differ on every run), an HDF5 file whose datasets differ only in `train_seconds`, a benchmark TSV, or
  a torch `.pt` file whose tensors are equal (its archive may carry another name);
- `differs`: anything else, with the first differing place (a JSON key path, an HDF5 dataset). Files
  computed from timings (the budget's curve and figure, Table 1's minutes and speed-up, the summary
  page) land here on every rerun: read them against their inputs' timing-only differences.
A file a layout change moved inside its stage's folder (the same folder, hash and file name, one of
its kind on each side) is compared with its new place and counted as `moved` too. Files only one
store holds are listed. Logs are skipped. Writes JSON (default
bench/out/store_compare.json) and prints the counts; exits 1 when a file outside `--expect-differ`
differs or is missing.

Usage: python bench/store_compare.py BEFORE/results/store AFTER/results/store
           [--expect-differ budget/ table1/ summary/] [--out F]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from machine import commit  # bench/machine.py: bench/ is on sys.path when a bench script runs

# JSON keys whose values are timings of the run that wrote them, never results.
TIMING_KEY = re.compile(
    r"(^|_)(seconds|startup|startup_share|steps_per_second|images_per_second|job_seconds|wall|cpu)(_|$)"
)
# Derived from timings: they move with the machine's load on every rerun.
DEFAULT_EXPECT_DIFFER = ("budget/", "table1/", "summary/", "runs/")


def json_difference(a: Any, b: Any, path: str = "") -> str | None:
    """The first place where `a` and `b` differ outside timing keys (None: only timings differ)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            if TIMING_KEY.search(str(key)):
                continue
            if key not in a or key not in b:
                return f"{path}/{key} (in one only)"
            found = json_difference(a[key], b[key], f"{path}/{key}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path} (length {len(a)} vs {len(b)})"
        for i, (x, y) in enumerate(zip(a, b)):
            found = json_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if a == b else f"{path}: {str(a)[:60]} vs {str(b)[:60]}"


def h5_difference(a: Path, b: Path) -> str | None:
    import h5py
    import numpy as np

    def datasets(f) -> dict:
        out: dict = {}
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
        return out

    with h5py.File(a) as fa, h5py.File(b) as fb:
        da, db = datasets(fa), datasets(fb)
    for name in sorted(set(da) | set(db)):
        if name.split("/")[-1] == "train_seconds":
            continue
        if name not in da or name not in db:
            return f"{name} (in one only)"
        x, y = np.asarray(da[name]), np.asarray(db[name])
        equal = x.shape == y.shape and (
            np.array_equal(x, y, equal_nan=True) if x.dtype.kind in "fc" else np.array_equal(x, y)
        )
        if not equal:
            return name
    return None


def torch_difference(a: Path, b: Path) -> str | None:
    import torch

    def flat(obj, prefix=""):
        if isinstance(obj, torch.nn.Module):
            obj = obj.state_dict()
        if isinstance(obj, dict):
            for k, v in obj.items():
                yield from flat(v, f"{prefix}/{k}")
        else:
            yield prefix, obj

    ta = dict(flat(torch.load(a, map_location="cpu", weights_only=False)))
    tb = dict(flat(torch.load(b, map_location="cpu", weights_only=False)))
    for key in sorted(set(ta) | set(tb)):
        x, y = ta.get(key), tb.get(key)
        same = torch.equal(x, y) if isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor) else x == y
        if not same:
            return key or "(value)"
    return None


def difference(a: Path, b: Path, rel: str) -> str | None:
    """Where two versions of the file `rel` differ outside timings (None: only timings differ)."""
    if rel.endswith("benchmark.tsv") or (rel.endswith(".tsv") and Path(rel).parent.name == "benchmarks"):
        return None
    if rel.endswith(".json"):
        return json_difference(json.loads(a.read_text()), json.loads(b.read_text()))
    if rel.endswith(".h5"):
        return h5_difference(a, b)
    if rel.endswith(".pt"):
        return torch_difference(a, b)
    return "bytes"


def moved(only_before: set[str], only_after: set[str]) -> dict[str, str]:
    """Files that a layout change moved inside their stage's folder: a file only BEFORE holds and one
    only AFTER holds with the same store folder, hash folder and file name, each the only one of its
    kind on its side (e.g. behaviour/<hash>/test-0000.json -> behaviour/<hash>/<batch>/test-0000.json),
    or one that a batch folder now holds at the same place below it."""

    def key(rel: str) -> tuple[str, ...]:
        parts = Path(rel).parts
        return (*parts[:2], parts[-1])

    def unique(rels: set[str]) -> dict[tuple[str, ...], str]:
        seen: dict[tuple[str, ...], list[str]] = {}
        for rel in rels:
            seen.setdefault(key(rel), []).append(rel)
        return {k: v[0] for k, v in seen.items() if len(v) == 1}

    a, b = unique(only_before), unique(only_after)
    out = {a[k]: b[k] for k in sorted(set(a) & set(b)) if Path(a[k]).name not in ("job.json", "spec.json")}
    # a file that a batch folder now holds: <folder>/<hash>/<rest> -> <folder>/<hash>/<batch>/<rest>
    # (e.g. retrain/<hash>/test-0000/model/... -> retrain/<hash>/test-0000-0003.<digest>/test-0000/model/...)
    taken = set(out.values())
    deeper = {
        str(Path(*Path(rel).parts[:2], *Path(rel).parts[3:])): rel for rel in only_after if len(Path(rel).parts) > 3
    }
    out |= {
        rel: deeper[rel] for rel in sorted(only_before) if rel not in out and rel in deeper and deeper[rel] not in taken
    }
    return out


def compare(before: Path, after: Path) -> dict:
    files = {
        side: {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.suffix != ".log"}
        for side, root in (("before", before), ("after", after))
    }
    out: dict = {"identical": [], "timing_only": [], "differs": {}}
    only_before, only_after = files["before"] - files["after"], files["after"] - files["before"]
    pairs = moved(only_before, only_after)
    out["moved"] = pairs
    for rel_a, rel_b in sorted([(r, r) for r in files["before"] & files["after"]] + list(pairs.items())):
        a, b = before / rel_a, after / rel_b
        label = rel_b if rel_a == rel_b else f"{rel_a} -> {rel_b}"
        if a.read_bytes() == b.read_bytes():
            out["identical"].append(label)
            continue
        where = difference(a, b, rel_b)
        if where is None:
            out["timing_only"].append(label)
        else:
            out["differs"][label] = where
    out["only_before"] = sorted(only_before - set(pairs))
    out["only_after"] = sorted(only_after - set(pairs.values()))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--expect-differ", nargs="*", default=list(DEFAULT_EXPECT_DIFFER))
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "out/store_compare.json"))
    args = ap.parse_args()
    result = compare(args.before, args.after)
    unexpected = {k: v for k, v in result["differs"].items() if not k.startswith(tuple(args.expect_differ))}
    summary = {
        "before": str(args.before),
        "after": str(args.after),
        "commit": commit(),
        "identical": len(result["identical"]),
        "timing_only": len(result["timing_only"]),
        "differs_expected": len(result["differs"]) - len(unexpected),
        "differs_unexpected": unexpected,
        "moved": len(result["moved"]),
        "only_before": len(result["only_before"]),
        "only_after": len(result["only_after"]),
        "only_examples": (result["only_before"] + result["only_after"])[:10],
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({**summary, "files": result}, indent=1))
    print(json.dumps(summary, indent=1))
    sys.exit(1 if unexpected or result["only_before"] or result["only_after"] else 0)


if __name__ == "__main__":
    main()
