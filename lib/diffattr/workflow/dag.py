"""The jobs a run still needs, from Snakemake's own DAG (its Python API, as `snakemake -n` builds it),
and a list schedule of them on a number of slots (cores, or Slurm jobs at once)."""

from __future__ import annotations

import heapq
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Job:
    id: int
    rule: str
    wildcards: dict[str, str]
    threads: int
    resources: dict[str, Any]
    deps: list[int] = field(default_factory=list)
    # added for a checkpoint that has not run yet (its output decides them): an upper bound
    pending: bool = False


@dataclass
class Dag:
    jobs: list[Job]
    config: dict
    globals: Mapping[str, Any]


@contextmanager
def _cwd(path: Path) -> Iterator[None]:
    old = os.getcwd()
    try:
        yield
    finally:
        os.chdir(old)


def rerun_triggers(workdir: Path) -> set | None:
    """The rerun triggers of the local profile (profiles/default, which `snakemake` run from the
    workflow's root picks up), so the plan counts as finished what a run would not redo."""
    import yaml
    from snakemake.settings.types import RerunTrigger

    profile = workdir / "profiles" / "default" / "config.yaml"
    names = (yaml.safe_load(profile.read_text()) or {}).get("rerun-triggers") if profile.is_file() else None
    return {RerunTrigger[str(n).upper().replace("-", "_")] for n in names} if names else None


def needed_jobs(workdir: str | os.PathLike, configfiles: Sequence[str], cores: int) -> Dag:
    """The jobs of the workflow in `workdir` that Snakemake would run (finished outputs excluded), with
    their dependencies among themselves. Raises ValueError with Snakemake's message on a bad config."""
    from snakemake.api import SnakemakeApi
    from snakemake.exceptions import WorkflowError
    from snakemake.settings.types import (
        ConfigSettings,
        DAGSettings,
        OutputSettings,
        Quietness,
        ResourceSettings,
        StorageSettings,
    )

    work = Path(workdir).resolve()
    with _cwd(work):
        try:
            with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
                wf_api = api.workflow(
                    resource_settings=ResourceSettings(cores=cores),
                    config_settings=ConfigSettings(configfiles=[work / f for f in configfiles]),
                    storage_settings=StorageSettings(),
                    snakefile=work / "Snakefile",
                    workdir=work,
                )
                wf = wf_api._workflow
                # what DAGApi.printdag does before printing: the DAG of a dry run, without a lock
                triggers = rerun_triggers(work)
                wf.dag_settings = DAGSettings(**({"rerun_triggers": triggers} if triggers else {}))
                wf._prepare_dag(forceall=False, ignore_incomplete=True, lock_warn_only=True, nolock=True)
                wf._build_dag()
                needed = list(wf.dag.needrun_jobs())
                ids = {job: i for i, job in enumerate(needed)}
                jobs = [
                    Job(
                        id=ids[job],
                        rule=job.rule.name,
                        wildcards={k: str(v) for k, v in job.wildcards.items()},
                        threads=int(job.threads),
                        resources={k: v for k, v in job.resources.items() if not k.startswith("_")},
                        deps=sorted(ids[d] for d in wf.dag.dependencies[job] if d in ids),
                    )
                    for job in needed
                ]
                return Dag(jobs=jobs, config=dict(wf.config), globals=dict(wf.globals))
        except WorkflowError as exc:
            raise ValueError(str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)) from None


def schedule(jobs: Sequence[Job], seconds: Callable[[Job], float], slots: int, width: Callable[[Job], int]) -> float:
    """Wall seconds of running `jobs` on `slots` slots, each job taking width(job) of them once its
    dependencies are done; ready jobs start longest-remaining-path first (a list schedule, as a
    greedy scheduler runs them)."""
    by_id = {j.id: j for j in jobs}
    children: dict[int, list[int]] = {j.id: [] for j in jobs}
    for j in jobs:
        for d in j.deps:
            children[d].append(j.id)
    # longest path from each job to the end, itself included
    rank: dict[int, float] = {}
    for jid in reversed(_topological(jobs, children)):
        rank[jid] = seconds(by_id[jid]) + max((rank[c] for c in children[jid]), default=0.0)
    waiting = {j.id: len(j.deps) for j in jobs}
    ready = [(-rank[j.id], j.id) for j in jobs if not j.deps]
    heapq.heapify(ready)
    running: list[tuple[float, int]] = []
    now, free = 0.0, slots
    while ready or running:
        blocked = []
        while ready:
            item = heapq.heappop(ready)
            need = min(width(by_id[item[1]]), slots)
            if need <= free:
                free -= need
                heapq.heappush(running, (now + seconds(by_id[item[1]]), item[1]))
            else:
                blocked.append(item)
        for item in blocked:
            heapq.heappush(ready, item)
        now, done = heapq.heappop(running)
        free += min(width(by_id[done]), slots)
        for c in children[done]:
            waiting[c] -= 1
            if waiting[c] == 0:
                heapq.heappush(ready, (-rank[c], c))
    return now


def _topological(jobs: Sequence[Job], children: Mapping[int, list[int]]) -> list[int]:
    indeg = {j.id: len(j.deps) for j in jobs}
    order, stack = [], [j.id for j in jobs if not j.deps]
    while stack:
        jid = stack.pop()
        order.append(jid)
        for c in children[jid]:
            indeg[c] -= 1
            if indeg[c] == 0:
                stack.append(c)
    return order
