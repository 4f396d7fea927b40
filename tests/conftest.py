import copy
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COPY = ["Snakefile", "rules", "workflow", "config", "lib", "profiles", "envs", "report", "slurm"]
SMOKE = ["--configfile", "config/config.yaml", "config/presets/smoke.yaml"]
# The paper's DDPM forward process (config.yaml `scheduler`), for tests that build models directly.
SCHED = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["scheduler"]
# The default lasso grid (config.yaml datamodel.lasso_path), for tests that fit lasso directly.
LASSO_PATH = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["datamodel"]["lasso_path"]


def copy_workflow(dest: Path) -> Path:
    """A fresh copy of the workflow (no results) to run the snakemake CLI in."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPY:
        src = ROOT / name
        if src.is_symlink():
            (dest / name).symlink_to(src.readlink())
        elif src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, dest / name)
    return dest


@pytest.fixture
def config() -> dict:
    with open(ROOT / "config" / "config.yaml") as fh:
        return copy.deepcopy(yaml.safe_load(fh))


@pytest.fixture
def schema_path() -> Path:
    return ROOT / "config" / "schema.yaml"


def snakemake(workdir: Path, *args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def planned_jobs(workdir: Path, *args: str) -> dict[str, int]:
    out = snakemake(workdir, "-n", "--quiet", "rules", *args).stdout
    if "Nothing to be done" in out:
        return {}
    jobs, table = {}, False
    for line in out.splitlines():
        parts = line.split()
        if parts[:2] == ["job", "count"]:
            table = True
        elif table and len(parts) == 2 and parts[1].isdigit():
            if parts[0] == "total":
                break
            jobs[parts[0]] = int(parts[1])
    return jobs


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """The smoke preset run once, locally, through the CLI; shared by the tests that read it."""
    work = copy_workflow(tmp_path_factory.mktemp("workflow"))
    snakemake(work, "--cores", "2", *SMOKE)
    return work
