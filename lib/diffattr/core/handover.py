"""A model job's side of the preloaded process (preload.py, whose docstring says how it works): the
job hands itself over to the server and exits with the fork's status, or returns where no server
serves the run. Light on purpose: every job imports it before anything heavy."""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import socket
import sys
import time
from pathlib import Path

from .procstat import stat_fields

PRELOAD_ENV = "DIFFATTR_PRELOAD_SOCKET"
# Longest a job waits for a server that is still importing (it takes ~5 s on 2 idle cores).
STARTING_WAIT = 60.0
# What the job's process forwards to its fork (Snakemake stopping a job, a Ctrl-C, a hang-up).
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)
# Beside the socket: the server's process id, so that a job waits only for a server that is alive.
PID_FILE = "server.pid"
# What a forked job's log says (jobs.start), which the benchmarks count.
FORKED_LOG = "forked from the run's preloaded process"
HEADER_BYTES = 8  # bytes of the request's length, sent with the job's three file descriptors

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
    # Held back from the hand-over until they can be forwarded: a stop that arrives while the fork
    # starts reaches it (or, with no fork, this process) once the handlers are in place.
    signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
    try:
        socket.send_fds(conn, [len(request).to_bytes(HEADER_BYTES, "big")], [0, 1, 2])
        conn.sendall(request)
        reader = conn.makefile("r")
        first = reader.readline().split()
    except OSError:
        first = []
    if first[:1] != ["pid"]:  # no fork was made: nothing ran, so run here
        conn.close()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)
        return
    pid = int(first[1])

    def forward(signum, _frame):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    for sig in FORWARDED:
        signal.signal(sig, forward)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)
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
        # a server that died is a zombie until Snakemake reaps it (stop_server): not starting
        state = stat_fields(pid)[0]
    except (OSError, ValueError, IndexError):
        return False
    return state not in ("Z", "X")


def mark_fork() -> None:
    """Called in a fork before it runs the job's script: that script's hand_over returns at once."""
    global _in_fork
    _in_fork = True
