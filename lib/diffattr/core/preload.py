"""A local run's preloaded process: it imports torch, diffusers and torch-fidelity once, and each
model job's script hands itself over to it, to run forked from it, so the job skips the ~4 s those
imports cost (issue 23 item 4; docs/architecture.md "Start-up: one preloaded process").

The Snakefile's onstart starts the server (`start_server`) only for a local run without a
deployment method (conda, apptainer: their jobs need their own interpreter), with
`compute.preload` on and no job able to use a GPU (`preloads`: CUDA cannot be initialised in a fork
of a process that had initialised it, and diffusers' import asks torch about CUDA); it exports the
socket's path as handover.PRELOAD_ENV, which every job inherits. A job's script calls
`handover.hand_over` (workflow/scripts/_preloaded.py) before its heavy imports: when the variable is
set and the server answers, the job's stdin, stdout and stderr, its working directory, environment
and `snakemake` object go to the server, which forks; the fork takes from the job's environment what
a fresh interpreter would (the BLAS and OpenMP thread pools' size, the temporary folder, unseeded
random state), runs the script from the top (its own `hand_over` returns at once), reports its
process id and then its exit status, and the job's process exits with that status. A job that
starts while the server still imports waits for it. Otherwise (no variable, or the server failed or
is gone) `hand_over` returns and the job imports and runs as before. Both ways run the same code on
the same inputs with the same seeds.

What a job still controls: a signal the job's process gets (Snakemake stopping it, a Ctrl-C) goes on
to the fork; if the job's process dies, the fork exits as soon as it sees their connection close
(a thread waits on it). The server reaps its forks (their CPU counts in /usr/bin/time of the whole
run) and exits with Snakemake (onsuccess, onerror, or when its parent is gone).

Not counted by Snakemake's `benchmark:` files: a forked job's CPU and memory are the server's
children's, not the job process's, so a benchmark's cpu_time and max_rss are the hand-over's alone;
its wall (`s`) is the job's. The jobs' own records (train_cpu_seconds, eval_cpu_seconds) are
measured in the fork and stay true. Not carried over: the atexit handlers that the server's imports
registered do not run when a fork ends (it ends with os._exit after flushing its logs)."""

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
from pathlib import Path

from .handover import HEADER_BYTES, PID_FILE, mark_fork

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


def _run_fork(conn: socket.socket) -> None:
    """In the fork: take the job's descriptors and request, run its script, report, exit."""
    mark_fork()
    code = 1
    try:
        # a fresh interpreter's handlers: Ctrl-C raises KeyboardInterrupt (atomic writes clean up)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        header, fds, _flags, _addr = socket.recv_fds(conn, HEADER_BYTES, 3)
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
        _as_fresh_process()
        from . import progress

        progress.set_process_start_time(request["born"])
        conn.sendall(f"pid {os.getpid()}\n".encode())
        threading.Thread(target=_die_with_job, args=(conn,), daemon=True).start()
        code = _run_script(request["script"], request["snakemake"])
    finally:
        with contextlib.suppress(OSError):
            conn.sendall(f"exit {code}\n".encode())
        os._exit(code)


def _as_fresh_process() -> None:
    """What a fresh interpreter would take from the job's environment but the server's imports fixed:
    the BLAS and OpenMP thread pools' size (Snakemake sets OMP_NUM_THREADS and the like to the job's
    threads; numpy's OpenBLAS read the server's when it loaded), the temporary folder, and unseeded
    random state (every fork would otherwise draw what the others draw)."""
    import random

    import numpy as np
    import torch
    from threadpoolctl import threadpool_limits

    threads = os.environ.get("OMP_NUM_THREADS")
    if threads and threads.isdigit():
        threadpool_limits(limits=int(threads))
    tempfile.tempdir = None
    random.seed()
    np.random.seed()
    torch.seed()


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
        _remove_files(path)
        raise
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # stopped by SIGTERM (onsuccess, onerror) or its parent's exit, never by an interrupt
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path + ".tmp")
    server.listen(64)
    os.replace(path + ".tmp", path)  # jobs see the socket only once it listens
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
            try:
                pid = os.fork()
            except OSError:  # no fork (out of memory or processes): the job, told nothing, runs itself
                conn.close()
                continue
            if pid == 0:
                server.close()
                _run_fork(conn)
            conn.close()
    finally:
        server.close()
        _remove_files(path)
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


def gpu_present() -> bool:
    """Whether this machine has an NVIDIA GPU (its device files): a run that may use one does not
    preload, because a forked job could not initialise CUDA where the server had."""
    import glob

    return bool(glob.glob("/dev/nvidia[0-9]*"))


def preloads(compute: dict) -> bool:
    """Whether a local run with config section `compute` forks its model jobs on this machine:
    compute.preload on, and no job can use a GPU (device cpu, or auto on a machine without one). The
    Snakefile adds the checks only it can make (a local executor, no deployment method)."""
    device = compute.get("device", "auto")
    return bool(compute.get("preload", True)) and (device == "cpu" or (device == "auto" and not gpu_present()))


def start_server(lib: str | os.PathLike) -> tuple[subprocess.Popen, str]:
    """Start the server for this (Snakemake) process; returns it and its socket's path, which the
    caller exports as PRELOAD_ENV. `lib`: the folder holding diffattr."""
    folder = tempfile.mkdtemp(prefix="diffattr-preload-")
    path = os.path.join(folder, "socket")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(lib), os.environ.get("PYTHONPATH")]))}
    # CUDA cannot be used in a fork of a process that initialised it (diffusers' import asks torch
    # whether CUDA is there): hide the GPUs from the server. Runs that may use one do not preload
    # (gpu_present).
    env["CUDA_VISIBLE_DEVICES"] = ""
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
    _remove_files(path)


def _remove_files(path: str) -> None:
    """The socket `path`, the process id beside it and their folder (start_server's), where there."""
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
    main()
