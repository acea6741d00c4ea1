"""A console flooded with device proofs from throw-away keys: is it still answering?

``python -m bench.proofflood [--keys 768] [--burst-s 3] [--watch-s 15] [--json PATH]``

Before proofs from unknown keys were bounded (``mtgateway_console/keygate.py``), 576 and 768
long-polls, each signed by a fresh Ed25519 key and sent within 2-4 s, kept ``/health`` and a
legitimate device's call unanswered (2 s each) for 8-11 s, the console verifying 50-75 proofs
a second (a signature check and a database write each).

Set-up: one ``mtgateway-console`` process (SQLite, in a temporary data directory) and a
legitimate device its owner approved (written through the authority's own code before the
console starts, as ``bench.authority`` provisions its daemons). Then ``--keys`` long-polls
(``POST /v1/device/revocations``, 30 s), each under a new key, are started evenly over
``--burst-s`` seconds from 12 loopback addresses (127.0.0.2-13: twelve "peers"), while a
prober asks, every 100 ms, ``GET /health`` and the legitimate device's ``GET
/v1/device/status`` (a fresh proof each), each with a 2 s deadline, for ``--watch-s`` seconds.

Reported: for each probe, how many were answered (200) within 2 s, the longest stretch without an
answer in seconds, and the p50/p99/max latency of those answered; for the flood, its answers by
status (held long-polls still open at the end count as ``held``). ``--unsigned`` sends the
same requests without a proof, each refused at once: the HTTP handling's own cost, the floor
the signed flood is compared with. Figures depend on the machine: compare runs made on the same
one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.common import ROOT, free_port, percentile
from mtgateway_base.wire.proofs import device_info, device_proof_headers
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import Authority

_PEERS = [f"127.0.0.{i}" for i in range(2, 14)]
_DEADLINE_S = 2.0


def _signed(key: Ed25519PrivateKey, method: str, path: str, body: bytes) -> dict[str, str]:
    return {**device_proof_headers(key, method, path, body, time.time()),
            "Content-Type": "application/json"}


async def _probe(session: aiohttp.ClientSession, url: str, key: Ed25519PrivateKey | None
                 ) -> float | None:
    """Seconds to a 200, or None past the deadline, on another status or on a failure."""
    path = "/health" if key is None else "/v1/device/status"
    headers = {} if key is None else _signed(key, "GET", path, b"")
    started = time.perf_counter()
    try:
        async with asyncio.timeout(_DEADLINE_S), session.get(url + path, headers=headers) as r:
            await r.read()
            if r.status != 200:
                return None
    except (TimeoutError, aiohttp.ClientError):
        return None
    return time.perf_counter() - started


def _summary(samples: list[tuple[float, float | None]], watch_s: float) -> dict[str, Any]:
    """Answered probes, the longest time without an answer (from the start, between answers,
    and to the end of the watch) and the latencies of the answered ones."""
    answered = [s for _, s in samples if s is not None]
    last = longest = 0.0
    for sent, latency in samples:
        if latency is not None:
            longest = max(longest, sent + latency - last)
            last = sent + latency
    longest = max(longest, watch_s - last)
    return {"probes": len(samples), "answered": len(answered),
            "longest_unanswered_s": round(longest, 1),
            "p50_ms": round(percentile(answered, 50) * 1000, 1),
            "p99_ms": round(percentile(answered, 99) * 1000, 1),
            "max_ms": round(max(answered, default=float("nan")) * 1000, 1)}


async def _flood(url: str, keys: int, burst_s: float, statuses: Counter[str], *,
                 signed: bool = True) -> None:
    body = b'{"cursor": 0, "wait_s": 30}'
    path = "/v1/device/revocations"
    sessions = [aiohttp.ClientSession(connector=aiohttp.TCPConnector(
        limit=0, force_close=True, local_addr=(peer, 0))) for peer in _PEERS]

    async def one(i: int) -> None:
        await asyncio.sleep(burst_s * i / keys)  # spread evenly over the burst
        key = Ed25519PrivateKey.generate()
        headers = _signed(key, "POST", path, body) if signed else {
            "Content-Type": "application/json"}
        try:
            async with sessions[i % len(sessions)].post(url + path, data=body,
                                                        headers=headers) as r:
                await r.read()
                statuses[str(r.status)] += 1
        except asyncio.CancelledError:
            statuses["held"] += 1
            raise
        except aiohttp.ClientError as exc:
            statuses[type(exc).__name__] += 1

    tasks = [asyncio.create_task(one(i)) for i in range(keys)]
    try:
        await asyncio.Event().wait()  # until cancelled by the caller
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for session in sessions:
            await session.close()


async def _approved_device(data: Path) -> Ed25519PrivateKey:
    """A device key an owner approved, in the authority's database at ``data``."""
    authority = await Authority.open(data, RecordingMailer())
    try:
        await authority.owners.create("owner@example.com", "a long bench password")
        key = Ed25519PrivateKey.generate()
        await authority.approvals.approve_local(device_info(key))  # approved by the owner
    finally:
        await authority.close()
    return key


async def run(keys: int, burst_s: float, watch_s: float, *, signed: bool = True
              ) -> dict[str, Any]:
    """One flood against a fresh console; the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        legit = await _approved_device(Path(tmp, "data"))
        port = free_port()
        config = Path(tmp) / "config.toml"
        config.write_text(f'data_dir = "{Path(tmp, "data").as_posix()}"\n'
                          f"[console]\nport = {port}\nmax_long_polls_per_peer = 100000\n"
                          '[smtp]\nhost = "127.0.0.1"\nport = 1\nsecurity = "none"\n',
                          encoding="utf-8")
        config.chmod(0o600)
        console = subprocess.Popen(  # noqa: ASYNC220 - started once, waited on below
            [sys.executable, "-m", "mtgateway_console", "-c", str(config)], cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            assert console.stdout is not None
            await asyncio.to_thread(console.stdout.readline)  # "console listening on ..."
            url = f"http://127.0.0.1:{port}"
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(
                    force_close=True)) as session:
                assert await _probe(session, url, legit) is not None
                statuses: Counter[str] = Counter()
                flood = asyncio.create_task(_flood(url, keys, burst_s, statuses,
                                                   signed=signed))
                health: list[tuple[float, float | None]] = []
                device: list[tuple[float, float | None]] = []
                started = time.perf_counter()
                while time.perf_counter() - started < watch_s:
                    tick = time.perf_counter()
                    h, d = await asyncio.gather(_probe(session, url, None),
                                                _probe(session, url, legit))
                    health.append((tick - started, h))
                    device.append((tick - started, d))
                    await asyncio.sleep(max(0.0, 0.1 - (time.perf_counter() - tick)))
                flood.cancel()
                await asyncio.gather(flood, return_exceptions=True)
        finally:
            console.terminate()
            console.wait()
    return {"keys": keys, "burst_s": burst_s, "watch_s": watch_s, "signed": signed,
            "health": _summary(health, watch_s), "known_device": _summary(device, watch_s),
            "flood": dict(statuses)}


def main() -> None:
    """Run once and print the figures as JSON (and write them with ``--json``)."""
    parser = argparse.ArgumentParser(prog="python -m bench.proofflood")
    parser.add_argument("--keys", type=int, default=768)
    parser.add_argument("--burst-s", type=float, default=3.0)
    parser.add_argument("--watch-s", type=float, default=15.0)
    parser.add_argument("--unsigned", action="store_true",
                        help="the same requests without a proof (each refused at once): "
                             "what the HTTP handling alone costs, a floor to compare with")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    figures = asyncio.run(run(args.keys, args.burst_s, args.watch_s,
                              signed=not args.unsigned))
    text = json.dumps(figures, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
