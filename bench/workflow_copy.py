"""A fresh copy of this checkout's workflow (no results/), for benches that plan or run it elsewhere.
tests/conftest.py keeps its own copy_workflow: the test suite does not import from bench/."""

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPY = ["Snakefile", "rules", "workflow", "config", "lib", "profiles", "envs", "report", "slurm"]


def copy_workflow(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPY:
        src = ROOT / name
        if src.is_symlink():  # `slurm` links to profiles/slurm
            (dest / name).symlink_to(src.readlink())
        elif src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, dest / name)
    return dest
