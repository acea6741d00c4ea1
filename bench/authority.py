"""The token authority under N simulated daemons, on one and on two console instances.

``python -m bench.authority [--daemons 10,100] [--instances 1,2] [--duration 10]``

Set-up: a throw-away PostgreSQL server (Debian's binaries, as ``tests/pgkit.py`` starts it),
then for each instance count K a fresh database and K ``mtgateway console`` processes on it
sharing one data directory (the key files). N simulated daemons, each with its own Ed25519
device key, run closed loops for ``--duration`` seconds, spreading their requests round-robin
over the K instances (what a load balancer does). Each daemon alternates the two calls every
daemon makes that need no approved device: a device-signed ``GET /v1/device/status`` (the
proof is checked and written to the shared replay guard: one database write per request) and
``GET /v1/keys`` (the authority's public keys, a daemon's key refresh).

Reported per (K, N): sustained requests per second (completed requests over the run) and the
p50/p99 latency of one request, in milliseconds. Not yet in the mix: token record refreshes,
lookups that start approvals, terminal reports and revocation long-polls (they need approved
devices; the next step of this command).

Figures depend on the machine: run it on a quiet one. ``--json PATH`` writes the rows.
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
from pathlib import Path

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.common import percentile
from gateway.authority.proofs import device_proof_headers
from tests.pgkit import PostgresServer


def _start_console(config: Path, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "gateway", "console", "-c", str(config)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("console listening on "):
        proc.kill()
        raise RuntimeError(f"the console did not start: {line!r}")
    return proc, line.split()[-1]


async def _daemon(urls: list[str], offset: int, until: float,
                  session: aiohttp.ClientSession, latencies: list[float]) -> None:
    key = Ed25519PrivateKey.generate()
    i = offset
    stamp = int(time.time() * 1000)
    while time.monotonic() < until:
        url = urls[i % len(urls)]
        start = time.perf_counter()
        if i % 2 == 0:
            stamp = max(stamp + 1, int(time.time() * 1000))
            headers = device_proof_headers(key, "GET", "/v1/device/status", b"", time.time(),
                                           time_ms=stamp)
            async with session.get(url + "/v1/device/status", headers=headers) as response:
                await response.read()
                ok = response.status == 200
        else:
            async with session.get(url + "/v1/keys") as response:
                await response.read()
                ok = response.status == 200
        if not ok:
            raise RuntimeError(f"{url} answered {response.status}")
        latencies.append((time.perf_counter() - start) * 1000)
        i += 1


async def _measure(urls: list[str], daemons: int, duration_s: float) -> dict[str, float]:
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        began = time.monotonic()
        until = began + duration_s
        await asyncio.gather(*(_daemon(urls, d, until, session, latencies)
                               for d in range(daemons)))
        elapsed = time.monotonic() - began
    return {"requests": len(latencies), "req_per_s": len(latencies) / elapsed,
            "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99)}


def run(daemons: list[int], instances: list[int], duration_s: float) -> list[dict[str, float]]:
    """Every (instances, daemons) row."""
    rows: list[dict[str, float]] = []
    with PostgresServer() as server, tempfile.TemporaryDirectory() as tmp:
        for count in instances:
            root = Path(tmp) / f"k{count}"
            data = root / "data"
            data.mkdir(parents=True, mode=0o700)
            config = root / "config.toml"
            config.write_text(f'data_dir = "{data.as_posix()}"\n[console]\nport = 0\n'
                              '[smtp]\nhost = "127.0.0.1"\nport = 1\nsecurity = "none"\n')
            env = {**os.environ, "MTGATEWAY_DATABASE_URL": server.new_database()}
            procs: list[subprocess.Popen[str]] = []
            urls: list[str] = []
            try:
                for _ in range(count):
                    proc, url = _start_console(config, env)
                    procs.append(proc)
                    urls.append(url)
                for n in daemons:
                    row = {"instances": count, "daemons": n,
                           **asyncio.run(_measure(urls, n, duration_s))}
                    print(f"instances={count} daemons={n}: {row['req_per_s']:.0f} req/s, "
                          f"p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms "
                          f"({row['requests']:.0f} requests)", flush=True)
                    rows.append(row)
            finally:
                for proc in procs:
                    proc.terminate()
                    proc.wait(timeout=30)
                    if proc.stdout is not None:
                        proc.stdout.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.authority``."""
    parser = argparse.ArgumentParser(prog="python -m bench.authority", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--daemons", default="10,100",
                        help="comma-separated simulated daemon counts (default 10,100)")
    parser.add_argument("--instances", default="1,2",
                        help="comma-separated console instance counts (default 1,2)")
    parser.add_argument("--duration", type=float, default=10.0,
                        help="seconds per (instances, daemons) row (default 10)")
    parser.add_argument("--json", type=Path, help="write the rows here")
    args = parser.parse_args(argv)
    rows = run([int(n) for n in args.daemons.split(",")],
               [int(k) for k in args.instances.split(",")], args.duration)
    if args.json:
        args.json.write_text(json.dumps({"authority": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
