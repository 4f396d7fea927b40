"""Per-rule cluster resources from the config's `resources` section (runtime settings, not hashed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Resource names snakemake-executor-plugin-slurm reads; anything else in the config is an error.
KNOWN = {
    "threads",
    "runtime",
    "mem_mb",
    "gpu",
    "gpu_model",
    "gres",
    "constraint",
    "slurm_partition",
    "slurm_account",
    "qos",
    "slurm_extra",
    "tasks",
    "nodes",
}


# Cluster-wide choices a user sets per shell or per site without editing a file. The plugin always
# passes `-p <default partition>` when no slurm_partition resource is set, so sbatch's own
# SBATCH_PARTITION would be overridden; these become resources instead.
ENV_RESOURCES = {
    "DIFFATTR_SLURM_PARTITION": "slurm_partition",
    "DIFFATTR_SLURM_ACCOUNT": "slurm_account",
    "DIFFATTR_SLURM_QOS": "qos",
}


def env_resources(environ: Mapping[str, str]) -> dict[str, str]:
    """Resources named by the DIFFATTR_SLURM_* variables that are set and non-empty."""
    return {res: environ[var] for var, res in ENV_RESOURCES.items() if environ.get(var)}


def rule_resources(
    resources_cfg: Mapping[str, Mapping[str, Any]], rules: list[str], env: Mapping[str, Any] | None = None
) -> tuple[dict[str, int], dict[str, dict]]:
    """Threads and resources of each named rule. `env` (from env_resources) overrides
    resources.default but not a rule's own entry."""
    pairs = {name: one_rule_resources(resources_cfg, name, env) for name in rules}
    return {k: v[0] for k, v in pairs.items()}, {k: v[1] for k, v in pairs.items()}


def one_rule_resources(
    resources_cfg: Mapping[str, Mapping[str, Any]], rule: str, env: Mapping[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    """(threads, resources) for `rule`: its own entry over `env` over `default`. `cpus_per_task`
    follows the threads; `gpu: 0` and empty values are dropped so a CPU job never asks for a GPU."""
    merged = {**resources_cfg.get("default", {}), **(env or {}), **resources_cfg.get(rule, {})}
    unknown = set(merged) - KNOWN
    if unknown:
        raise ValueError(
            f"config key resources.{rule}: unknown resource {sorted(unknown)[0]!r}; known: {sorted(KNOWN)}"
        )
    threads = int(merged.pop("threads", 1))
    out = {k: v for k, v in merged.items() if v not in (None, "", 0)}
    out["cpus_per_task"] = threads
    return threads, out
