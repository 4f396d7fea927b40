"""compute.preload (diffattr.core.preload): a job handed over to the preloaded process runs forked from
it, with the job's own descriptors, directory, environment and exit status; signals reach it; it dies
with its job's process; where no server answers, the job runs in its own process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT

from diffattr.core import handover, preload
from diffattr.core.procstat import stat_fields

LIB = ROOT / "lib"
# A job's script as Snakemake runs it: `snakemake` defined, hand_over before the heavy imports.
JOB = """
import os, sys, time
sys.path.insert(0, {lib!r})
snakemake = {{"rule": "probe"}}
from diffattr.core.handover import hand_over, in_fork
if not in_fork():
    time.sleep(float(os.environ.get("BEFORE", "0")))
hand_over(snakemake, __file__)
from diffattr.core.progress import process_age_seconds
import random, tempfile
import numpy  # its BLAS: loaded in the server, and here in a job of its own
from threadpoolctl import threadpool_info
blas = max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")
print(f"fork={{in_fork()}} pid={{os.getpid()}} cwd={{os.getcwd()}} env={{os.environ.get('PROBE')}} "
      f"rule={{snakemake['rule']}} age={{process_age_seconds():.2f}} torch={{'torch' in sys.modules}} "
      f"blas={{blas}} tmp={{tempfile.gettempdir()}} draw={{random.random()}}", flush=True)
print("to stderr", file=sys.stderr, flush=True)
time.sleep(float(os.environ.get("HOLD", "0")))
sys.exit(int(os.environ.get("CODE", "0")))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc, path = preload.start_server(LIB)
    deadline = time.time() + 120
    while not os.path.exists(path):
        assert proc.poll() is None, "the preload server exited before it listened"
        assert time.time() < deadline, "the preload server did not listen within 120 s"
        time.sleep(0.1)
    yield path
    preload.stop_server(proc, path)
    assert proc.returncode is not None and not os.path.exists(os.path.dirname(path))


def job(tmp_path: Path, socket_path: str | None, **env: str) -> subprocess.Popen:
    script = tmp_path / "job.py"
    script.write_text(JOB.format(lib=str(LIB)))
    full = {k: v for k, v in os.environ.items() if k != handover.PRELOAD_ENV}
    full.update(env, PROBE="seen")
    if socket_path:
        full[handover.PRELOAD_ENV] = socket_path
    return subprocess.Popen(
        [sys.executable, str(script)], cwd=tmp_path, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def fields(out: str) -> dict[str, str]:
    return dict(f.split("=", 1) for f in out.split())


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a fork the server has not reaped yet is a zombie: dead for this purpose
    return stat_fields(pid)[0] != "Z"


def test_a_handed_over_job_runs_forked_with_its_own_streams_directory_environment_and_status(server, tmp_path):
    proc = job(tmp_path, server, CODE="3")
    out, err = proc.communicate(timeout=60)
    f = fields(out)
    assert proc.returncode == 3, err
    assert f["fork"] == "True" and int(f["pid"]) != proc.pid
    assert f["cwd"] == str(tmp_path) and f["env"] == "seen" and f["rule"] == "probe"
    assert f["torch"] == "True"  # imported by the server, not by this job
    assert "to stderr" in err


def test_a_fork_takes_what_a_fresh_interpreter_takes_from_its_job(server, tmp_path):
    """Thread pools sized by the job's OMP_NUM_THREADS (Snakemake sets it to the job's threads; numpy's
    OpenBLAS had read the server's), the job's TMPDIR, and random state of its own."""
    (tmp_path / "t").mkdir()
    runs = [fields(job(tmp_path, server, OMP_NUM_THREADS="1", TMPDIR=str(tmp_path / "t")).communicate(timeout=60)[0])]
    runs.append(fields(job(tmp_path, server, OMP_NUM_THREADS="1").communicate(timeout=60)[0]))
    assert all(r["fork"] == "True" and r["blas"] == "1" for r in runs)
    assert runs[0]["tmp"] == str(tmp_path / "t") and runs[1]["tmp"] != runs[0]["tmp"]
    assert runs[0]["draw"] != runs[1]["draw"]


def test_start_up_counts_from_the_jobs_own_process(server, tmp_path):
    """A fork is new, but the job's start-up is its own process's: the 1.5 s it spent before handing
    over are in it."""
    out, _ = job(tmp_path, server, BEFORE="1.5").communicate(timeout=60)
    assert float(fields(out)["age"]) >= 1.5


def test_without_a_server_the_job_runs_in_its_own_process(tmp_path):
    for socket_path in (None, str(tmp_path / "no-such-socket")):
        proc = job(tmp_path, socket_path, CODE="2")
        out, _ = proc.communicate(timeout=120)
        f = fields(out)
        assert proc.returncode == 2 and f["fork"] == "False" and int(f["pid"]) == proc.pid


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_job_stops_its_fork(server, tmp_path, sig):
    """Snakemake stopping a job (SIGTERM) or a Ctrl-C (SIGINT: KeyboardInterrupt in the fork, as in a
    fresh interpreter, so its atomic writes clean up)."""
    proc = job(tmp_path, server, HOLD="60")
    pid = int(fields(proc.stdout.readline())["pid"])
    assert alive(pid)
    proc.send_signal(sig)
    proc.wait(timeout=30)
    assert proc.returncode != 0
    if sig == signal.SIGINT:
        assert "KeyboardInterrupt" in proc.stderr.read()
    deadline = time.time() + 10
    while alive(pid) and time.time() < deadline:
        time.sleep(0.1)
    assert not alive(pid)


def test_a_killed_job_takes_its_fork_with_it(server, tmp_path):
    """SIGKILL cannot be forwarded: the fork sees its job's connection close and exits, so nothing
    writes after Snakemake has cleaned up the job's outputs."""
    proc = job(tmp_path, server, HOLD="60")
    pid = int(fields(proc.stdout.readline())["pid"])
    proc.kill()
    proc.wait(timeout=30)
    deadline = time.time() + 10
    while alive(pid) and time.time() < deadline:
        time.sleep(0.1)
    assert not alive(pid)


def test_a_job_that_starts_while_the_server_imports_waits_for_it(tmp_path):
    proc, path = preload.start_server(LIB)
    try:
        assert not os.path.exists(path)  # still importing
        out, _ = job(tmp_path, path).communicate(timeout=120)
        assert fields(out)["fork"] == "True"
    finally:
        preload.stop_server(proc, path)


def test_a_job_does_not_wait_for_a_server_that_is_gone(tmp_path):
    """The socket's folder with the process id of a server that died before it listened: the job runs
    on its own at once, not after STARTING_WAIT."""
    folder = tmp_path / "server"
    folder.mkdir()
    # a server that died and that Snakemake has not reaped yet: a zombie, which kill(pid, 0) calls alive
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    while stat_fields(dead.pid)[0] != "Z":
        time.sleep(0.05)
    (folder / handover.PID_FILE).write_text(str(dead.pid))
    start = time.monotonic()
    out, _ = job(tmp_path, str(folder / "socket")).communicate(timeout=120)
    dead.wait()
    assert fields(out)["fork"] == "False" and time.monotonic() - start < handover.STARTING_WAIT


def test_a_server_that_fails_to_start_lets_its_jobs_run_on_their_own(tmp_path):
    folder = tmp_path / "server"
    folder.mkdir()
    path = str(folder / "socket")
    code = f"from diffattr.core.preload import serve; serve({path!r}, {os.getpid()}, ('no_such_module_here',))"
    env = {**os.environ, "PYTHONPATH": str(LIB)}
    failed = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert failed.returncode != 0 and "no_such_module_here" in failed.stderr
    assert not folder.exists()  # what tells waiting jobs that no server is coming
    proc = job(tmp_path, path, CODE="4")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 4 and fields(out)["fork"] == "False"


@pytest.mark.parametrize(
    ("compute", "gpu", "want"),
    [
        ({"device": "auto", "preload": True}, False, True),
        ({"device": "auto", "preload": True}, True, False),  # a job may take the GPU: no fork
        ({"device": "cpu", "preload": True}, True, True),  # the server hides the GPUs; jobs use the CPU
        ({"device": "cuda", "preload": True}, False, False),
        ({"device": "cpu", "preload": False}, False, False),
        ({"device": "auto"}, False, True),  # on by default
    ],
)
def test_a_run_preloads_only_where_no_job_can_use_a_gpu(monkeypatch, compute, gpu, want):
    monkeypatch.setattr(preload, "gpu_present", lambda: gpu)
    assert preload.preloads(compute) is want
