"""A local run's preloaded process: it imports torch, diffusers and torch-fidelity once, and each
model job's script hands itself over to it, to run forked from it, so the job skips the ~4 s those
imports cost (issue 23 item 4; docs/architecture.md "Start-up").

The Snakefile's onstart starts the server (`start_server`) only for a local run without a
deployment method (conda, apptainer: their jobs need their own interpreter) and with
`compute.preload` on; it exports the socket's path as PRELOAD_ENV, which every job inherits. A job's
script calls `hand_over` (workflow/scripts/_preloaded.py) before its heavy imports: when the
variable is set and the server answers, the job's stdin, stdout and stderr, its working directory,
environment and `snakemake` object go to the server, which forks; the fork runs the script from
the top (its own `hand_over` returns at once), reports its process id and then its exit status,
and the job's process exits with that status. A job that starts while the server still imports
waits for it. Otherwise (no variable, or the server failed or is gone) `hand_over` returns and the
job imports and runs as before. Both ways run the same code from the same modules, seeds and inputs.

What a job still controls: a signal the job's process gets (Snakemake stopping it) goes on to the
fork; if the job's process dies, the fork kills itself (it watches their connection), so nothing
writes after Snakemake has cleaned up. The server reaps its forks (their CPU counts in /usr/bin/time
of the whole run) and exits with Snakemake (onsuccess, onerror, or when its parent is gone).

Not counted by Snakemake's `benchmark:` files: a forked job's CPU and memory are the server's
children's, not the job process's, so a benchmark's cpu_time and max_rss are the hand-over's alone;
its wall (`s`) is the job's. The jobs' own records (train_cpu_seconds, eval_cpu_seconds) are
measured in the fork and stay true."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import pickle
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PRELOAD_ENV = "DIFFATTR_PRELOAD_SOCKET"
# What the server imports before it serves: the libraries every model job needs, Snakemake's classes
# that a job's `snakemake` object unpickles into, then the diffattr modules the model stages' scripts
# import and those they import when they run. A fork inherits them imported.
MODULES = (
    "torch",
    "diffusers.models.unets.unet_2d",
    "diffusers.training_utils",
    "torch_fidelity",
    "torch_pruning",
    "snakemake.iocontainers",
    "snakemake.logging",
    "diffattr.core.classifier_gate",
    "diffattr.core.data",
    "diffattr.core.registry",
    "diffattr.core.settings",
    "diffattr.modelling.batched_training",
    "diffattr.modelling.compute",
    "diffattr.modelling.models",
    "diffattr.modelling.pruning",
    "diffattr.modelling.sampling",
    "diffattr.modelling.training",
    "diffattr.evaluation.behaviour",
    "diffattr.evaluation.classifier",
    "diffattr.reporting.figures",
    "diffattr.workflow.addressing",
    "diffattr.workflow.layout",
    *(
        f"diffattr.stages.{stage}"
        for stage in (
            "baseline_images",
            "behaviour",
            "behaviour_retrained",
            "behaviour_unlearn",
            "classifier",
            "init",
            "pairs",
            "prune",
            "reference",
            "retrain",
            "samples",
            "train_base",
            "unlearn",
        )
    ),
)
# Model jobs whose scripts do not hand over (workflow/scripts/baselines.py says why).
OWN_PROCESS_RULES = frozenset({"baselines"})
# Longest a job waits for a server that is still importing (it takes ~5 s on 2 idle cores).
STARTING_WAIT = 60.0
# Beside the socket: the server's process id, so that a job waits only for a server that is alive.
PID_FILE = "server.pid"
_HEADER = 8  # bytes of the request's length, sent with the job's three file descriptors

# True in a forked job: its script's hand_over returns at once and runs the job there.
_in_fork = False


def in_fork() -> bool:
    return _in_fork


def hand_over(snakemake, script: str) -> None:
    """Run the job whose script is `script` (the real path; Snakemake's __file__) in the run's
    preloaded process and exit with its status; return where there is none (or this is the fork)."""
    if _in_fork or not os.environ.get(PRELOAD_ENV):
        return
    path = os.environ[PRELOAD_ENV]
    # A job that starts while the server still imports waits for it, as it would for its own imports:
    # the socket appears once the server listens, and its folder goes if the server fails to start.
    deadline = time.monotonic() + STARTING_WAIT
    while not os.path.exists(path) and _starting(path) and time.monotonic() < deadline:
        time.sleep(0.05)
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
    except OSError:  # the server is gone (the run is ending) or never came up: run here
        conn.close()
        return
    from .progress import process_start_time

    request = pickle.dumps(
        {
            "script": str(Path(script).resolve()),
            "cwd": os.getcwd(),
            "env": dict(os.environ),
            "argv": list(sys.argv),
            "born": process_start_time(),
            "snakemake": snakemake,
        }
    )
    sys.stdout.flush()
    sys.stderr.flush()
    reader = None
    try:
        socket.send_fds(conn, [len(request).to_bytes(_HEADER, "big")], [0, 1, 2])
        conn.sendall(request)
        reader = conn.makefile("r")
        first = reader.readline().split()
    except OSError:
        first = []
    if first[:1] != ["pid"]:  # no fork was made: nothing ran, so run here
        conn.close()
        return
    pid = int(first[1])

    def forward(signum, _frame):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, forward)
    last = reader.readline().split()
    if last[:1] == ["exit"]:
        os._exit(int(last[1]))
    print(f"diffattr: the forked job (pid {pid}) died without an exit status; see its log", file=sys.stderr)
    os._exit(1)


def _starting(path: str) -> bool:
    """Whether the server of socket `path` is still starting: its folder is there (it goes if the
    server fails to import) and the process start_server recorded beside it is alive."""
    try:
        pid = int(Path(path).with_name(PID_FILE).read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True


def _run_fork(conn: socket.socket) -> None:
    """In the fork: take the job's descriptors and request, run its script, report, exit."""
    global _in_fork
    _in_fork = True
    code = 1
    try:
        # a fresh interpreter's handlers: Ctrl-C raises KeyboardInterrupt (atomic writes clean up)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        header, fds, _flags, _addr = socket.recv_fds(conn, _HEADER, 3)
        size = int.from_bytes(header, "big")
        chunks, got = [], 0
        while got < size:
            chunk = conn.recv(min(1 << 20, size - got))
            if not chunk:
                os._exit(1)
            chunks.append(chunk)
            got += len(chunk)
        request = pickle.loads(b"".join(chunks))
        for target, fd in zip((0, 1, 2), fds, strict=True):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = request["argv"]
        from . import progress

        progress.set_process_start_time(request["born"])
        conn.sendall(f"pid {os.getpid()}\n".encode())
        threading.Thread(target=_die_with_job, args=(conn,), daemon=True).start()
        code = _run_script(request["script"], request["snakemake"])
    finally:
        with contextlib.suppress(OSError):
            conn.sendall(f"exit {code}\n".encode())
        os._exit(code)


def _run_script(script: str, snakemake) -> int:
    import logging
    import runpy
    import traceback

    sys.path.insert(0, str(Path(script).parent))  # the script's own helpers (_libpath, _preloaded)
    code = 0
    try:
        runpy.run_path(script, init_globals={"snakemake": snakemake}, run_name="__main__")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not isinstance(exc.code, int | None):
            print(exc.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
        code = 1
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def _die_with_job(conn: socket.socket) -> None:
    """The job's process sends nothing more: end of stream means it died, and so must this fork."""
    try:
        while conn.recv(1):
            pass
    except OSError:
        pass
    os._exit(137)


def serve(path: str, parent: int, modules: tuple[str, ...] = MODULES) -> None:
    """Import `modules`, then fork one job per connection on the socket `path` until `parent` (the
    Snakemake process) is gone or SIGTERM arrives."""
    try:
        for name in modules:
            importlib.import_module(name)
    except BaseException:
        # No server: remove the socket's folder so that waiting jobs stop waiting and run on their own
        # (until Snakemake reaps it, this process would still look alive to them).
        Path(path).with_name(PID_FILE).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            os.rmdir(os.path.dirname(path))
        raise
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # stopped by SIGTERM (onsuccess, onerror) or its parent's exit, never by an interrupt
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path + ".tmp")
    os.replace(path + ".tmp", path)  # jobs see the socket only once it listens
    server.listen(64)
    server.settimeout(1.0)
    try:
        while not stop.is_set() and os.getppid() == parent:
            _reap()
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                if stop.is_set():
                    break
                raise
            conn.settimeout(None)
            if os.fork() == 0:
                server.close()
                _run_fork(conn)
            conn.close()
    finally:
        server.close()
        Path(path).unlink(missing_ok=True)
        while _reap(block=True):
            pass


def _reap(block: bool = False) -> bool:
    """Wait for finished forks (so their CPU counts as this process's children's); False when none
    is left (blocking) or none has finished."""
    try:
        pid, _ = os.waitpid(-1, 0 if block else os.WNOHANG)
    except ChildProcessError:
        return False
    return pid != 0


def start_server(lib: str | os.PathLike) -> tuple[subprocess.Popen, str]:
    """Start the server for this (Snakemake) process; returns it and its socket's path, which the
    caller exports as PRELOAD_ENV. `lib`: the folder holding diffattr."""
    folder = tempfile.mkdtemp(prefix="diffattr-preload-")
    path = os.path.join(folder, "socket")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(lib), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "diffattr.core.preload", "--socket", path, "--parent", str(os.getpid())],
        env=env,
        stdin=subprocess.DEVNULL,
        # its own session: a Ctrl-C in the terminal reaches Snakemake and the jobs' processes, which
        # forward it to their forks once each, not the server and every fork a second time
        start_new_session=True,
    )
    Path(folder, PID_FILE).write_text(str(proc.pid))
    return proc, path


def stop_server(proc: subprocess.Popen, path: str, timeout: float = 10.0) -> None:
    """Stop the server, wait for it (and so its forks' CPU), remove its folder."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    Path(path).unlink(missing_ok=True)
    Path(path).with_name(PID_FILE).unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        os.rmdir(os.path.dirname(path))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--socket", required=True)
    ap.add_argument("--parent", type=int, required=True)
    args = ap.parse_args()
    serve(args.socket, args.parent)


if __name__ == "__main__":
    # Serve from the module under its own name: a fork's scripts import diffattr.core.preload, and
    # must find it marked as the fork, not a second copy of this file run as __main__.
    from diffattr.core import preload

    preload.main()
