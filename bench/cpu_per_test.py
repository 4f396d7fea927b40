"""A pytest plugin: each test's CPU seconds, its own process's and its finished children's (the
snakemake runs and jobs it starts), written to bench/out/cpu_per_test.json, heaviest first. Where the
suite's CPU goes, which `--durations` (wall seconds) cannot tell on 2 shared cores.

Usage, one test at a time (a child's CPU is counted once it has been waited for, so the background
smoke run's lands on the test running when it ends: the first test that reads it, waiting for it):
    PYTHONPATH=bench .venv/bin/python -m pytest -q -p cpu_per_test -p no:xdist tests
CPU_PER_TEST_OUT names another output file; CPU_PER_TEST_PART=nosmoke keeps the tests that read no
smoke run and run no Slurm job, =smoke only those (docs/results.md "Issue 23 item 5").
"""

from __future__ import annotations

import json
import os
import resource
import time
from pathlib import Path

import pytest

_ROWS: list[dict] = []


def _cpu() -> tuple[float, float]:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def _reads_smoke(item: pytest.Item) -> bool:
    return "smoke_run" in item.fixturenames or "slurm" in item.path.parts


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    part = os.environ.get("CPU_PER_TEST_PART")
    if part not in (None, "nosmoke", "smoke"):
        raise pytest.UsageError(f"CPU_PER_TEST_PART={part!r}: use nosmoke or smoke, or leave it unset")
    if part:
        keep = [item for item in items if _reads_smoke(item) == (part == "smoke")]
        config.hook.pytest_deselected(items=[item for item in items if item not in keep])
        items[:] = keep


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    own0, kids0 = _cpu()
    start = time.time()
    yield
    own1, kids1 = _cpu()
    _ROWS.append(
        {
            "test": item.nodeid,
            "wall_seconds": round(time.time() - start, 2),
            "cpu_seconds": round(own1 - own0 + kids1 - kids0, 2),
            "children_cpu_seconds": round(kids1 - kids0, 2),
        }
    )


def pytest_sessionfinish(session: pytest.Session) -> None:
    out = Path(os.environ.get("CPU_PER_TEST_OUT", Path(__file__).parent / "out" / "cpu_per_test.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = sorted(_ROWS, key=lambda r: -r["cpu_seconds"])
    total = {"tests": len(rows), "cpu_seconds": round(sum(r["cpu_seconds"] for r in rows), 1)}
    out.write_text(json.dumps({**total, "tests_by_cpu": rows}, indent=1) + "\n")
