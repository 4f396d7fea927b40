"""The Slurm profile against the pinned snakemake-executor-plugin-slurm: every plugin setting the profile
sets is one the plugin reads, and the account handling is what the profile's comment says, with the
resources our rules get. No cluster needed: the plugin's Slurm commands are replaced by recorders."""

import ast
import dataclasses
import logging
import subprocess
from pathlib import Path

import snakemake_executor_plugin_slurm as plugin
import yaml
from snakemake.iocontainers import ResourceList

from diffattr.core.resources import env_resources, rule_resources

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "profiles" / "slurm" / "config.yaml"


def _attributes_read(package_dir: Path) -> set[str]:
    """Every `x.name` in the plugin's modules: a setting nobody reads as `settings.name` is dead."""
    names = set()
    for path in package_dir.glob("*.py"):
        names |= {n.attr for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Attribute)}
    return names


def test_profile_sets_only_plugin_settings_the_plugin_reads():
    profile = yaml.safe_load(PROFILE.read_text())
    declared = {f.name for f in dataclasses.fields(plugin.ExecutorSettings)}
    read = _attributes_read(Path(plugin.__file__).parent)
    settings = [key for key in profile if key.startswith("slurm-")]
    assert settings, "the profile sets no plugin settings; the test would check nothing"
    for key in settings:
        field = key.removeprefix("slurm-").replace("-", "_")
        assert field in declared, f"{PROFILE.name}: {key} is not a setting of the plugin"
        assert field in read, f"{PROFILE.name}: {key} is declared by the plugin but never read: it does nothing"


class _SlurmCommands:
    """Stands in for subprocess.check_output in the plugin: records each command and answers as a
    single-node cluster without slurmdbd does (measured on tests/slurm's cluster, Slurm 22.05)."""

    def __init__(self, sshare_accounts: str = "") -> None:
        self.calls: list[list[str]] = []
        self.sshare_accounts = sshare_accounts

    def __call__(self, cmd, **kwargs):
        self.calls.append(list(cmd))
        if cmd[0] == "sacct":
            # `| tail -1` reaches sacct as arguments; sacct rejects `-1` before contacting anything.
            raise subprocess.CalledProcessError(1, cmd, stderr="sacct: invalid option -- '1'\n")
        if cmd[0] == "sacctmgr":
            raise subprocess.CalledProcessError(
                1, cmd, stderr="You are not running a supported accounting_storage plugin\n"
            )
        if cmd[0] == "sshare":
            return self.sshare_accounts
        raise AssertionError(f"unexpected command {cmd}")


def _account_args(resources_of: dict[str, dict], monkeypatch, commands: _SlurmCommands) -> dict[str, str]:
    """The `-A` part of the sbatch call the plugin builds for each rule's resources."""
    monkeypatch.setattr(plugin.accounts.subprocess, "check_output", commands)
    executor = plugin.Executor.__new__(plugin.Executor)  # get_account_arg needs only these two
    executor.logger = logging.getLogger("slurm-plugin-test")
    executor._fallback_account_arg = None

    class Job:
        def __init__(self, res: dict) -> None:
            self.resources = ResourceList(fromdict=res)

    return {rule: next(executor.get_account_arg(Job(res))) for rule, res in resources_of.items()}


def test_a_configured_account_reaches_sbatch_without_a_guess(config, monkeypatch, caplog):
    """DIFFATTR_SLURM_ACCOUNT (and a rule's own slurm_account) becomes `-A`; sacct is never called."""
    config["resources"]["retrain"] = {**config["resources"].get("retrain", {}), "slurm_account": "long-lab"}
    _, resources_of = rule_resources(
        config["resources"], ["unlearn", "retrain"], env_resources({"DIFFATTR_SLURM_ACCOUNT": "lab"})
    )
    commands = _SlurmCommands(sshare_accounts="lab\nlong-lab\n")
    with caplog.at_level(logging.INFO):
        args = _account_args(resources_of, monkeypatch, commands)
    assert args == {"unlearn": " -A lab", "retrain": " -A long-lab"}
    assert [c[0] for c in commands.calls] == ["sacctmgr", "sshare"] * 2
    assert "trying to guess" not in caplog.text


def test_without_an_account_the_plugin_guesses_with_sacct_and_submits_without_one(config, monkeypatch, caplog):
    """What the profile's comment says happens when no account is set (the plugin has no switch against it)."""
    _, resources_of = rule_resources(config["resources"], ["unlearn", "retrain"], env_resources({}))
    assert not any("slurm_account" in res for res in resources_of.values())
    commands = _SlurmCommands()
    with caplog.at_level(logging.INFO):
        args = _account_args(resources_of, monkeypatch, commands)
    assert args == {"unlearn": "", "retrain": ""}
    # One guess for the whole run, a single sacct call with the pipe as its arguments.
    assert len(commands.calls) == 1 and commands.calls[0][0] == "sacct" and "|" in commands.calls[0]
    assert "No SLURM account given, trying to guess." in caplog.text
    assert "Unable to guess SLURM account. Trying to proceed without." in caplog.text
