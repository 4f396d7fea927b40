"""Every problem of a config before any job, all at once, one line each naming the key (and for the
unit CSV the file and line) and the fix: through validate_config and through `snakemake -n`."""

import subprocess
import sys

from conftest import ROOT


def test_missing_prints_its_usage():
    proc = subprocess.run(
        [sys.executable, "-m", "diffattr.missing", "--help"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "lib"), "PATH": ""},
    )
    assert proc.returncode == 0 and proc.stdout.startswith("usage: python -m diffattr.missing")
