"""Content addressing: a stage's hash covers exactly the config that determines it and its inputs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

HASH_LENGTH = 12


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace, so equal configs hash equally."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def stage_spec(stage: str, version: str, config: Mapping[str, Any], upstream: Mapping[str, str]) -> dict:
    """What is hashed for one stage; also written beside the artifact as spec.json."""
    return {"stage": stage, "version": version, "config": dict(config), "upstream": dict(upstream)}


def spec_hash(spec: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()[:HASH_LENGTH]


def stage_hash(stage: str, version: str, config: Mapping[str, Any], upstream: Mapping[str, str]) -> str:
    """Hash of (stage name, stage version, its config keys, its inputs' hashes)."""
    return spec_hash(stage_spec(stage, version, config, upstream))


def select(config: Mapping[str, Any], keys: Sequence[str]) -> dict:
    """The sub-config a stage depends on: top-level sections or dotted keys."""
    out: dict = {}
    for key in keys:
        node: Any = config
        for part in key.split("."):
            node = node[part]
        out[key] = node
    return out


def derived_seed(base: int, key: str) -> int:
    """A per-subset seed: independent across subsets, stable across runs and batchings."""
    return int.from_bytes(hashlib.sha256(f"{base}:{key}".encode()).digest()[:4], "little") & 0x7FFFFFFF
