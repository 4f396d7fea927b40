"""`diffattr`, snakemake's command line with dotted --config keys (lib/diffattr/cli.py)."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import SMOKE, copy_workflow

from diffattr.cli import UsageError, dotted_overlay, snakemake_args, split_args


def overlay_of(args: list[str], cwd: Path) -> dict:
    files = args[args.index("--configfile") + 1 :]
    files = files[: next((i for i, a in enumerate(files) if a.startswith("-")), len(files))]
    return yaml.safe_load((cwd / files[-1]).read_text())


def test_dotted_entries_become_a_typed_overlay_after_every_configfile(tmp_path):
    argv = ["-n", "--configfile", "config/config.yaml", "--config", "subsets.alpha=0.3", "unlearn.steps=7"]
    argv += ["--configfile", "over.yaml", "--config=compute.tf32=true", "-C", "datamodel.estimators=[ridge, loo]"]
    args = snakemake_args(argv, cwd=tmp_path)
    files = args[args.index("--configfile") + 1 :]
    # Both --configfile flags kept (argparse alone keeps the last), the overlay last so it wins.
    assert files[:2] == ["config/config.yaml", "over.yaml"] and len(files) == 3
    assert overlay_of(args, tmp_path) == {
        "subsets": {"alpha": 0.3},
        "unlearn": {"steps": 7},
        "compute": {"tf32": True},
        "datamodel": {"estimators": ["ridge", "loo"]},
    }
    assert "--config" not in args and args[0] == "-n"


def test_plain_entries_and_other_arguments_pass_through_unchanged(tmp_path):
    argv = ["--cores", "2", "--config", "run_name=mine", "--directory", "wf", "all"]
    rest, entries, files, directory = split_args(argv)
    assert (rest, entries, files, directory) == (
        ["--cores", "2", "--directory", "wf", "all"],
        ["run_name=mine"],
        [],
        "wf",
    )
    assert snakemake_args(argv, cwd=tmp_path) == [
        "--cores",
        "2",
        "--directory",
        "wf",
        "all",
        "--config",
        "run_name=mine",
    ]
    assert not (tmp_path / ".snakemake").exists() and not (tmp_path / "wf").exists()  # no dotted key: no overlay
    # As in snakemake, the words after --config up to the next option are config entries.
    with pytest.raises(UsageError, match="'all' is not key=value"):
        snakemake_args(["--config", "run_name=mine", "all"], cwd=tmp_path)


def test_the_overlay_lands_in_the_directory_snakemake_runs_in(tmp_path):
    args = snakemake_args(["--directory", "wf", "--config", "unlearn.steps=9"], cwd=tmp_path)
    path = Path(args[args.index("--configfile") + 1])
    assert path.parts[:3] == ("wf", ".snakemake", "diffattr")
    assert yaml.safe_load((tmp_path / path).read_text()) == {"unlearn": {"steps": 9}}
    # Named by content: the same values give the same file, other values another one.
    assert snakemake_args(["--directory", "wf", "--config", "unlearn.steps=9"], cwd=tmp_path) == args
    other = snakemake_args(["--directory", "wf", "--config", "unlearn.steps=8"], cwd=tmp_path)
    assert other != args and yaml.safe_load((tmp_path / path).read_text()) == {"unlearn": {"steps": 9}}


def test_every_malformed_entry_is_named_at_once():
    with pytest.raises(UsageError) as err:
        dotted_overlay(["subsets", "subsets..alpha=1", "a.b=1", "a.b.c=2", "x.y=[1,"])
    lines = str(err.value).splitlines()
    assert len(lines) == 4
    assert "'subsets' is not key=value" in lines[0]
    assert "'subsets..alpha'" in lines[1] and "not a key name" in lines[1]
    assert "'a.b.c'" in lines[2] and "a value and keys at once" in lines[2]
    assert "'x.y'" in lines[3] and "not a YAML value" in lines[3]


def run_cli(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "diffattr.cli", *args], cwd=workdir, capture_output=True, text=True)


def test_a_dotted_config_value_reaches_the_workflows_checks(tmp_path):
    wf = copy_workflow(tmp_path / "wf")
    # Snakemake's own parser refuses the dotted key before the workflow runs (why the command exists).
    plain = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--config", "subsets.alpha=1.5"],
        cwd=wf,
        capture_output=True,
        text=True,
    )
    assert plain.returncode != 0 and "Invalid config definition" in plain.stdout + plain.stderr
    # Through diffattr both values arrive typed, after the smoke preset, and every problem is named.
    bad = run_cli(wf, "-n", *SMOKE, "--config", "subsets.alpha=1.5", "unlearn.steps=0")
    out = bad.stdout + bad.stderr
    assert bad.returncode != 0
    assert "config key subsets.alpha: 1.5 is greater than or equal to the maximum of 1" in out
    assert "config key unlearn.steps: 0 is less than the minimum of 1" in out
    assert "Invalid config definition" not in out and "as strings" not in out
    good = run_cli(wf, "-n", "--quiet", "rules", *SMOKE, "--config", "unlearn.steps=7")
    assert good.returncode == 0, good.stderr[-2000:]
    usage = run_cli(wf, "-n", "--config", "unlearn.steps")
    assert usage.returncode == 2 and usage.stderr.strip().startswith("diffattr: --config entry 'unlearn.steps'")
    assert "Traceback" not in usage.stderr
