"""Shared plumbing: child processes, CPU pinning, percentiles, /proc memory, free ports.

Pinning: on a 2-vCPU VM an unpinned run flips between the same-core (~14 us) and cross-core
(~55 us) wake-up regimes from one repetition to the next (``docs/performance.md``). The bench
therefore pins every server it starts (floors and daemons) to one CPU and itself, wrk and the
subscriber process to the other, so every latency is measured in the cross-core regime, the
steadier and the realistic one (a bot and its gateway are separate processes). ``--no-pin``
turns this off. Pinning is Linux-only and silently skipped elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ROOT",
    "Pinning",
    "Proc",
    "free_port",
    "median",
    "percentile",
    "proc_cpu_s",
    "proc_memory_kib",
    "spread",
    "summarize_ns",
    "wait_http",
    "wait_tcp",
]

#: The repository root (``python -m bench`` runs from it; children get it as their cwd).
ROOT = Path(__file__).resolve().parent.parent


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return float(ordered[rank])


def median(values: Sequence[float]) -> float:
    """The median of repetitions (NaN when there are none)."""
    clean = sorted(v for v in values if v == v)
    if not clean:
        return float("nan")
    mid = len(clean) // 2
    return clean[mid] if len(clean) % 2 else (clean[mid - 1] + clean[mid]) / 2


def spread(values: Sequence[float]) -> list[float]:
    """``[min, max]`` of the repetitions, for the table's ranges."""
    clean = [v for v in values if v == v]
    return [min(clean), max(clean)] if clean else []


def summarize_ns(samples_ns: Sequence[int]) -> dict[str, float]:
    """p50/p99/max in microseconds and the sample count, from nanosecond samples."""
    return {"p50_us": percentile(samples_ns, 50) / 1000,
            "p99_us": percentile(samples_ns, 99) / 1000,
            "max_us": (max(samples_ns) / 1000) if samples_ns else float("nan"),
            "n": len(samples_ns)}


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the child binds it a moment later)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def proc_cpu_s(pid: int) -> float | None:
    """CPU seconds ``pid`` has used (user + system) from /proc; None off Linux.

    CPU per request is what a noisy shared machine distorts least: latency and throughput
    include the time a process waits for a CPU, its own CPU use does not.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rpartition(")")[2].split()
    except OSError:
        return None
    # after the command: state is field 3, utime and stime are fields 14 and 15 (proc(5))
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_memory_kib(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` (peak RSS) of ``pid`` in KiB from /proc; empty off Linux."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    return out


@dataclass(frozen=True)
class Pinning:
    """Which CPUs servers and clients run on; ``None`` when pinning is off or unavailable."""

    server: int | None
    client: int | None

    @classmethod
    def choose(cls, enabled: bool) -> Pinning:
        """Servers on the first allowed CPU, clients on the second (needs two CPUs)."""
        getter = getattr(os, "sched_getaffinity", None)
        if not enabled or getter is None:
            return cls(None, None)
        cpus = sorted(getter(0))
        if len(cpus) < 2:
            return cls(None, None)
        return cls(cpus[0], cpus[1])

    def pin_self(self) -> None:
        """Pin this (client) process; children started later inherit it."""
        if self.client is not None:
            os.sched_setaffinity(0, {self.client})

    def pin_server(self, pid: int) -> None:
        """Move a freshly started server to the server CPU (before it starts any thread)."""
        if self.server is not None:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(pid, {self.server})

    def describe(self) -> dict[str, Any]:
        return {"enabled": self.server is not None, "server_cpu": self.server,
                "client_cpu": self.client}


def tree_paths(tree: Path) -> list[str]:
    """Where a checkout's packages are imported from, for its commands' ``PYTHONPATH``: each
    distribution's ``src/`` it has (the daemon's, since the workspace; the client's, the ground
    floor's, the console's), then the root (the benches, and the daemon's packages in a tree
    from before the workspace). This checkout's are installed: its root alone."""
    if tree == ROOT:
        return [str(tree)]
    return [*(str(tree / project / "src") for project in ("daemon", "client", "base", "console")
              if (tree / project / "src").is_dir()), str(tree)]


def daemon_package(tree: Path) -> Path:
    """The folder of a checkout's daemon package (``gateway/``): under ``daemon/src/`` since the
    workspace, at the root before it."""
    inside = tree / "daemon" / "src" / "gateway"
    return inside if inside.is_dir() else tree / "gateway"


class Proc:
    """A child Python process of this bench, stopped with SIGTERM (then SIGKILL) by its pid."""

    def __init__(self, args: Sequence[str], *, pinning: Pinning | None = None,
                 server: bool = True, stdout: int | None = subprocess.DEVNULL,
                 extra_env: Mapping[str, str] | None = None, tree: Path = ROOT,
                 wrapper: Sequence[str] = ()) -> None:
        # ``tree``: the checkout whose code runs (another one's for an A/B of trees), its
        # client's, ground floor's and console's sources first too (as ``bench.daemon``'s
        # commands take them: else the ground floor, the llhttp edge with it, would be this
        # checkout's); ``wrapper``: what runs the interpreter (valgrind)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [*tree_paths(tree), os.environ.get("PYTHONPATH", "")]), **(extra_env or {}))
        # stderr to a file, not a pipe: a chatty child must never block on a full pipe.
        self._stderr = tempfile.TemporaryFile()
        self.popen = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
            [*wrapper, sys.executable, *args], cwd=tree, env=env, stdout=stdout,
            stderr=self._stderr, stdin=subprocess.DEVNULL)
        if pinning is not None and server:
            pinning.pin_server(self.popen.pid)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout_s: float = 5.0) -> str:
        """Terminate and reap; whatever the child wrote to stderr (for error messages)."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout_s)
        err = b""
        with contextlib.suppress(OSError, ValueError):
            self._stderr.seek(0)
            err = self._stderr.read()
            self._stderr.close()
        return err.decode(errors="replace")[-2000:]


async def wait_tcp(port: int, proc: Proc, timeout_s: float = 15.0) -> None:
    """Until 127.0.0.1:``port`` accepts a connection; raise if the process dies first."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if not proc.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"TCP server did not start: {proc.stop()}") from None
            await asyncio.sleep(0.05)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return


async def wait_http(url: str, proc: Proc, timeout_s: float = 30.0) -> None:
    """Poll ``url`` (a GET) until it answers 200; raise if the process dies or time runs out."""
    import aiohttp

    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if not proc.alive():
                raise RuntimeError(f"server exited early: {proc.stop()}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not come up within {timeout_s:g} s")
