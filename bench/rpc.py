"""The daemon under test for ``/rpc`` and the aiohttp latency client.

The daemon is ``mtgateway demo`` in its own process (``python -m gateway demo --http-port 0
--bridge-port 0 --state-file F``): the daemon plus its emulated terminal, so every call
measured is a full round trip client → HTTP → auth → JSON-RPC → bridge → EA → back. The call
is ``symbol_info_tick("EURUSD")``, the typical bot read. The emulated EA shares the daemon's
process and event loop here (as in the demo); its work per call (~10 us) counts against the
gateway, and the EA hop has no cross-process wake-up.

The aiohttp client is for the latency ratio measured with the same client on both sides (the
performance spec's "aiohttp client" row); it is never used for throughput.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any, Final

import orjson

from .common import Pinning, Proc

__all__ = ["RPC_BODY", "Demo", "aiohttp_rtts", "start_demo"]

RPC_BODY: Final = (b'{"jsonrpc":"2.0","id":1,"method":"symbol_info_tick",'
                   b'"params":{"symbol":"EURUSD"}}')


class Demo:
    """A running ``mtgateway demo`` and its state file's contents."""

    def __init__(self, proc: Proc, state: dict[str, Any], workdir: tempfile.TemporaryDirectory[str]
                 ) -> None:
        self.proc, self.state, self._workdir = proc, state, workdir

    @property
    def rpc_url(self) -> str:
        return str(self.state["rpc_url"])

    @property
    def token(self) -> str:
        return str(self.state["token"])

    def stop(self) -> None:
        self.proc.stop()
        self._workdir.cleanup()


async def start_demo(pinning: Pinning, timeout_s: float = 30.0) -> Demo:
    """Start the demo on free ports and wait for its state file.

    Raises:
        RuntimeError: it exited or did not become ready in time.
    """
    workdir = tempfile.TemporaryDirectory(prefix="mtgw-bench-demo-")
    state_file = Path(workdir.name) / "state.json"
    proc = Proc(["-m", "gateway", "demo", "--http-port", "0", "--bridge-port", "0",
                 "--state-file", str(state_file), "--data-dir", str(Path(workdir.name) / "data")],
                pinning=pinning)
    deadline = time.monotonic() + timeout_s
    while not state_file.exists():
        if not proc.alive() or time.monotonic() > deadline:
            err = proc.stop()
            workdir.cleanup()
            raise RuntimeError(f"mtgateway demo did not start: {err}")
        await asyncio.sleep(0.05)
    return Demo(proc, orjson.loads(state_file.read_bytes()), workdir)


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
