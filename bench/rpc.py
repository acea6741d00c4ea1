"""The daemon under test for ``/rpc`` and the aiohttp latency client.

The daemon is ``mtgateway run -c <tmp config>`` with a token from ``mtgateway owner create``
+ ``mtgateway token create`` (``bench.daemon``, shared with the fan-out set-up), and the
emulated terminal runs as a *separate process* (``python -m ea_bridge.emulator``) connected
to its bridge port, as a real deployment is laid out: the EA lives in the MetaTrader
terminal's process, never in the daemon's. Every call measured is a full round trip client →
HTTP → auth → JSON-RPC → bridge → EA process → back. The call is
``symbol_info_tick("EURUSD")``, the typical bot read.

Why not ``mtgateway demo`` (what this measured before): the demo runs the emulated terminal
inside the daemon's process and event loop, so its work per call (~9 % of the daemon's
samples under wrk c=32) counted against the gateway and its EA hop had no cross-process
wake-up; neither is true of a deployment.

Placement of the emulator: pinned to the bench side's CPU (with this process, wrk and the
aiohttp client), not the server CPU. The floors get a CPU to themselves; pinning the EA on
the server CPU would charge the terminal's CPU to the daemon's core, which a deployment
(where MetaTrader has its own threads) does not, and leaving it unpinned makes every
repetition flip between the same-core and cross-core wake-up regimes (``bench.common``).
On the client CPU the bridge hop is cross-core like every other hop the bench measures.
It offers one symbol at 1 tick/s so its own ticks do not load the machine.

The aiohttp client is for the latency ratio measured with the same client on both sides (the
performance spec's "aiohttp client" row); it is never used for throughput.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from typing import Final, Literal

from .common import Pinning, Proc
from .daemon import RunDaemon

__all__ = ["EA_LOGIN", "EA_SERVER", "RPC_BODY", "RpcDaemon", "aiohttp_rtts", "start_rpc_daemon"]

RPC_BODY: Final = (b'{"jsonrpc":"2.0","id":1,"method":"symbol_info_tick",'
                   b'"params":{"symbol":"EURUSD"}}')
EA_LOGIN: Final = 7000002
EA_SERVER: Final = "Bench-Rpc"
#: Ticks per second the emulated terminal offers for its one symbol (background only).
EA_TICK_RATE_HZ: Final = 1.0

#: Where the emulated terminal's process runs: the client CPU (the default, see the module
#: docstring), the server CPU (with the daemon), or unpinned (any CPU).
EaPlacement = Literal["client", "server", "none"]


class RpcDaemon:
    """``mtgateway run`` and the emulated terminal's process connected to it."""

    def __init__(self, daemon: RunDaemon, emulator: Proc) -> None:
        self.daemon, self.emulator = daemon, emulator

    @property
    def proc(self) -> Proc:
        """The daemon's process (what is profiled and whose memory is read)."""
        return self.daemon.proc

    @property
    def rpc_url(self) -> str:
        return self.daemon.rpc_url

    @property
    def token(self) -> str:
        return self.daemon.token

    def stop(self) -> None:
        self.emulator.stop()
        self.daemon.stop()


def _place(pid: int, pinning: Pinning, placement: EaPlacement) -> None:
    """Move the emulator's process to its CPU(s); children inherit the bench's CPU."""
    setter = getattr(os, "sched_setaffinity", None)
    if setter is None or pinning.server is None or placement == "client":
        return
    cpus = {pinning.server} if placement == "server" else {pinning.server, pinning.client}
    with contextlib.suppress(OSError):
        setter(pid, cpus)


async def start_rpc_daemon(pinning: Pinning, *, placement: EaPlacement = "client",
                           timeout_s: float = 30.0, rpc_edge: str = "llhttp") -> RpcDaemon:
    """Start the daemon (``[server] rpc_edge`` as given) and the emulated terminal; return
    once a call goes through.

    Raises:
        RuntimeError: either process exited or the terminal was not live in time.
    """
    daemon = RunDaemon(pinning, login=EA_LOGIN, server=EA_SERVER, rpc_edge=rpc_edge)
    emulator: Proc | None = None
    try:
        await daemon.wait_ready()
        emulator = Proc(["-m", "ea_bridge.emulator", "--bridge", f"127.0.0.1:{daemon.bridge_port}",
                         "--login", str(EA_LOGIN), "--server", EA_SERVER, "--symbols", "EURUSD",
                         "--tick-rate", str(EA_TICK_RATE_HZ)],
                        pinning=pinning, server=False,
                        extra_env={"MTGATEWAY_TOKEN": daemon.token})  # not in argv: ps shows argv
        _place(emulator.pid, pinning, placement)
        await _wait_live(daemon, emulator, timeout_s)
    except BaseException:
        if emulator is not None:
            emulator.stop()
        daemon.stop()
        raise
    return RpcDaemon(daemon, emulator)


async def _wait_live(daemon: RunDaemon, emulator: Proc, timeout_s: float) -> None:
    """Until ``symbol_info_tick`` answers a result (the terminal has connected)."""
    import aiohttp

    deadline = time.monotonic() + timeout_s
    headers = {"Authorization": f"Bearer {daemon.token}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession(headers=headers) as session:
        while True:
            for proc, what in ((daemon.proc, "daemon"), (emulator, "emulated terminal")):
                if not proc.alive():
                    raise RuntimeError(f"the {what} exited: {proc.stop()}")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.post(daemon.rpc_url, data=RPC_BODY) as response:
                    if response.status == 200 and b'"result"' in await response.read():
                        return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the emulated terminal was not live within {timeout_s:g} s")
            await asyncio.sleep(0.05)


async def aiohttp_rtts(url: str, body: bytes, count: int, *, token: str | None = None,
                       warmup: int = 100) -> list[int]:
    """Sequential POSTs over one kept-alive connection; round trips in nanoseconds.

    Raises:
        RuntimeError: a response was not 200 or (for the daemon) not a JSON-RPC result.
    """
    import aiohttp

    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    samples: list[int] = []
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        for i in range(warmup + count):
            started = time.perf_counter_ns()
            async with session.post(url, data=body) as response:
                payload = await response.read()
            elapsed = time.perf_counter_ns() - started
            if i == 0 and (response.status != 200 or b'"result"' not in payload):
                raise RuntimeError(f"{url} answered {response.status}: {payload[:200]!r}")
            if i >= warmup:
                samples.append(elapsed)
    return samples
