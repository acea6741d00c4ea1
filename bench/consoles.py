"""Console processes for the authority benches: provisioned daemons, configs, what each holds.

``python -m bench.authority`` (its closed loop, its open loop at the daemon's cadence and its
restart storm) starts real ``mtgateway-console`` processes on a throw-away PostgreSQL
(``tests/pgkit.py``) and needs, for each row, the same things:

* :func:`provision`: an owner and N approved daemons (an Ed25519 device key, a token for a
  terminal of its own), written through the authority's own code before the consoles start;
* :class:`Variant`: which console is measured: the tree it runs from (today's ``main`` in
  another checkout, or this one) and ``[console]`` settings (a lever switched on or off), so
  an A/B of trees or levers is one run;
* :class:`ConsoleProcess`: one console (with the worker processes it may start), its URL and
  authority key as it prints them, and what it holds: resident memory, open descriptors,
  CPU seconds, summed over its process tree from ``/proc``;
* :func:`postgres_sessions`: the PostgreSQL connections each kind of session holds;
* :func:`raise_open_files`: the bench's own descriptor limit raised to the hard limit
  (simulated daemons hold connections like real ones).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.common import ROOT, daemon_package, tree_paths
from mtgateway.credential import token_hint
from mtgateway_base.wire.proofs import device_info
from mtgateway_base.wire.records import AuthorityKey
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import Authority

__all__ = ["OWNER", "SERVER", "ConsoleProcess", "Provisioned", "Variant", "console_config",
           "daemon_address", "postgres_sessions", "provision", "raise_open_files", "tree_paths"]

OWNER = "bench@example.com"
SERVER = "Bench-Server"
#: The first simulated terminal's login; daemon i trades login _LOGIN0 + i.
_LOGIN0 = 7_000_000
#: Transactions in flight while provisioning (the door has 8 PostgreSQL workers).
_PROVISION_CONCURRENCY = 32


@dataclass(frozen=True)
class Provisioned:
    """One provisioned daemon: its device key, its token and its terminal."""

    key: Ed25519PrivateKey
    device_id: str
    token: str
    token_hint: str
    token_id: str
    login: int


#: :func:`provision` run by another checkout's Python (``tree=``): its own ``Authority``
#: writes the database and keys, at its own schema version, so that checkout's console can
#: open them (a console refuses a database a newer tree migrated). One JSON line a daemon.
_PROVISION_ELSEWHERE = """
import asyncio, base64, json, secrets, sys
from pathlib import Path
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PrivateFormat, NoEncryption
try:  # a tree with the console in its own package
    from mtgateway_console.mailer import RecordingMailer
    from mtgateway_base.wire.proofs import device_info
    from mtgateway_console.service import Authority
except ImportError:  # a tree from before, the console inside the daemon's package
    from gateway.authority.mailer import RecordingMailer
    from gateway.authority.proofs import device_info
    from gateway.authority.service import Authority
from mtgateway.credential import token_hint

async def main(data, url, count, owner, server, login0):
    authority = await Authority.open(Path(data), RecordingMailer(), database_url=url)
    try:
        await authority.owners.create(owner, secrets.token_urlsafe(18))
        for i in range(count):
            key = Ed25519PrivateKey.generate()
            device = device_info(key)
            await authority.approvals.approve_local(device)
            issued = await authority.tokens.issue(owner, login0 + i, server)
            raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
            print(json.dumps([base64.b64encode(raw).decode(), device.device_id, issued.token,
                              token_hint(issued.token), issued.token_id, login0 + i]))
    finally:
        await authority.close()

a = sys.argv[1:]
asyncio.run(main(a[0], a[1], int(a[2]), a[3], a[4], int(a[5])))
"""


async def provision(data: Path, database_url: str, count: int,
                    tree: Path = ROOT) -> list[Provisioned]:
    """An owner and ``count`` approved daemons, each with a token for its own terminal (the
    approval written as approved: the e-mail round trip is not what is measured), written
    by ``tree``'s code (another checkout's in its own Python process)."""
    if tree != ROOT:  # both resolved (Variant.parse, bench.common)
        return await _provision_elsewhere(tree, data, database_url, count)
    authority = await Authority.open(data, RecordingMailer(), database_url=database_url)
    try:
        await authority.owners.create(OWNER, secrets.token_urlsafe(18))
        gate = asyncio.Semaphore(_PROVISION_CONCURRENCY)

        async def one(i: int) -> Provisioned:
            key = Ed25519PrivateKey.generate()
            device = device_info(key)
            async with gate:
                await authority.approvals.approve_local(device)
                issued = await authority.tokens.issue(OWNER, _LOGIN0 + i, SERVER)
            return Provisioned(key, device.device_id, issued.token, token_hint(issued.token),
                               issued.token_id, _LOGIN0 + i)

        return list(await asyncio.gather(*(one(i) for i in range(count))))
    finally:
        await authority.close()


async def _provision_elsewhere(tree: Path, data: Path, database_url: str,
                               count: int) -> list[Provisioned]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [*tree_paths(tree), os.environ.get("PYTHONPATH", "")])}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _PROVISION_ELSEWHERE, str(data), database_url, str(count), OWNER,
        SERVER, str(_LOGIN0), env=env, cwd=str(tree), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"provisioning with {tree} failed: {err.decode()[-2000:]}")
    provisioned = []
    for line in out.decode().splitlines():
        raw, device_id, token, hint, token_id, login = json.loads(line)
        provisioned.append(Provisioned(
            Ed25519PrivateKey.from_private_bytes(base64.b64decode(raw)), str(device_id),
            str(token), str(hint), str(token_id), int(login)))
    return provisioned


@dataclass(frozen=True)
class Variant:
    """Which console a row measures: the checkout it runs from and ``[console]`` settings.

    Written ``NAME[,tree=PATH][,KEY=VALUE...]`` on the command line: ``main,tree=$MAIN``
    runs the console of another checkout (the bench and its simulated daemons stay this
    tree's); ``loop,public_key_work=loop`` sets ``[console] public_key_work = "loop"`` (a
    value that is not a TOML number or boolean is quoted); a key of another section is
    named with it, ``two,authority.database_connections=2``.
    """

    name: str
    tree: Path = ROOT
    console: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: str) -> Variant:
        """A variant from its command-line form (see the class).

        Raises:
            ValueError: an empty name, an item without ``=``, or a tree without ``gateway/``.
        """
        name, *items = [part.strip() for part in spec.split(",")]
        if not name or "=" in name:
            raise ValueError(f"a variant starts with its name: {spec!r}")
        tree = ROOT
        console: dict[str, str] = {}
        for item in items:
            key, eq, value = item.partition("=")
            if not eq or not key:
                raise ValueError(f"{item!r} is not KEY=VALUE (in {spec!r})")
            if key == "tree":
                tree = Path(value).resolve()
                if not (daemon_package(tree) / "__main__.py").exists():
                    raise ValueError(f"{tree} holds no gateway/ package")
            else:
                console[key] = _toml_value(value)
        return cls(name, tree, console)

    def describe(self) -> dict[str, object]:
        """For the JSON: the name, the tree and its commit, the settings."""
        commit = subprocess.run(["git", "-C", str(self.tree), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, check=False).stdout.strip()
        return {"name": self.name, "tree": str(self.tree), "commit": commit,
                "console": dict(self.console)}


def _toml_value(value: str) -> str:
    if re.fullmatch(r"-?\d+(\.\d+)?|true|false", value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def console_config(path: Path, data: Path, *, port: int, daemons: int,
                   variant: Variant) -> None:
    """A console's config for ``daemons`` daemons: connection bounds an operator serving
    that many would set (every simulated daemon may hold a long-poll and a second
    connection, and with one source address all of them are one peer), no mail server
    (approvals are provisioned), and the variant's settings."""
    slots = min(100_000, 2 * daemons + 256)
    sections: dict[str, dict[str, str]] = {
        "console": {"port": str(port), "max_connections": str(slots),
                    "max_connections_per_peer": str(slots),
                    "max_long_polls_per_peer": str(min(100_000, daemons + 16))},
        "smtp": {"host": '"127.0.0.1"', "port": "1", "security": '"none"'}}
    for name, value in variant.console.items():
        section, dot, key = name.rpartition(".")
        sections.setdefault(section if dot else "console", {})[key] = value
    lines = [f'data_dir = "{data.as_posix()}"']
    for section, settings in sections.items():
        lines += [f"[{section}]", *(f"{key} = {value}" for key, value in settings.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def daemon_address(i: int, spread: bool) -> str:
    """The loopback address simulated daemon ``i`` connects from: its own (Linux routes all
    of 127.0.0.0/8 to loopback), so the console sees N peers as it would N machines, and
    the client's ephemeral ports are per address; ``127.0.0.1`` for all when not ``spread``."""
    if not spread:
        return "127.0.0.1"
    return f"127.{1 + i // 62_500}.{(i // 250) % 250}.{1 + i % 250}"


def raise_open_files(wanted: int) -> tuple[int, int]:
    """Raise this process's soft descriptor limit toward ``wanted`` (at most the hard limit);
    the (soft, hard) limits after. Windows has no such limit: ``(wanted, wanted)``."""
    if sys.platform == "win32":
        return wanted, wanted
    import resource  # noqa: PLC0415 - POSIX only

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft, hard


class ConsoleProcess:
    """``mtgateway-console -c CONFIG`` of a variant's tree, its log in a file.

    Args:
        variant: the tree and settings (the config already holds the settings).
        config: the config file.
        env: the environment (``MTGATEWAY_DATABASE_URL``).
        log: where its standard error goes (a failed row shows the end).
        cpus: the CPUs it may run on (``taskset``), all when empty.
        launcher: the interpreter's arguments that run the command line ``console -c
            CONFIG`` (``-m gateway``: the console as an operator starts it; ``bench/callwork.py``
            runs it under a script of its own).
    """

    def __init__(self, variant: Variant, config: Path, env: Mapping[str, str], log: Path,
                 cpus: Sequence[int] = (), launcher: Sequence[str] = ("-m", "gateway")
                 ) -> None:
        self._variant = variant
        self._launcher = tuple(launcher)
        self._config = config
        self._env = dict(env)
        self._log = log
        self._cpus = tuple(cpus)
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.key: AuthorityKey | None = None

    def start(self) -> float:
        """Start it and read what it prints once it listens; the monotonic time it said so.

        Raises:
            RuntimeError: it exited, or printed something else.
        """
        tree = self._variant.tree
        paths = [*tree_paths(tree), self._env.get("PYTHONPATH", "")]
        env = {**self._env, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
        command = [sys.executable, *self._launcher, "console", "-c", str(self._config)]
        if self._cpus:
            taskset = shutil.which("taskset")
            if taskset is None:
                raise RuntimeError("--console-cpus needs taskset (util-linux)")
            command = [taskset, "-c", ",".join(map(str, self._cpus)), *command]
        with self._log.open("a", encoding="utf-8") as stderr:
            self.proc = subprocess.Popen(command, cwd=tree, env=env, stdout=subprocess.PIPE,
                                         stderr=stderr, stdin=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None  # noqa: S101 - a pipe was asked for
        line = self.proc.stdout.readline()
        if not line.startswith("console listening on "):
            self.kill()
            raise RuntimeError(f"the console did not start ({shlex.join(command)}): {line!r}; "
                               f"its log:\n{self.log_tail()}")
        listening = time.monotonic()
        self.url = line.split()[-1]
        match = re.match(r"authority key kid=\S+ public_key=(\S+)", self.proc.stdout.readline())
        if match is None:
            self.kill()
            raise RuntimeError("the console printed no authority key")
        self.key = AuthorityKey.from_base64(match.group(1))
        return listening

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def pids(self) -> list[int]:
        """The console's process and every process below it (worker processes)."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        return _tree(self.proc.pid)

    def stats(self) -> dict[str, float]:
        """Resident memory (KiB), open descriptors, threads and CPU seconds, summed over the
        process tree (Linux; empty elsewhere)."""
        totals = {"rss_kib": 0.0, "fds": 0.0, "threads": 0.0, "cpu_s": 0.0, "processes": 0.0}
        for pid in self.pids():
            with contextlib.suppress(OSError):
                totals["fds"] += len(os.listdir(f"/proc/{pid}/fd"))
                status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
                for line in status.splitlines():
                    key, _, value = line.partition(":")
                    if key == "VmRSS":
                        totals["rss_kib"] += int(value.split()[0])
                    elif key == "Threads":
                        totals["threads"] += int(value)
                stat = Path(f"/proc/{pid}/stat").read_text(
                    encoding="utf-8").rpartition(")")[2].split()
                totals["cpu_s"] += (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
                totals["processes"] += 1
        return totals

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self._log.read_text(errors="replace", encoding="utf-8")
                             .splitlines()[-lines:])
        return ""

    def guard_closes(self) -> int:
        """Connections the console's guard closed or refused so far (its log lines): a row
        with any is one where the bounds, not the work, shaped the figures."""
        with contextlib.suppress(OSError):
            text = self._log.read_text(errors="replace", encoding="utf-8")
            return sum(text.count(what) for what in (
                "evicting a connection", "closing a slow HTTP", "connection refused: all",
                "connections are all working"))
        return 0

    def budget_capped(self) -> str:
        """The console's warning when the open-file limit made it serve fewer connections
        than configured (``mtgateway_base.descriptors``), or ""."""
        with contextlib.suppress(OSError):
            for line in self._log.read_text(errors="replace", encoding="utf-8").splitlines():
                if "serving at most" in line:
                    return line.strip()[-300:]
        return ""

    def stop(self, timeout_s: float = 60.0) -> None:
        """SIGTERM (a graceful stop: held long-polls answered, connections closed), then
        reaped."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close()

    def kill(self) -> None:
        """SIGKILL the console and any worker process it started."""
        if self.proc is None:
            return
        for pid in reversed(self.pids()):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait()
        self._close()

    def _close(self) -> None:
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()


def _tree(root: int) -> list[int]:
    """``root`` and its descendants, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            parent = int(stat.read_text(encoding="utf-8").rpartition(")")[2].split()[1])
            children.setdefault(parent, []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def postgres_sessions(url: str) -> dict[str, int]:
    """Connections to ``url``'s database by ``application_name`` (the consoles' pools are
    ``mtgateway-console``, their LISTEN connections ``mtgateway-console-listen``)."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT application_name, count(*) FROM pg_stat_activity WHERE "
                            "datname = current_database() AND pid <> pg_backend_pid() "
                            "GROUP BY application_name").fetchall()
    return {str(name) or "(unnamed)": int(n) for name, n in rows}
