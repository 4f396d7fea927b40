"""`python -m diffattr.status`: the parsers on main logs captured from real runs (tests/data/status: a
local run of data + train_base, the same target failed by killing the training process, the same target
under the Slurm executor, a report's log), and a real run watched while it runs and after it ends."""

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from conftest import SMOKE, copy_workflow, planned_jobs

from diffattr import status
from diffattr.core import runlog

DATA = Path(__file__).parent / "data" / "status"


def workflow_dir(root: Path, log: str, *, locked: bool = False) -> Path:
    """A directory that looks like a workflow with `log` as its newest main log."""
    (root / "config").mkdir(parents=True)
    (root / "Snakefile").write_text("")
    (root / "config" / "config.yaml").write_text("")
    (root / ".snakemake" / "log").mkdir(parents=True)
    shutil.copy(DATA / log, root / ".snakemake" / "log" / "2026-12-03T083016.000000.snakemake.log")
    if locked:
        (root / ".snakemake" / "locks").mkdir()
        (root / ".snakemake" / "locks" / "0.input.lock").write_text("")
    return root


def test_a_finished_local_run():
    run = runlog.parse_main_log(DATA / "local_finished.snakemake.log")
    assert (run.done, run.total, run.ended) == (2, 2, True)
    assert run.planned == {"data": 1, "train_base": 1}
    assert {j.jobid: j.rule for j in run.jobs.values()} == {0: "train_base", 1: "data"}
    assert run.jobs[1].logs == ["results/logs/data/86197c2862ae.log"]
    assert run.jobs[0].logs == ["results/logs/train_base/c17270e35b5d.log"]
    # [08:30:17] localrule data ... [08:30:19] Finished jobid: 1; [08:30:19] train_base ... [08:31:15] Finished
    assert run.jobs[1].duration() == 2.0
    assert run.jobs[0].duration() == 56.0
    assert not any(j.running for j in run.jobs.values())


def test_a_failed_job_with_its_log(tmp_path, capsys):
    run = runlog.parse_main_log(DATA / "local_failed.snakemake.log")
    assert (run.done, run.total, run.ended) == (0, 1, True)
    job = run.jobs[0]
    assert job.failed is not None and job.finished is None
    assert job.logs == ["results/logs/train_base/955558e853d1.log"]
    work = workflow_dir(tmp_path / "wf", "local_failed.snakemake.log")
    assert status.main(["--directory", str(work), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["state"] == "failed" and got["running"] == [] and (got["done"], got["total"]) == (0, 1)
    [failed] = got["failed"]
    assert (failed["rule"], failed["log"]) == ("train_base", "results/logs/train_base/955558e853d1.log")
    status.main(["--directory", str(work)])
    text = capsys.readouterr().out
    assert "last run failed" in text and "results/logs/train_base/955558e853d1.log" in text


def test_a_slurm_run_names_the_slurm_jobs():
    run = runlog.parse_main_log(DATA / "slurm_finished.snakemake.log")
    assert (run.done, run.total, run.ended) == (2, 2, True)
    assert run.jobs[0].rule == "train_base" and run.jobs[0].slurm_jobid == "2"
    assert run.jobs[0].slurm_log.endswith(".snakemake/slurm_logs/rule_train_base/2.log")
    assert run.jobs[1].slurm_jobid == "1"
    assert run.jobs[0].duration() == 45.0


def test_a_running_job_from_a_log_cut_mid_run(tmp_path):
    """The finished run's log cut where train_base has started: the job runs, its step line gives step,
    steps/s and ETA (less the time since the log was written), and the estimate covers that ETA."""
    text = (DATA / "local_finished.snakemake.log").read_text()
    cut = text[: text.index("Finished jobid: 0")]
    work = workflow_dir(tmp_path / "wf", "local_finished.snakemake.log", locked=True)
    (work / ".snakemake" / "log" / "2026-12-03T083016.000000.snakemake.log").write_text(cut.rsplit("[", 1)[0])
    rule_log = work / "results/logs/train_base/c17270e35b5d.log"
    rule_log.parent.mkdir(parents=True)
    shutil.copy(DATA / "train_base.log", rule_log)
    written = time.time() - 6
    os.utime(rule_log, (written, written))
    got = status.gather(work, now=datetime(2026, 12, 3, 8, 30, 59))
    assert got["state"] == "running" and (got["done"], got["total"]) == (1, 2)
    [row] = got["running"]
    assert (row["rule"], row["jobid"], row["label"]) == ("train_base", 0, "train_base")
    assert (row["step"], row["steps"], row["steps_per_s"]) == (100, 300, 7.6)
    assert row["eta_s"] == pytest.approx(20, abs=1)  # "ETA 26s" written 6 s ago
    assert row["elapsed_s"] == 40.0  # started [08:30:19]
    assert got["slowest_stage"]["rule"] == "data" and got["slowest_stage"]["mean_s"] == 2.0
    est = got["estimate"]
    # busy 2 s (data) + 40 s (train_base) over 42 s of wall time: one job at a time
    assert est["parallelism"] == 1.0 and est["jobs_left"] == 1 and est["untimed_jobs"] == 0
    assert est["time_left_s"] == row["eta_s"]
    text = status.render(got)
    assert "Run in progress" in text and "step 100/300" in text and "Estimated time left: 20s" in text


def test_a_run_killed_mid_job(tmp_path):
    """The same cut log without a lock (Snakemake killed): no run in progress, the job listed as started
    and not finished at the step it reached, with no ETA or clock."""
    text = (DATA / "local_finished.snakemake.log").read_text()
    work = workflow_dir(tmp_path / "wf", "local_finished.snakemake.log")
    (work / ".snakemake/log/2026-12-03T083016.000000.snakemake.log").write_text(
        text[: text.index("Finished jobid: 0")].rsplit("[", 1)[0]
    )
    rule_log = work / "results/logs/train_base/c17270e35b5d.log"
    rule_log.parent.mkdir(parents=True)
    shutil.copy(DATA / "train_base.log", rule_log)
    got = status.gather(work)
    assert got["state"] == "interrupted" and got["running"] == [] and got["estimate"] is None
    [row] = got["unfinished"]
    assert (row["rule"], row["step"]) == ("train_base", 100) and "eta_s" not in row and "elapsed_s" not in row
    assert "stopped before it ended" in status.render(got)


def test_stages_not_yet_timed_count_at_the_mean_of_finished_jobs(tmp_path):
    """Cut after data finished and before train_base started: train_base has no finished job, so it is
    estimated at the mean duration of all finished jobs (data's 2 s) and said to be untimed."""
    text = (DATA / "local_finished.snakemake.log").read_text()
    work = workflow_dir(tmp_path / "wf", "local_finished.snakemake.log", locked=True)
    (work / ".snakemake/log/2026-12-03T083016.000000.snakemake.log").write_text(
        text[: text.index("localrule train_base")]
    )
    got = status.gather(work, now=datetime(2026, 12, 3, 8, 30, 19))
    assert got["state"] == "running" and got["running"] == [] and (got["done"], got["total"]) == (1, 2)
    est = got["estimate"]
    assert (est["jobs_left"], est["untimed_jobs"], est["untimed_job_s"], est["time_left_s"]) == (1, 1, 2.0, 2)
    assert "1 job(s) of stages not yet timed at 2s each" in status.render(got)


def test_nothing_to_do(tmp_path):
    work = workflow_dir(tmp_path / "wf", "nothing_to_do.snakemake.log")
    got = status.gather(work)
    assert got["state"] == "finished" and got["nothing_to_do"] and (got["done"], got["total"]) == (0, 0)
    assert got["started"] == "2026-12-03T08:39:40"
    assert "had nothing to do" in status.render(got)


def test_a_quiet_run_says_its_jobs_are_not_in_the_log(tmp_path):
    """`snakemake -q` logs no job blocks (captured: a default run that rebuilt its run view): status
    says why it cannot count jobs instead of "0 of 0"; the other logs are not taken for quiet."""
    got = status.gather(workflow_dir(tmp_path / "wf", "quiet.snakemake.log"))
    assert got["quiet"] and got["state"] == "finished" and (got["done"], got["total"]) == (0, 0)
    text = status.render(got)
    assert "started with --quiet (-q)" in text and "Jobs done: 0 of 0" not in text
    loud = status.gather(workflow_dir(tmp_path / "wf2", "local_finished.snakemake.log"))
    assert not loud["quiet"] and "Jobs done:" in status.render(loud)


def test_a_run_still_building_its_dag(tmp_path):
    """The finished run's log cut after its banner: starting while a Snakemake process works in the
    folder (no lock is taken before the DAG is built), stopped when none does."""
    text = (DATA / "local_finished.snakemake.log").read_text()
    work = workflow_dir(tmp_path / "wf", "local_finished.snakemake.log")
    cut = text[: text.index("Using shell")]
    (work / ".snakemake/log/2026-12-03T083016.000000.snakemake.log").write_text(cut)
    assert status.gather(work)["state"] == "stopped"
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "snakemake"], cwd=work)
    try:
        time.sleep(0.5)
        got = status.gather(work)
    finally:
        proc.kill()
        proc.wait()
    assert got["state"] == "starting" and got["started"] == "2026-12-03T08:30:16"
    assert "building its DAG" in status.render(got)


def test_a_report_log_is_not_taken_for_the_last_run(tmp_path):
    work = workflow_dir(tmp_path / "wf", "local_finished.snakemake.log")
    shutil.copy(DATA / "report.snakemake.log", work / ".snakemake/log/2026-12-03T090000.000000.snakemake.log")
    assert runlog.latest_run_log(work).name.startswith("2026-12-03T083016")


def test_step_lines():
    step = runlog.last_step(DATA / "train_base.log", now=0.0)
    assert (step.label, step.step, step.total, step.rate, step.eta) == ("train_base", 100, 300, 7.6, 26.0)
    assert runlog.last_step(DATA / "local_failed.snakemake.log") is None
    assert runlog.last_step(DATA / "no-such.log") is None


def test_one_line_when_there_is_nothing_to_report(tmp_path, capsys):
    assert status.main(["--directory", str(tmp_path)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "not a diffattr workflow directory" in out[0]
    work = workflow_dir(tmp_path / "wf", "report.snakemake.log")
    assert status.main(["--directory", str(work), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["state"] is None and "no Snakemake run log" in got["message"]


def read_status(work: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "diffattr.status", "--directory", str(work), "--json"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "lib")},
    )
    return json.loads(out.stdout)


def watch_run(work: Path, args: list[str], env: dict | None = None, timeout: float = 600) -> tuple[dict, dict, str]:
    """Start `snakemake ARGS` in `work`, poll the status CLI until a job is reported with a step and an ETA,
    then wait for the run to end; returns (the status while running, the status after, the run's output)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "snakemake", *args],
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    during, deadline = None, time.time() + timeout
    try:
        while proc.poll() is None and time.time() < deadline:
            got = read_status(work)
            if got["state"] == "running" and any(r.get("eta_s") is not None for r in got["running"]):
                during = got
                break
            time.sleep(1)
        output, _ = proc.communicate(timeout=max(1, deadline - time.time()))
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait()
    return during, read_status(work), output


@pytest.mark.integration
def test_a_real_run_while_it_runs_and_after(tmp_path):
    """The smoke preset's data and train_base with 400 training steps (about a minute on 2 cores): caught
    running with a step and an ETA, done/total as snakemake counts the jobs; afterwards all done."""
    work = copy_workflow(tmp_path / "wf")
    (work / "long.yaml").write_text("train_base:\n  steps: 400\n  log_every: 20\n")
    args = [*SMOKE, "long.yaml", "--", "train_base"]
    planned = planned_jobs(work, *args)
    assert planned == {"data": 1, "train_base": 1}
    during, after, output = watch_run(work, ["--cores", "2", *args])
    assert during is not None, f"never caught a job running with an ETA:\n{output[-3000:]}"
    assert during["total"] == sum(planned.values()) and 0 <= during["done"] < during["total"]
    [row] = during["running"]
    assert row["rule"] == "train_base" and row["steps"] == 400 and 0 < row["step"] <= 400
    assert row["log"].startswith("results/logs/train_base/")
    assert row["steps_per_s"] > 0 and row["eta_s"] >= 0
    assert during["estimate"]["time_left_s"] >= row["eta_s"]
    assert after["state"] == "finished" and after["done"] == after["total"] == sum(planned.values())
    assert after["running"] == [] and after["unfinished"] == [] and after["failed"] == []
    assert after["slowest_stage"]["rule"] == "train_base"
