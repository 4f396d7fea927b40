"""A real single-node Slurm (munged, slurmctld, slurmd on localhost) for tests, from Debian's
slurm-wlm and munge packages. Started as root; stopped by pid files, never by name."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

MARKER = "# written by diffattr's test cluster; removed when it stops\n"
# The slurm jobstep plugin strips SLURM_CONF from nested srun calls, so the config must sit at
# Slurm's default path.
DEFAULT_CONF = Path("/etc/slurm/slurm.conf")
CONF = (
    MARKER
    + """ClusterName=ci
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.log
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
# The node's CPUs and memory are the configured ones, even beyond the machine's (see Cluster).
SlurmdParameters=config_overrides
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MinJobAge=300
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
PartitionName=ci Nodes=ALL Default=NO MaxTime=INFINITE State=UP
"""
)


PORTS = (16817, 16818)  # slurmctld's and slurmd's


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def missing_binaries() -> list[str]:
    return [b for b in ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo") if shutil.which(b) is None]


class Cluster:
    """`cpus` and `mem` (MB) are what the node offers Slurm, not what the machine has: more CPUs than
    cores keep more one-thread jobs in flight, so the executor's status checks (which back off by 10 s
    after each check that finds nothing finished) find finished jobs sooner."""

    def __init__(self, root: Path, cpus: int = 2, mem: int = 8000) -> None:
        self.root, self.cpus, self.mem = root, cpus, mem
        self.host = socket.gethostname().split(".")[0]
        self.conf = DEFAULT_CONF

    def start(self) -> None:
        if self.conf.exists() and not self.conf.read_text().startswith(MARKER):
            raise RuntimeError(f"{self.conf} belongs to another Slurm set-up; not overwriting it")
        self._wait_for_ports()
        self.conf.parent.mkdir(parents=True, exist_ok=True)
        for sub in ("state", "spool", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.conf.write_text(
            CONF.format(host=self.host, d=self.root, cpus=self.cpus, mem=self.mem, ctld_port=PORTS[0], d_port=PORTS[1])
        )
        self._start_munge()
        subprocess.run(["slurmctld", "-f", str(self.conf)], check=True)
        subprocess.run(["slurmd", "-f", str(self.conf)], check=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
            if out.returncode == 0 and out.stdout.strip() in ("idle", "mixed", "allocated"):
                return
            time.sleep(1)
        raise RuntimeError(f"Slurm did not come up: {out.stdout} {out.stderr}\n{self.logs()}")

    def _wait_for_ports(self, timeout: float = 600) -> None:
        """Another test cluster on this machine (a concurrent test session) holds the ports until it
        stops; new daemons could not bind them, and its daemons would run this session's jobs."""
        deadline = time.time() + timeout
        while any(_listening(port) for port in PORTS):
            if time.time() > deadline:
                raise RuntimeError(f"ports {PORTS} still in use after {timeout:.0f} s: another Slurm runs here")
            time.sleep(5)

    def _start_munge(self) -> None:
        key = Path("/etc/munge/munge.key")
        run = Path("/run/munge")
        run.mkdir(parents=True, exist_ok=True)
        shutil.chown(run, "munge", "munge")
        if not key.exists():
            key.parent.mkdir(parents=True, exist_ok=True)
            key.write_bytes(os.urandom(1024))
            shutil.chown(key, "munge", "munge")
            key.chmod(0o400)
        if subprocess.run(["munge", "-n"], capture_output=True).returncode == 0:
            self.munge_pid = None  # a munged is already serving: leave it alone
            return
        subprocess.run(["runuser", "-u", "munge", "--", "munged", "--force"], check=True)
        pidfile = run / "munged.pid"
        deadline = time.time() + 10
        while not pidfile.exists() and time.time() < deadline:
            time.sleep(0.1)
        self.munge_pid = int(pidfile.read_text()) if pidfile.exists() else None

    def logs(self) -> str:
        return "\n".join(p.read_text()[-3000:] for p in (self.root / "log").glob("*.log"))

    def stop(self) -> None:
        for name in ("slurmd.pid", "slurmctld.pid"):
            pidfile = self.root / name
            if pidfile.exists():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pidfile.read_text()), signal.SIGTERM)
        if self.conf.exists() and self.conf.read_text().startswith(MARKER):
            self.conf.unlink()
        if getattr(self, "munge_pid", None):
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.munge_pid, signal.SIGTERM)
        time.sleep(1)
