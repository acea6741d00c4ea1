"""``[console] processes = 2``: one console instance served by two processes on one port.

Real processes (``python -m gateway console``), a real PostgreSQL (``tests/pgkit.py``). The
supervisor prints the usual two lines once both processes serve; each process holds its own
listening socket on the port (``SO_REUSEPORT``, read from ``/proc``); a daemon's calls are
answered whichever process takes them; a process killed (SIGKILL) makes the supervisor stop
the other and exit 1 (the service manager restarts the instance whole); SIGTERM stops them
all with exit 0. On SQLite the setting is refused: several processes on one file would take
turns at its one writer.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.auth.client import RemoteAuthority
from tests.e2e.consolekit import console_process
from tests.e2e.fixtures import WAIT_S
from tests.pgkit import PostgresServer

pytestmark = pytest.mark.not_on_windows("proc")


def _config(tmp_path: Path, processes: int, *, pinned: bool = False) -> Path:
    config = tmp_path / "console.toml"
    config.write_text(f'data_dir = "{(tmp_path / "data").as_posix()}"\n[console]\nport = 0\n'
                      f'processes = {processes}\npin_processes = {str(pinned).lower()}\n'
                      '[smtp]\nhost = "127.0.0.1"\nport = 1\nsecurity = "none"\n', encoding="utf-8")
    return config


def _cpus_of(pid: int) -> set[frozenset[int]]:
    """The CPUs each thread of ``pid`` may run on (``/proc``), one set per distinct mask."""
    masks = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text(encoding="utf-8")
        except OSError:  # the thread ended meanwhile
            continue
        listed = next(line.split(":", 1)[1].strip() for line in status.splitlines()
                      if line.startswith("Cpus_allowed_list:"))
        cpus: set[int] = set()
        for part in listed.split(","):
            low, _, high = part.partition("-")
            cpus.update(range(int(low), int(high or low) + 1))
        masks.add(frozenset(cpus))
    return masks


def _serving_processes(supervisor: int) -> list[int]:
    """The supervisor's children that serve (multiprocessing's own helper left out)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text(encoding="utf-8").rpartition(")")[2].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == supervisor and b"spawn_main" in command:
            found.append(int(stat.parent.name))
    return sorted(found)


def _listening_inodes(port: int) -> set[str]:
    """The inodes of the sockets listening on ``port`` (``/proc/net/tcp``, state 0A)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text(encoding="utf-8").splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:
            inodes.add(fields[9])
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


async def _polls(url: str, count: int) -> None:
    """A daemon's first long-polls (each answered at once), each on whichever process the
    kernel gives its connection to."""
    remote = RemoteAuthority(url, Ed25519PrivateKey.generate())
    try:
        for _ in range(count):
            cursor, ids = await remote.wait_revocations(remote.device, None, 0)
            assert ids == [] and cursor >= 0
    finally:
        await remote.close()


def test_two_processes_serve_one_port(tmp_path: Path, postgres: PostgresServer) -> None:
    env = {**os.environ, "MTGATEWAY_DATABASE_URL": postgres.new_database()}
    with console_process(_config(tmp_path, 2), env) as console:
        workers = _serving_processes(console.proc.pid)
        assert len(workers) == 2
        listening = _listening_inodes(console.port)
        assert len(listening) == 2  # one socket each; the supervisor's only reserves the port
        assert all(_socket_inodes(pid) & listening for pid in workers)
        asyncio.run(_polls(console.url, 6))
        os.kill(workers[0], signal.SIGKILL)
        assert console.proc.wait(WAIT_S * 3) == 1
        assert not Path(f"/proc/{workers[1]}").exists() or \
            b"zombie" in Path(f"/proc/{workers[1]}/status").read_bytes().lower()


def test_a_signal_stops_every_process(tmp_path: Path, postgres: PostgresServer) -> None:
    env = {**os.environ, "MTGATEWAY_DATABASE_URL": postgres.new_database()}
    with console_process(_config(tmp_path, 2), env) as console:
        with urllib.request.urlopen(console.url + "/ready", timeout=WAIT_S) as ready:  # noqa: S310
            assert ready.status == 200
        workers = _serving_processes(console.proc.pid)
        assert len(workers) == 2
        console.proc.send_signal(signal.SIGTERM)
        assert console.proc.wait(WAIT_S * 3) == 0
        assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


def test_several_processes_need_postgresql(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MTGATEWAY_DATABASE_URL"}
    done = subprocess.run([sys.executable, "-m", "mtgateway_console", "-c",
                           str(_config(tmp_path, 2))], env=env, capture_output=True,
                          text=True, timeout=WAIT_S * 6, check=False)
    assert done.returncode == 2, done.stderr
    assert "processes = 2 needs the authority's database in PostgreSQL" in done.stderr


def test_pinned_processes_each_run_on_one_cpu(tmp_path: Path, postgres: PostgresServer) -> None:
    """``pin_processes``: each serving process and all its threads (the loop, the database
    workers) on one CPU, the processes on different CPUs while there are enough; the
    supervisor is not pinned (its children would inherit it)."""
    allowed = os.sched_getaffinity(0)
    env = {**os.environ, "MTGATEWAY_DATABASE_URL": postgres.new_database()}
    with console_process(_config(tmp_path, 2, pinned=True), env) as console:
        asyncio.run(_polls(console.url, 6))  # every process's database workers started
        workers = _serving_processes(console.proc.pid)
        assert len(workers) == 2
        masks = [_cpus_of(pid) for pid in workers]
        assert all(len(m) == 1 and len(next(iter(m))) == 1 for m in masks), masks
        chosen = {cpu for m in masks for cpu in next(iter(m))}
        assert chosen <= allowed and len(chosen) == min(2, len(allowed)), masks
        assert _cpus_of(console.proc.pid) == {frozenset(allowed)}


def test_one_pinned_process_runs_on_one_cpu(tmp_path: Path) -> None:
    with console_process(_config(tmp_path, 1, pinned=True), dict(os.environ)) as console:
        asyncio.run(_polls(console.url, 2))
        [mask] = _cpus_of(console.proc.pid)
        assert len(mask) == 1 and mask <= os.sched_getaffinity(0)


def test_pinning_is_refused_where_a_process_cannot_be_pinned(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from mtgateway_console.config import ConsoleConfig

    assert ConsoleConfig(pin_processes=True).pin_processes
    monkeypatch.setattr(sys, "platform", "win32")
    with pytest.raises(ValidationError, match="pin_processes needs Linux"):
        ConsoleConfig(pin_processes=True)
    assert not ConsoleConfig().pin_processes
