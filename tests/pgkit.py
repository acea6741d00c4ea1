"""A real PostgreSQL server for the tests, from Debian's ``postgresql`` package.

:class:`PostgresServer` copies a cluster ``initdb`` made once a machine into a fresh temporary
directory and runs ``postgres`` on it, listening on 127.0.0.1 on a free port (no UNIX socket),
trusting loopback connections (nothing else can reach it), and stops it at the end. PostgreSQL
refuses to run as root, so as root the directory is given to ``nobody`` and both programs run as
``nobody`` through ``runuser``. Each test gets its own
database (:meth:`PostgresServer.new_database`), so tests never see each other's rows.
``.ci/system-packages`` installs the package; the binaries are found in
``/usr/lib/postgresql/<version>/bin``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import psycopg

__all__ = ["PostgresServer", "pg_bin_dir", "postgres_server"]


def pg_bin_dir() -> Path:
    """The newest installed PostgreSQL's ``bin`` directory."""
    root = Path("/usr/lib/postgresql")
    versions = sorted((p for p in root.glob("*/bin") if (p / "initdb").exists()),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    if not versions:
        raise RuntimeError("PostgreSQL is not installed: run .ci/system-packages")
    return versions[-1]


#: What ``initdb`` is given: every cluster the tests start is this one, fresh.
_INITDB_ARGS = ("-U", "postgres", "--auth=trust", "--locale=C", "-E", "UTF8")


def _initialized(bin_dir: Path) -> Path:
    """An empty cluster made by ``initdb`` (:data:`_INITDB_ARGS`), once a machine for this
    PostgreSQL: each server the tests start copies it, instead of running ``initdb`` (0.7-1.4
    s of CPU and 1-3 s of wall each; the suite and the benches start a dozen). A cluster's
    directory names no path of its own, so a copy is the same cluster. Made in a directory of
    its own and renamed into place, so a parallel run never sees half of one; ``--no-sync``:
    the servers run with ``fsync=off`` and are thrown away.
    """
    key = hashlib.sha256("\0".join([str(bin_dir), *_INITDB_ARGS]).encode()).hexdigest()[:16]
    made = Path(tempfile.gettempdir()) / f"mtgw-pg-initdb-{key}"
    if made.is_dir():
        return made
    part = Path(tempfile.mkdtemp(prefix=f"{made.name}.", dir=made.parent))
    try:
        run_as = []
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            shutil.chown(part, "nobody")
            run_as = ["runuser", "-u", "nobody", "--"]
        subprocess.run([*run_as, str(bin_dir / "initdb"), "-D", str(part / "data"),
                        "--no-sync", *_INITDB_ARGS], check=True, capture_output=True)
        try:
            (part / "data").rename(made)
        except OSError:  # a parallel run made it first
            pass
    finally:
        shutil.rmtree(part, ignore_errors=True)
    return made


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One throw-away PostgreSQL server; use as a context manager."""

    def __init__(self) -> None:
        self._bin = pg_bin_dir()
        self._root = Path(tempfile.mkdtemp(prefix="mtgw-pg-"))
        self._data = self._root / "data"
        self.port = _free_port()
        self._as: list[str] = []
        self._started = False
        self._ids = count(1)

    def _run_as(self) -> list[str]:
        if not hasattr(os, "geteuid") or os.geteuid() != 0:  # Windows has no root to leave
            return []
        shutil.chown(self._root, "nobody")
        os.chmod(self._root, 0o700)
        return ["runuser", "-u", "nobody", "--"]

    def start(self) -> None:
        """A fresh cluster (a copy of :func:`_initialized`'s) and start the server; returns
        once it accepts connections."""
        self._as = self._run_as()
        shutil.copytree(_initialized(self._bin), self._data, symlinks=True)
        if self._as:  # the copy is root's: the server's files are its user's
            for folder, _, files in os.walk(self._data):
                for name in [folder, *(os.path.join(folder, f) for f in files)]:
                    shutil.chown(name, "nobody")
        log = self._root / "server.log"
        # pg_ctl -w returns once the server accepts connections (or fails with its log).
        result = subprocess.run(
            [*self._as, str(self._bin / "pg_ctl"), "-D", str(self._data), "-l", str(log), "-w",
             "-t", "120", "-o", f"-h 127.0.0.1 -p {self.port} -k '' -c fsync=off "
             "-c max_connections=200", "start"], capture_output=True, check=False)
        if result.returncode != 0:
            raise RuntimeError("postgres did not start: "
                               + log.read_text(errors="replace", encoding="utf-8"))
        self._started = True

    def url(self, database: str) -> str:
        """The URL of ``database`` on this server."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create an empty database; its URL."""
        name = f"t{next(self._ids)}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def _server_pids(self) -> list[int]:
        """The postmaster and every process it started (backends, checkpointer, ...)."""
        postmaster = int((self._data / "postmaster.pid").read_text(encoding="utf-8").split()[0])
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text(encoding="utf-8").rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended meanwhile
            if int(fields[1]) == postmaster:
                children.append(int(stat.parent.name))
        return [postmaster, *children]

    def pause(self) -> None:
        """SIGSTOP every process of the server: connections stay open, nothing answers."""
        for pid in self._server_pids():
            os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT every process of the server (after :meth:`pause`)."""
        for pid in self._server_pids():
            os.kill(pid, signal.SIGCONT)

    def halt(self) -> None:
        """Stop the server (fast shutdown: sessions are ended), keeping its data."""
        subprocess.run([*self._as, str(self._bin / "pg_ctl"), "-D", str(self._data), "-m",
                        "fast", "-w", "stop"], capture_output=True, check=True)

    def restart(self) -> None:
        """Start the server again on the same port after :meth:`halt`."""
        subprocess.run(
            [*self._as, str(self._bin / "pg_ctl"), "-D", str(self._data), "-l",
             str(self._root / "server.log"), "-w", "-t", "120", "-o",
             f"-h 127.0.0.1 -p {self.port} -k '' -c fsync=off -c max_connections=200",
             "start"], capture_output=True, check=True)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its directory."""
        if self._started:
            subprocess.run([*self._as, str(self._bin / "pg_ctl"), "-D", str(self._data), "-m",
                            "fast", "-w", "stop"], capture_output=True, check=False)
            self._started = False
        shutil.rmtree(self._root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def postgres_server() -> Iterator[PostgresServer]:
    """The body of a session fixture: one server for the whole run."""
    with PostgresServer() as server:
        yield server
