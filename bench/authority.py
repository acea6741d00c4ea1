"""The token authority under N simulated daemons, on one and on two console instances.

``python -m bench.authority [--daemons 10,100] [--instances 1,2] [--duration 10]``

Set-up: a throw-away PostgreSQL server (Debian's binaries, as ``tests/pgkit.py`` starts it),
then for each instance count K a fresh database and K ``mtgateway console`` processes on it
sharing one data directory (the key files). Before the consoles start, the bench provisions
the largest N daemons in that database through the authority's own code: one owner, and per
daemon an Ed25519 device key, a token bound to its own terminal and the device's approval
(written as approved: the e-mail round trip is not what is measured).

Each of N simulated daemons then runs, for ``--duration`` seconds, what a daemon does:

* a closed loop over the calls a daemon makes, each device-signed and spread round-robin over
  the K instances (what a load balancer does): a record lookup by the token's hint, a record
  refresh by token id (both with a fresh nonce and a fresh box key, to which the console seals
  each record's ``server_key``), a terminal report (active, with account
  figures), a device status, and the authority's public keys;
* beside it, one held revocation long-poll (``POST /v1/device/revocations``, 25 s), polled
  again when answered, as a daemon's watcher holds one: these are counted apart, since a held
  poll's time is its wait, not its cost.

Reported per (K, N): sustained requests per second of the loop (completed requests over the
run), the p50/p99 latency of one request in milliseconds, how many long-polls were held, and
how many connections the consoles' guard closed or refused (evictions, deadlines: none is
expected; a failed row prints the end of each console's log).
Figures depend on the machine: run it on a quiet one. ``--json PATH`` writes the rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.common import percentile
from gateway.authority.api import DeviceInfo
from gateway.authority.boxes import BoxOpener
from gateway.authority.mailer import RecordingMailer
from gateway.authority.proofs import device_proof_headers
from gateway.authority.records import b64url_encode, device_id_for
from gateway.authority.service import Authority
from mtgateway.credential import token_hint
from tests.pgkit import PostgresServer

_OWNER = "bench@example.com"
_SERVER = "Bench-Server"
#: The first simulated terminal's login; daemon i trades login _LOGIN0 + i.
_LOGIN0 = 7_000_000
#: What a daemon's watcher asks the console to hold a revocation long-poll for.
_POLL_S = 25.0


@dataclass(frozen=True)
class _Daemon:
    """One provisioned daemon: its device key, its token and its terminal."""

    key: Ed25519PrivateKey
    device_id: str
    token_hint: str
    token_id: str
    login: int


async def _provision(data: Path, database_url: str, count: int) -> list[_Daemon]:
    """An owner and ``count`` approved daemons, each with a token for its own terminal."""
    authority = await Authority.open(data, RecordingMailer(), database_url=database_url)
    await authority.owners.create(_OWNER, secrets.token_urlsafe(18))
    daemons: list[_Daemon] = []
    for i in range(count):
        key = Ed25519PrivateKey.generate()
        raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
        device_id = device_id_for(raw)
        await authority.approvals.approve_local(DeviceInfo(device_id, raw))
        issued = await authority.tokens.issue(_OWNER, _LOGIN0 + i, _SERVER)
        daemons.append(_Daemon(key, device_id, token_hint(issued.token), issued.token_id,
                               _LOGIN0 + i))
    await authority.close()
    return daemons


def _start_console(config: Path, env: dict[str, str], log: Path
                   ) -> tuple[subprocess.Popen[str], str]:
    """One console; its log goes to ``log`` so a failed row can show what the console said."""
    with log.open("w") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "gateway", "console", "-c", str(config)],
                                env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("console listening on "):
        proc.kill()
        raise RuntimeError(f"the console did not start: {line!r}")
    return proc, line.split()[-1]


def _guard_lines(log: Path) -> int:
    """How many connections the console's guard closed or refused so far (its log lines):
    a row with any is one where the bounds, not the work, shaped the figures."""
    text = log.read_text()
    return sum(text.count(what) for what in ("evicting a connection", "closing a slow HTTP",
                                             "connection refused: all",
                                             "connections are all working"))


class _Signer:
    """Device-signed requests for one daemon (a fresh millisecond per proof: the console
    refuses a proof it has seen)."""

    def __init__(self, daemon: _Daemon) -> None:
        self.daemon = daemon
        self._stamp = int(time.time() * 1000)

    def headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        self._stamp = max(self._stamp + 1, int(time.time() * 1000))
        headers = device_proof_headers(self.daemon.key, method, path, body, time.time(),
                                       time_ms=self._stamp)
        if body:
            headers["Content-Type"] = "application/json"
        return headers


def _details(login: int) -> dict[str, object]:
    """A report's ``details`` as a daemon of this release sends them for a terminal holding
    two positions and a pending order, with five new deals (``docs/console.md``)."""
    position = {"ticket": 1, "time": 1_763_650_000, "type": 0, "magic": 0, "volume": 0.1,
                "price_open": 97_000.0, "sl": 0.0, "tp": 0.0, "price_current": 97_125.0,
                "swap": 0.0, "profit": 12.5, "symbol": "BTCUSD", "comment": ""}
    order = {"ticket": 3, "time_setup": 1_763_650_000, "type": 2, "magic": 0,
             "volume_current": 0.1, "price_open": 95_000.0, "sl": 0.0, "tp": 0.0,
             "price_current": 97_125.0, "time_expiration": 0, "symbol": "BTCUSD",
             "comment": ""}
    deal = {"ticket": 10, "order": 1, "time": 1_763_650_000, "type": 0, "entry": 0,
            "magic": 0, "position_id": 1, "volume": 0.1, "price": 97_000.0,
            "commission": 0.0, "swap": 0.0, "profit": 0.0, "symbol": "BTCUSD", "comment": ""}
    return {"account": {"login": login, "currency": "USD", "leverage": 100,
                        "balance": 10_000.0, "credit": 0.0, "equity": 10_012.5,
                        "margin": 194.0, "margin_free": 9_818.5, "margin_level": 5160.0},
            "positions": [position, {**position, "ticket": 2}], "orders": [order],
            "deals": [{**deal, "ticket": 10 + i} for i in range(5)],
            "positions_total": 2, "orders_total": 1}


def _calls(daemon: _Daemon, details: bool = False) -> list[tuple[str, str, bytes]]:
    """The loop's calls, in order: (method, path, body); a ``{nonce}`` and a ``{box}`` are
    filled per call. With ``details``, the report carries what a daemon of this release sends
    for the console's API and live page (its as-of, positions and ``details``)."""
    terminal: dict[str, object] = {
        "login": daemon.login, "server": _SERVER, "state": "active",
        "token_id": daemon.token_id, "platform": "MT5", "ea_version": "1.2.0",
        "balance": 10_000.0, "equity": 10_012.5, "currency": "USD", "positions": 2}
    if details:
        terminal.update(as_of=time.time(), open_positions=[
            {"ticket": t, "symbol": "BTCUSD", "type": "buy", "volume": 0.1,
             "price_open": 97_000.0, "price_current": 97_125.0, "sl": 0.0, "tp": 0.0,
             "profit": 12.5, "swap": 0.0} for t in (1, 2)], details=_details(daemon.login))
    report = {"terminals": [terminal]}
    return [
        ("POST", "/v1/records/lookup",
         b'{"token_hint": "%s", "nonce": "{nonce}", "box_key": "{box}"}'
         % daemon.token_hint.encode()),
        ("POST", "/v1/records/refresh",
         b'{"token_ids": ["%s"], "nonce": "{nonce}", "box_key": "{box}"}'
         % daemon.token_id.encode()),
        ("POST", "/v1/terminals/report", orjson.dumps(report)),
        ("GET", "/v1/device/status", b""),
        ("GET", "/v1/keys", b""),
    ]


async def _loop(daemon: _Daemon, urls: list[str], offset: int, until: float,
                session: aiohttp.ClientSession, latencies: list[float],
                details: bool = False) -> None:
    signer = _Signer(daemon)
    calls = _calls(daemon, details)
    i = offset
    while time.monotonic() < until:
        url = urls[i % len(urls)]
        method, path, body = calls[i % len(calls)]
        nonce = secrets.token_hex(16)
        box = BoxOpener(daemon.device_id, nonce)  # what a daemon makes for each request
        body = body.replace(b"{nonce}", nonce.encode()).replace(
            b"{box}", b64url_encode(box.public_key).encode())
        headers = signer.headers(method, path, body) if path != "/v1/keys" else {}
        start = time.perf_counter()
        async with session.request(method, url + path, data=body or None,
                                   headers=headers) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"{url}{path} answered {response.status}")
        latencies.append((time.perf_counter() - start) * 1000)
        i += 1


async def _watch(daemon: _Daemon, url: str, until: float, session: aiohttp.ClientSession,
                 held: list[int]) -> None:
    """One revocation long-poll held at a time, as a daemon's watcher holds it."""
    signer = _Signer(daemon)
    cursor: int | None = None
    while time.monotonic() < until:
        body = orjson.dumps({"cursor": cursor, "wait_s": min(_POLL_S, until - time.monotonic())
                             if cursor is not None else 0.0})
        path = "/v1/device/revocations"
        held[0] += 1
        try:
            async with session.post(url + path, data=body,
                                    headers=signer.headers("POST", path, body)) as response:
                answer = await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{url}{path} answered {response.status}")
        finally:
            held[0] -= 1
        cursor = int(orjson.loads(answer)["cursor"])
        held[1] += 1


async def _measure(urls: list[str], daemons: list[_Daemon], duration_s: float,
                   details: bool = False) -> dict[str, float]:
    latencies: list[float] = []
    held = [0, 0, 0]  # held now, answered, most held at once
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        began = time.monotonic()
        until = began + duration_s
        watchers = [asyncio.create_task(_watch(d, urls[n % len(urls)], until, session, held))
                    for n, d in enumerate(daemons)]

        async def peak() -> None:
            while time.monotonic() < until:
                held[2] = max(held[2], held[0])
                await asyncio.sleep(0.1)

        sampler = asyncio.create_task(peak())
        await asyncio.gather(*(_loop(d, urls, n, until, session, latencies, details)
                               for n, d in enumerate(daemons)))
        elapsed = time.monotonic() - began
        # A watcher that failed (an error answer) ended early: that is a failed run, not a
        # quieter one.
        failed = [t.exception() for t in watchers if t.done() and not t.cancelled()
                  and t.exception() is not None]
        sampler.cancel()
        for task in watchers:
            task.cancel()
        await asyncio.gather(sampler, *watchers, return_exceptions=True)
        if failed:
            raise RuntimeError(f"{len(failed)} revocation long-poll(s) failed: {failed[0]}")
    return {"requests": len(latencies), "req_per_s": len(latencies) / elapsed,
            "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99),
            "long_polls_held_max": held[2]}


def run(daemons: list[int], instances: list[int], duration_s: float,
        details: bool = False) -> list[dict[str, float]]:
    """Every (instances, daemons) row (``details``: reports as a daemon of this release
    sends them, with positions and the details for the console's API)."""
    rows: list[dict[str, float]] = []
    with PostgresServer() as server, tempfile.TemporaryDirectory() as tmp:
        for count in instances:
            root = Path(tmp) / f"k{count}"
            data = root / "data"
            data.mkdir(parents=True, mode=0o700)
            config = root / "config.toml"
            # Every simulated daemon comes from this one address, so the per-address bounds
            # are raised to hold one long-poll and two connections per daemon (the per-key
            # bound stays): what a console behind a proxy is configured with.
            slots = 2 * max(daemons) + 16
            config.write_text(f'data_dir = "{data.as_posix()}"\n[console]\nport = 0\n'
                              f'max_long_polls_per_peer = {max(daemons) + 1}\n'
                              f'max_connections = {slots}\n'
                              f'max_connections_per_peer = {slots}\n'
                              '[smtp]\nhost = "127.0.0.1"\nport = 1\nsecurity = "none"\n')
            database_url = server.new_database()
            env = {**os.environ, "MTGATEWAY_DATABASE_URL": database_url}
            provisioned = asyncio.run(_provision(data, database_url, max(daemons)))
            procs: list[subprocess.Popen[str]] = []
            urls: list[str] = []
            try:
                for k in range(count):
                    proc, url = _start_console(config, env, root / f"console-{k}.log")
                    procs.append(proc)
                    urls.append(url)
                closed_before = 0
                for n in daemons:
                    try:
                        measured = asyncio.run(_measure(urls, provisioned[:n], duration_s,
                                                        details))
                    except Exception:
                        for k in range(count):
                            lines = (root / f"console-{k}.log").read_text().splitlines()
                            print(f"console {k}'s last log lines:", *lines[-20:], sep="\n  ",
                                  file=sys.stderr)
                        raise
                    closed = sum(_guard_lines(root / f"console-{k}.log") for k in range(count))
                    row = {"instances": count, "daemons": n, **measured,
                           "guard_closes": closed - closed_before}
                    closed_before = closed
                    print(f"instances={count} daemons={n}: {row['req_per_s']:.0f} req/s, "
                          f"p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms "
                          f"({row['requests']:.0f} requests, up to "
                          f"{row['long_polls_held_max']:.0f} long-polls held, "
                          f"{row['guard_closes']:.0f} connections closed by the guard)",
                          flush=True)
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
    parser.add_argument("--details", action="store_true",
                        help="reports carry positions and details (the console API's data)")
    args = parser.parse_args(argv)
    rows = run([int(n) for n in args.daemons.split(",")],
               [int(k) for k in args.instances.split(",")], args.duration, args.details)
    if args.json:
        args.json.write_text(json.dumps({"authority": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
