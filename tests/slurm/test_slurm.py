"""The smoke preset on a real single-node Slurm through `--profile slurm`, compared with a local run: the local
run's store without one unlearning batch, one retraining and one counterfactual retraining is completed on Slurm."""

import json
import logging
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from cluster import Cluster, missing_binaries
from conftest import SMOKE, copy_workflow, remove_for_rerun, snakemake
from limits_check import TRAINERS, expected, requested_in_log, time_limits, write_stated

from diffattr.core.runlog import JOB_HEAD
from diffattr.missing import load_configs
from diffattr.workflow.calibration import calibration_key

# One xdist group: the test cluster binds the machine's ports, so the Slurm tests run on one worker.
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("slurm")]
# The plugin deletes a successful job's Slurm log; the tests read them for the rules each job ran.
KEEP_LOGS = ["--slurm-keep-successful-logs"]
# The first status check a second after a submission, not the profile's 5 s (the plugin adds 10 s per
# check that finds nothing finished and starts over after one that does): the smoke jobs take seconds,
# and with 5 s an analysis job that computes for 1 to 3 s took about 20 s as a Slurm job. The
# profile's key itself is checked against the pinned plugin by test_slurm_profile.py.
FAST_CHECKS = ["--slurm-init-seconds-before-status-checks", "1"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    missing = missing_binaries()
    if missing:
        if os.environ.get("DIFFATTR_NO_APT"):
            pytest.skip(f"Slurm tests skipped: {os.environ['DIFFATTR_NO_APT']}")
        if os.environ.get("CI"):
            pytest.fail(f"Slurm binaries missing in CI: {missing}; .ci/run installs slurm-wlm and munge")
        pytest.skip(f"Slurm not installed ({', '.join(missing)} missing): apt-get install slurm-wlm munge")
    # Eight one-CPU job slots on the machine's two cores: the smoke jobs' wall is mostly start-up and
    # waiting for the executor's next status check, not compute.
    c = Cluster(tmp_path_factory.mktemp("slurm"), cpus=8, mem=16000)
    try:
        c.start()
    except Exception:
        c.stop()
        raise
    yield c
    c.stop()


def stated_limits(work: Path, key: dict | None = None) -> str:
    """An overlay naming a stated calibration (limits_check.STATED) for the jobs' Slurm limits, so no
    run calibrates this machine and every job's limit is known in advance; `key`: the key the file
    says it was timed under."""
    stated = write_stated(work / "stated-calibration.json", key)
    (work / "limits.yaml").write_text(f"slurm_limits:\n  calibration: {stated}\n")
    return "limits.yaml"


def _behaviours(root: Path) -> dict[str, float]:
    return {
        str(p.relative_to(root)): json.loads(p.read_text())["metrics"]["fid"]
        for p in (root / "results/store/behaviour").rglob("*.json")
        if p.name not in ("spec.json", "job.json")
    }


def _slurm_rules(root: Path) -> set[str]:
    """The rules that ran inside Slurm jobs, from the jobs' own logs (their job headers, as status reads them)."""
    lines = (line for p in (root / ".snakemake/slurm_logs").rglob("*.log") for line in p.read_text().splitlines())
    return {m.group(1) for line in lines if (m := JOB_HEAD.match(line))}


def _store_paths(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in (root / "results/store").glob("*/*")}


def test_profile_resolves_from_the_root():
    root = Path(__file__).resolve().parents[2]
    assert (root / "slurm").is_symlink() and (root / "slurm" / "config.yaml").exists()


def test_the_plugins_account_handling_on_the_cluster(cluster, caplog):
    """What profiles/slurm/config.yaml says about accounts, with the cluster's real sacct, sacctmgr and
    sshare: without an account the plugin's sacct guess fails and it submits without -A; a given
    account passes its check (no slurmdbd: sacctmgr fails, sshare lists nothing) and becomes -A."""
    import snakemake_executor_plugin_slurm as plugin
    from snakemake.iocontainers import ResourceList

    class Job:
        def __init__(self, res: dict) -> None:
            self.resources = ResourceList(fromdict=res)

    executor = plugin.Executor.__new__(plugin.Executor)  # get_account_arg needs only these two
    executor.logger = logging.getLogger("slurm-plugin-test")
    executor._fallback_account_arg = None
    with caplog.at_level(logging.INFO):
        assert next(executor.get_account_arg(Job({"slurm_partition": "ci"}))) == ""
    assert "Unable to guess SLURM account. Trying to proceed without." in caplog.text
    assert next(executor.get_account_arg(Job({"slurm_account": "diffattr-ci"}))) == " -A diffattr-ci"


def test_smoke_on_slurm_matches_local_run(cluster, smoke_run, tmp_path):
    """The local smoke run's store without one unlearning batch, one retraining and one counterfactual
    retraining is completed on Slurm: the job group (an unlearning batch with its behaviours), the
    retrainings and their evaluation batches, and the cluster rules downstream of them (the analysis, the
    counterfactual checkpoint) run as Slurm jobs, and the run gives the local run's store and values."""
    work = copy_workflow(tmp_path / "wf")
    shutil.copytree(smoke_run / "results", work / "results", symlinks=True)
    # With the local run's metadata (its input checksums), a rerun analysis job whose output is
    # unchanged (the counterfactual plan) does not re-run the jobs after it.
    shutil.copytree(smoke_run / ".snakemake/metadata", work / ".snakemake/metadata")
    # One baseline's job (pixel, the cheapest) stands for the rule: the others' scores stay, so their
    # gradient jobs (a minute of CPU each) do not run again; baseline_images runs in the upstream test.
    leaves = ("init", "samples", "pairs")
    remove_for_rerun(
        work,
        batches=("loo-0006-0009",),
        retrained=("test-0000",),
        counterfactual=True,
        floor=("test-0000",),
        leaves=leaves,
        baselines=("pixel",),
    )
    # Only the logs the Slurm jobs write are checked for their partition and account.
    shutil.rmtree(work / "results/logs/retrain")
    start = time.time()
    # Partition and account come from the environment (the cluster's default partition is `debug`).
    env = {"DIFFATTR_SLURM_PARTITION": "ci", "DIFFATTR_SLURM_ACCOUNT": "diffattr-ci"}
    limits = stated_limits(work)
    args = ["--profile", "slurm", "-j", "8", *SMOKE, limits, *KEEP_LOGS, *FAST_CHECKS]
    proc = snakemake(work, *args, check=False, env=env)
    if proc.returncode != 0:
        logs = "\n".join(p.read_text()[-2000:] for p in (work / ".snakemake/slurm_logs").rglob("*.log"))
        raise AssertionError(
            f"slurm run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}\n{logs}\n{cluster.logs()}"
        )
    out = proc.stdout + proc.stderr
    assert "submitted with SLURM jobid" in out
    # Both groups ran as Slurm jobs, and so did every rule the removal reran (each Slurm job's log
    # holds the rules it ran), but the local rules (subsets, summary, run_view).
    submitted = set(re.findall(r"slurm_logs/(\w+)/\d+\.log", out))
    assert "group_unlearn_behaviour_unlearn_unlearn" in submitted, submitted
    rules = {"unlearn", "behaviour_unlearn", "retrain", "retrain_floor", "retrain_cf", "behaviour", "init"}
    rules |= {"behaviour_retrained"}
    rules |= {"samples", "pairs", "baselines", "matrix", "datamodel", "lds", "estimators"}
    rules |= {"budget", "table1", "figures", "cf_plan", "counterfactual"}
    assert rules <= _slurm_rules(work), sorted(rules - _slurm_rules(work))
    # Every job asked Slurm for the limits derived from its forecast (slurm_limits): a retraining's
    # from its steps, the others the floors; each Slurm job slurmctld still lists got the sum over
    # the rules it ran (a group job's).
    config = load_configs([str(work / f) for f in [*SMOKE[1:], limits]])
    asked = requested_in_log(out)
    assert {rule for rule, _, _ in asked} >= {"retrain", "unlearn", "behaviour", "lds"}, asked
    for rule, wildcards, got in asked:
        assert got == expected(config, rule, wildcards), (rule, wildcards, got)
    floor = config["slurm_limits"]["floor_minutes"]
    assert any(rule in TRAINERS and got["runtime"] > floor for rule, _, got in asked)
    listed = time_limits(work / ".snakemake/slurm_logs")
    assert listed, "slurmctld lists none of the run's jobs"
    for job, (minutes, ran) in listed.items():
        assert minutes == sum(expected(config, rule, w)["runtime"] for rule, w in ran), (job, ran)
    # The configured account was used, so the plugin did not guess one (with sacct).
    assert "No SLURM account given" not in out and "Guessed SLURM account" not in out
    assert _store_paths(work) == _store_paths(smoke_run)
    logs = [p.read_text() for p in (work / "results/logs/retrain").rglob("*.log")]
    assert logs and all("partition ci account diffattr-ci " in text for text in logs)
    local, remote = _behaviours(smoke_run), _behaviours(work)
    assert local.keys() == remote.keys()
    redone = {key for key in remote if (work / key).stat().st_mtime >= start}
    assert sum("/loo-0006-0009/" in key for key in redone) == 4, sorted(redone)
    assert any(key.endswith("/test-0000.json") for key in redone), sorted(redone)
    assert any(key.split("/")[-1].startswith("cf-") for key in redone), sorted(redone)
    assert sum(key.endswith("/test-0000.json") for key in redone) == 2, sorted(redone)  # retrain and its floor
    # A lost retraining re-evaluates its batch: the other models of its subsets chunk too.
    assert sum(key.endswith("/test-0001.json") for key in redone) == 2, sorted(redone)
    assert any(key.endswith("/empty.json") for key in redone), sorted(redone)
    scores = {
        p.parent.name: p.stat().st_mtime >= start for p in (work / "results/store/baselines").glob("*/*/scores.json")
    }
    assert scores == {"pixel": True, "trak": False, "dtrak": False, "feature": False}, scores
    for key, value in local.items():
        assert remote[key] == pytest.approx(value, rel=1e-6, abs=1e-6), key
    assert json.loads((work / "results/runs/smoke/lds.json").read_text())["lds"] == pytest.approx(
        json.loads((smoke_run / "results/runs/smoke/lds.json").read_text())["lds"]
    )
    shutil.rmtree(work / "results")


def test_the_upstream_rules_on_slurm_match_the_local_run(cluster, smoke_run, tmp_path):
    """The rules the completed store above does not rerun (data, classifier, reference, train_base,
    prune, baseline_images), each as a Slurm job from an empty store: the local run's store folders
    and values."""
    work = copy_workflow(tmp_path / "wf")
    env = {"DIFFATTR_SLURM_PARTITION": "ci", "DIFFATTR_SLURM_ACCOUNT": "diffattr-ci"}
    upstream = ["data", "classifier", "reference", "train_base", "prune", "baseline_images"]
    # A stated calibration timed for another config (10,000 samples a model) is named in the run's log.
    key = json.loads(json.dumps(calibration_key(load_configs([str(work / f) for f in SMOKE[1:]]), 1)))
    key["evaluation"]["n_samples"] = 10_000
    # Rule names as targets (these rules have no wildcards); `--until` stalls on the checkpoint.
    args = ["--profile", "slurm", "-j", "8", *SMOKE, stated_limits(work, key), *KEEP_LOGS, *FAST_CHECKS]
    args += ["--", "prune", "reference", "baseline_images"]
    proc = snakemake(work, *args, check=False, env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{out[-4000:]}\n{cluster.logs()}"
    warned = [line for line in out.splitlines() if "stated-calibration.json was written by" in line]
    assert warned and "its evaluation differ" in warned[0] and "--calibrate-only --configfile" in warned[0], out[-3000:]
    assert set(upstream) <= _slurm_rules(work), out[-3000:]
    for stage in upstream:
        assert {p.name for p in (work / "results/store" / stage).iterdir()} == {
            p.name for p in (smoke_run / "results/store" / stage).iterdir()
        }, stage
    [local] = (smoke_run / "results/store/reference").glob("*/stats.npz")
    [remote] = (work / "results/store/reference").glob("*/stats.npz")
    with np.load(local) as a, np.load(remote) as b:
        assert a.files == b.files
        for name in a.files:
            if a[name].dtype.kind in "fiu":
                np.testing.assert_allclose(b[name], a[name], rtol=1e-5, atol=1e-6, err_msg=name)
            else:
                np.testing.assert_array_equal(b[name], a[name], err_msg=name)
    # The images the baselines score against: sampled from the base model's shared noises.
    local, remote = (next((r / "results/store/baseline_images").glob("*/images.npz")) for r in (smoke_run, work))
    with np.load(local) as a, np.load(remote) as b:
        np.testing.assert_allclose(b["images"], a["images"], rtol=1e-5, atol=1e-5)
    ours, theirs = (
        json.loads(next((r / "results/store/prune").glob("*/train.json")).read_text()) for r in (work, smoke_run)
    )
    assert [ours[k] for k in ("params_after", "macs_after", "steps")] == [
        theirs[k] for k in ("params_after", "macs_after", "steps")
    ]
    assert ours["final_loss"] == pytest.approx(theirs["final_loss"], rel=1e-4)
    shutil.rmtree(work / "results")


def test_status_follows_a_slurm_run(cluster, tmp_path):
    """`python -m diffattr.status` on a run under the Slurm executor: the smoke preset's train_base with 400
    steps, caught running with its Slurm job id, step and ETA; afterwards every job done."""
    from test_status import watch_run

    work = copy_workflow(tmp_path / "wf")
    (work / "long.yaml").write_text("train_base:\n  steps: 400\n  log_every: 20\n")
    env = {"DIFFATTR_SLURM_PARTITION": "ci", "DIFFATTR_SLURM_ACCOUNT": "diffattr-ci"}
    args = ["--profile", "slurm", "-j", "2", *SMOKE, "long.yaml", stated_limits(work), *FAST_CHECKS, "--", "train_base"]
    during, after, output = watch_run(work, args, env=env)
    assert during is not None, f"never caught a job running with an ETA:\n{output[-3000:]}\n{cluster.logs()}"
    assert during["total"] == 2 and during["done"] < 2
    [row] = during["running"]
    assert row["rule"] == "train_base" and row["steps"] == 400 and row["slurm_jobid"].isdigit()
    assert row["slurm_log"].endswith(f"/{row['slurm_jobid']}.log")
    assert after["state"] == "finished" and after["done"] == after["total"] == 2 and after["running"] == []
