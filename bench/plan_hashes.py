"""Every stage's hash under the default config and the presets, to check a refactor changes no artifact.

Writes JSON {config name: {stage: hash}} (default bench/out/plan_hashes.json); with --compare OLD, exits
non-zero naming every stage whose hash differs from OLD's (or that one plan has and the other lacks).
The configs are merged as snakemake merges --configfile files (later ones win, key by key) and checked
by config.validate_config as at start-up. Usage: python bench/plan_hashes.py [--out F] [--compare OLD]
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

from diffattr.workflow.addressing import build_plan  # noqa: E402
from diffattr.workflow.config import validate_config  # noqa: E402

CONFIGS = {
    "default": [],
    "smoke": ["smoke.yaml"],
    "baselines": ["baselines.yaml"],
    "smoke+baselines": ["smoke.yaml", "baselines.yaml"],
    "baselines-sample": ["baselines-sample.yaml"],
}


def _merge(base: dict, over: dict) -> None:
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


def plan_hashes() -> dict[str, dict[str, str]]:
    out = {}
    for name, presets in CONFIGS.items():
        config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
        for preset in presets:
            _merge(config, yaml.safe_load((ROOT / "config/presets" / preset).read_text()))
        validate_config(config, ROOT / "config/schema.yaml")
        out[name] = build_plan(config).hashes
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "bench/out/plan_hashes.json"))
    ap.add_argument("--compare", help="an earlier output of this script")
    args = ap.parse_args()
    now = plan_hashes()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
    if args.compare:
        old = json.loads(Path(args.compare).read_text())
        diff = [
            f"{name}: {stage} {old[name].get(stage)} -> {now[name].get(stage)}"
            for name in old
            for stage in sorted(set(old[name]) | set(now.get(name, {})))
            if old[name].get(stage) != now.get(name, {}).get(stage)
        ]
        print("\n".join(diff) or f"all {sum(map(len, now.values()))} stage hashes unchanged")
        sys.exit(1 if diff else 0)


if __name__ == "__main__":
    main()
