"""``python -m bench.consolechaos``: the console under every attack on what its callers share,
while fair callers go on; a seeded run, and a count of the fair calls that did not complete.

``bench.chaos`` drives orders through a broken link; this drives the console's door through
the attacks its fair-share rule exists for (``mtgateway_console/fairshare.py``). The real console
(``mtgateway-console``, a process of its own on loopback, a SQLite file, the default
connection budget unless told) serves two kinds of callers at once, each kind from a process
of its own (so neither's client work slows the other's):

* **fair callers**, each from a loopback address of its own: owners signing in on the page,
  calling the owner API with their password and the MT4 Manager API with their token, and
  asking ``/health``; daemons reporting their terminals and holding their revocation
  long-polls. Each call must complete with its expected answer within ``--fair-timeout-s``
  (what a careful client waits): anything else (a 503, a 429, a cut connection, a timeout)
  is a **failed fair call**, counted by kind with its reason;
* **attackers**, from a few addresses of their own, at full effort for the whole run, the
  mix drawn by the seed: request bodies left unfinished on a signed-in session's connections
  and on an access token's; header blocks left open; made-up reset and take-back links (a
  password hash each, before the rule); ``/forgot`` asks with made-up addresses (a row
  each); the live page's streams; Basic calls with a password the attacker holds (a hash
  each); wrong passwords (the lockout).

The target is 0 failed fair calls. Exit status 0 when it is met. ``--json`` writes every
figure. A run of a few seconds with small counts (``tests/test_bench_consolechaos.py``)
proves the harness; the figure for ``docs/performance.md`` comes from a longer run on a quiet
machine (``python -m bench.consolechaos --seed 1 --seconds 120``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.common import ROOT, free_port
from mtgateway_base.wire.proofs import device_info, device_proof_headers
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import Authority

__all__ = ["ATTACKS", "ChaosReport", "main", "run"]

_PASSWORD = "a long bench password"
_ATTACKER = "attacker@example.com"
_FORM = "application/x-www-form-urlencoded"
#: The double-submit pair of a page before sign-in (any matching cookie and field).
_PRE = "console-chaos-pre-sign-in-token"
#: The attackers' addresses; fair callers each have one of 127.0.1.x.
_ATTACKER_ADDRESSES = ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")
#: The attacks, each an attacker task's loop (the seed draws how many of each).
ATTACKS = ("slow_body", "token_body", "open_headers", "made_up_link", "forgot", "streams",
           "basic_hashes", "wrong_password")


@dataclass
class ChaosReport:
    """What the run did: fair calls and how many failed (by kind and reason), the attacks'
    requests and answers."""

    seed: int
    seconds: float = 0.0
    fair: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    attackers: Counter[str] = field(default_factory=Counter)
    attacks: Counter[str] = field(default_factory=Counter)

    @property
    def failed_fair_calls(self) -> int:
        return sum(self.failed.values())

    def lines(self) -> list[str]:
        """The human report."""
        return [
            f"seed {self.seed}, {self.seconds:.0f} s",
            "fair calls: " + ", ".join(f"{k} {v}" for k, v in sorted(self.fair.items())),
            f"failed fair calls: {self.failed_fair_calls}"
            + (" (" + ", ".join(f"{k}: {v}" for k, v in sorted(self.reasons.items())) + ")"
               if self.reasons else ""),
            "attackers: " + ", ".join(f"{k} {v}" for k, v in sorted(self.attackers.items())),
            "attack answers: " + ", ".join(f"{k} {v}" for k, v in
                                           sorted(self.attacks.items())),
        ]

    def as_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "seconds": self.seconds, "fair": dict(self.fair),
                "failed_fair_calls": self.failed_fair_calls, "failed": dict(self.failed),
                "reasons": dict(self.reasons), "attackers": dict(self.attackers),
                "attacks": dict(self.attacks)}


# -- raw HTTP, a socket per call from an address of the caller's own -------------------------

def _request(method: str, path: str, headers: dict[str, str], body: bytes = b"",
             close: bool = True) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _exchange(port: int, address: str, data: bytes) -> tuple[int, bytes]:
    """One request on a connection of its own: the status and the body (0 for a connection
    closed before an answer)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(address, 0))
    try:
        writer.write(data)
        answer = await reader.read()
    finally:
        writer.close()
    if not answer.startswith(b"HTTP/1.1 "):
        return 0, b""
    return int(answer.split(b" ", 2)[1]), answer.partition(b"\r\n\r\n")[2]


@dataclass
class _Setup:
    port: int
    owners: list[str]
    cookies: dict[str, str]
    bearers: dict[str, str]
    daemons: list[Ed25519PrivateKey]
    attacker_cookie: str
    attacker_bearer: str


def _basic(email: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(
        f"{email}:{_PASSWORD}".encode()).decode()}


def _form(**fields: str) -> bytes:
    from urllib.parse import urlencode  # noqa: PLC0415

    return urlencode(fields).encode()


# -- the fair callers ------------------------------------------------------------------------

async def _fair(report: ChaosReport, kind: str, expected: set[int], timeout_s: float,
                call: Callable[[], Awaitable[tuple[int, bytes]]]) -> None:
    """One fair call, counted; anything but an expected answer within the deadline fails."""
    report.fair[kind] += 1
    try:
        status, _ = await asyncio.wait_for(call(), timeout_s)
    except TimeoutError:
        reason = "timeout"
    except OSError as exc:
        reason = type(exc).__name__
    else:
        if status in expected:
            return
        reason = f"status {status}" if status else "cut"
    report.failed[kind] += 1
    report.reasons[f"{kind}: {reason}"] += 1


async def _owner(setup: _Setup, report: ChaosReport, email: str, address: str,
                 rng: random.Random, stop: float, timeout_s: float) -> None:
    """An owner's calls, one after another at a few a second: a page sign-in, the owner
    API, the MT4 Manager API, ``/health``."""
    port = setup.port
    sign_in = _request("POST", "/login", {"Cookie": f"mtgw_login_csrf={_PRE}",
                                          "Content-Type": _FORM},
                       _form(csrf=_PRE, email=email, password=_PASSWORD))
    calls = [("page_sign_in", {303}, sign_in),
             ("owner_api", {200}, _request("GET", "/v1/tokens", _basic(email))),
             ("mt4_api", {200}, _request("GET", "/api/users/", {
                 "Authorization": f"Bearer {setup.bearers[email]}"})),
             ("page", {200}, _request("GET", "/settings", {
                 "Cookie": f"mtgw_session={setup.cookies[email]}"})),
             ("health", {200}, _request("GET", "/health", {}))]
    while time.monotonic() < stop:
        kind, expected, data = rng.choice(calls)
        await _fair(report, kind, expected, timeout_s,
                    lambda data=data: _exchange(port, address, data))  # type: ignore[misc]
        await asyncio.sleep(rng.uniform(0.1, 0.5))


async def _daemon(setup: _Setup, report: ChaosReport, key: Ed25519PrivateKey, address: str,
                  rng: random.Random, stop: float, timeout_s: float) -> None:
    """A daemon's reports, every second or so (it reports every 2 s when watched)."""
    body = b'{"terminals": []}'
    while time.monotonic() < stop:
        def report_call() -> Awaitable[tuple[int, bytes]]:
            headers = device_proof_headers(key, "POST", "/v1/terminals/report", body,
                                           time.time())
            return _exchange(setup.port, address, _request("POST", "/v1/terminals/report", {
                **headers, "Content-Type": "application/json"}, body))
        await _fair(report, "daemon_report", {200}, timeout_s, report_call)
        await asyncio.sleep(rng.uniform(0.5, 1.5))


async def _long_poll(setup: _Setup, report: ChaosReport, key: Ed25519PrivateKey,
                     address: str, stop: float, timeout_s: float) -> None:
    """A daemon's revocation long-poll, held a few seconds each (its cursor passed on, as the
    daemon does) and asked again at once."""
    cursor: list[int | None] = [None]
    wait_s = min(3.0, timeout_s)  # held so long, and answered within its deadline after it
    while time.monotonic() < stop:
        async def poll() -> tuple[int, bytes]:
            body = json.dumps({"wait_s": wait_s, "cursor": cursor[0]}).encode()
            headers = device_proof_headers(key, "POST", "/v1/device/revocations", body,
                                           time.time())
            status, answer = await _exchange(setup.port, address, _request(
                "POST", "/v1/device/revocations", {**headers,
                                                   "Content-Type": "application/json"}, body))
            if status == 200:
                cursor[0] = int(json.loads(answer)["cursor"])
            return status, answer
        await _fair(report, "daemon_long_poll", {200}, timeout_s + wait_s, poll)


# -- the attackers ---------------------------------------------------------------------------

async def _hold(port: int, address: str, first: bytes | None, unfinished: bytes,
                stop: float) -> int:
    """A connection that (with ``first``) shows a credential once, then leaves a request
    unfinished until the console ends it or the run does; the first answer's status."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(address, 0))
    status = 0
    try:
        if first is not None:
            writer.write(first)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            await reader.readexactly(length)
        writer.write(unfinished)
        remaining = stop - time.monotonic()
        if remaining > 0:
            try:
                await asyncio.wait_for(reader.read(), remaining)
            except TimeoutError:
                pass
    finally:
        writer.close()
    return status


async def _attacker(setup: _Setup, report: ChaosReport, kind: str, address: str,
                    stop: float) -> None:
    """One attacker's loop of ``kind`` until the run ends (a refused or cut connection is
    opened again at once: full effort)."""
    port = setup.port
    cookie = {"Cookie": f"mtgw_session={setup.attacker_cookie}"}
    while time.monotonic() < stop:
        try:
            if kind in ("slow_body", "token_body", "open_headers"):
                if kind == "slow_body":
                    first = _request("GET", "/settings", cookie, close=False)
                    body = _form(csrf="x", email="a@example.com")
                    unfinished = _request("POST", "/settings/alerts", {
                        **cookie, "Content-Type": _FORM}, body, close=False)[:-1]
                elif kind == "token_body":
                    auth = {"Authorization": f"Bearer {setup.attacker_bearer}"}
                    first = _request("GET", "/api/users/", auth, close=False)
                    unfinished = _request("PUT", "/api/users/1", {
                        **auth, "Content-Type": "application/json"}, b'{"x": 1}',
                        close=False)[:-1]
                else:
                    first, unfinished = None, b"GET /settings HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                report.attacks[f"{kind} {await _hold(port, address, first, unfinished, stop)}"] \
                    += 1
                continue
            if kind == "streams":
                status = await _hold(port, address, None, _request(
                    "GET", "/live/stream", cookie, close=False), stop)
                report.attacks[f"{kind} {status or 'held'}"] += 1
                continue
            data = _attack_request(setup, kind)
            status, _ = await _exchange(port, address, data)
            report.attacks[f"{kind} {status}"] += 1
        except (OSError, asyncio.IncompleteReadError, ValueError):
            report.attacks[f"{kind} refused"] += 1
            await asyncio.sleep(0.01)  # a refused connect: the port is closing or full


def _attack_request(setup: _Setup, kind: str) -> bytes:
    """The whole request of an attack sent over and over."""
    pre = {"Cookie": f"mtgw_login_csrf={_PRE}", "Content-Type": _FORM}
    if kind == "made_up_link":
        which = secrets.choice(("reset", "recover"))
        typed = secrets.token_urlsafe(12)
        return _request("POST", f"/{which}/{secrets.token_urlsafe(32)}", pre, _form(
            csrf=_PRE, new_password=typed, new_password2=typed))
    if kind == "forgot":
        return _request("POST", "/forgot", pre, _form(
            csrf=_PRE, email=f"{secrets.token_hex(6)}@example.invalid"))
    if kind == "basic_hashes":
        return _request("GET", "/v1/tokens", _basic(_ATTACKER))
    return _request("POST", "/login", pre, _form(csrf=_PRE, email=_ATTACKER,
                                                  password=secrets.token_urlsafe(8)))


# -- the run ---------------------------------------------------------------------------------

async def _prepared(data: Path, owners: int, daemons: int) -> tuple[list[str],
                                                                     list[Ed25519PrivateKey]]:
    """The owners (and the attacker's own account: an owner of a shared console) and the
    daemons' approved device keys, written through the authority's own code."""
    authority = await Authority.open(data, RecordingMailer())
    try:
        emails = [f"owner{n}@example.com" for n in range(owners)]
        for email in [*emails, _ATTACKER]:
            await authority.owners.create(email, _PASSWORD)
        keys = [Ed25519PrivateKey.generate() for _ in range(daemons)]
        for key in keys:
            await authority.approvals.approve_local(device_info(key))
    finally:
        await authority.close()
    return emails, keys


async def _signed_in(port: int, email: str, address: str) -> tuple[str, str]:
    """A page session's cookie and an access token of ``email`` (its password is then known
    to the console: its sign-ins are checked in their own turn during a lockout)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(address, 0))
    writer.write(_request("POST", "/login", {"Cookie": f"mtgw_login_csrf={_PRE}",
                                             "Content-Type": _FORM},
                          _form(csrf=_PRE, email=email, password=_PASSWORD)))
    answer = await reader.read()
    writer.close()
    cookie = answer.split(b"mtgw_session=", 1)[1].split(b";", 1)[0].decode()
    status, body = await _exchange(port, address, _request(
        "POST", "/api/auth/login", {"Content-Type": _FORM},
        _form(username=email, password=_PASSWORD)))
    assert status == 200, body
    return cookie, str(json.loads(body)["access_token"])


def _console(tmp: Path, data: Path, max_connections: int,
             max_connections_per_peer: int) -> tuple[subprocess.Popen[bytes], int]:
    """``mtgateway-console`` on a free loopback port (its mail to a closed port: the
    attacks mail no owner), listening: the process and its port."""
    port = free_port()
    config = tmp / "console.toml"
    config.write_text(f'data_dir = "{data.as_posix()}"\n[console]\nport = {port}\n'
                      f"max_connections = {max_connections}\n"
                      f"max_connections_per_peer = {max_connections_per_peer}\n"
                      '[smtp]\nhost = "127.0.0.1"\nport = 1\nsecurity = "none"\n',
                      encoding="utf-8")
    config.chmod(0o600)
    console = subprocess.Popen([sys.executable, "-m", "mtgateway_console", "-c", str(config)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert console.stdout is not None
    line = console.stdout.readline().decode()
    if not line.startswith("console listening on "):
        console.kill()
        console.wait()
        console.stdout.close()
        raise RuntimeError(f"the console did not start: {line!r}")
    return console, port


async def _attack(setup: _Setup, kinds: list[str], seconds: float) -> Counter[str]:
    """The attackers' loops for ``seconds`` (in the attackers' process): their answers."""
    report = ChaosReport(0)
    stop = time.monotonic() + seconds
    await asyncio.gather(*(_attacker(setup, report, kind, _ATTACKER_ADDRESSES[n % 4], stop)
                           for n, kind in enumerate(kinds)))
    return report.attacks


async def run(seed: int = 1, seconds: float = 60.0, *, owners: int = 4, daemons: int = 8,
              attackers: int = 640, max_connections: int = 512,
              max_connections_per_peer: int = 256, fair_timeout_s: float = 10.0
              ) -> ChaosReport:
    """One seeded run (the module docstring): the report."""
    rng = random.Random(seed)
    report = ChaosReport(seed)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp, "data")
        emails, keys = await _prepared(data, owners, daemons)
        console, port = await asyncio.to_thread(_console, Path(tmp), data, max_connections,
                                                max_connections_per_peer)
        try:
            cookies, bearers = {}, {}
            for n, email in enumerate(emails):
                cookies[email], bearers[email] = await _signed_in(port, email,
                                                                  f"127.0.1.{n + 1}")
            attacker_cookie, attacker_bearer = await _signed_in(port, _ATTACKER, "127.0.0.2")
            setup = _Setup(port, emails, cookies, bearers, keys, attacker_cookie,
                           attacker_bearer)
            kinds = [rng.choice(ATTACKS) for _ in range(attackers)]
            report.attackers.update(kinds)
            attack = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.consolechaos", "--attack", json.dumps({
                    "port": port, "cookie": attacker_cookie, "bearer": attacker_bearer,
                    "kinds": kinds, "seconds": seconds}),
                cwd=ROOT, stdout=asyncio.subprocess.PIPE,
                env={**os.environ, "PYTHONPATH": str(ROOT)})
            started = time.monotonic()
            stop = started + seconds
            tasks = [asyncio.ensure_future(_owner(
                setup, report, email, f"127.0.1.{n + 1}", random.Random(rng.random()), stop,
                fair_timeout_s)) for n, email in enumerate(emails)]
            for n, key in enumerate(keys):
                address = f"127.0.2.{n + 1}"
                tasks.append(asyncio.ensure_future(_daemon(
                    setup, report, key, address, random.Random(rng.random()), stop,
                    fair_timeout_s)))
                tasks.append(asyncio.ensure_future(_long_poll(setup, report, key, address,
                                                              stop, fair_timeout_s)))
            await asyncio.gather(*tasks)
            report.seconds = time.monotonic() - started
            out, _ = await attack.communicate()
            report.attacks.update(json.loads(out or b"{}"))
        finally:
            console.terminate()
            await asyncio.to_thread(console.wait)
            assert console.stdout is not None
            console.stdout.close()  # the pipe it said "listening" on (else unclosed at GC)
    return report


def _attacks_main(setup_json: str) -> int:
    """The attackers' process (``--attack``): its answers as JSON on stdout."""
    given = json.loads(setup_json)
    setup = _Setup(given["port"], [], {}, {}, [], given["cookie"], given["bearer"])
    attacks = asyncio.run(_attack(setup, given["kinds"], given["seconds"]))
    print(json.dumps(dict(attacks)))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.consolechaos [--seed S] [--seconds N] [--owners N] [--daemons N]
    [--attackers N] [--max-connections N] [--max-connections-per-peer N]
    [--fair-timeout-s S] [--json PATH]``."""
    parser = argparse.ArgumentParser(prog="python -m bench.consolechaos",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--owners", type=int, default=4)
    parser.add_argument("--daemons", type=int, default=8)
    parser.add_argument("--attackers", type=int, default=640,
                        help="attacker tasks at full effort (the seed draws their kinds)")
    parser.add_argument("--max-connections", type=int, default=512)
    parser.add_argument("--max-connections-per-peer", type=int, default=256)
    parser.add_argument("--fair-timeout-s", type=float, default=10.0,
                        help="what a fair caller waits for an answer")
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--attack", help=argparse.SUPPRESS)  # the attackers' own process
    args = parser.parse_args(argv)
    if args.attack:
        return _attacks_main(args.attack)
    report = asyncio.run(run(args.seed, args.seconds, owners=args.owners,
                             daemons=args.daemons, attackers=args.attackers,
                             max_connections=args.max_connections,
                             max_connections_per_peer=args.max_connections_per_peer,
                             fair_timeout_s=args.fair_timeout_s))
    print("\n".join(report.lines()))
    if args.json is not None:
        args.json.write_text(json.dumps(report.as_json(), indent=2), encoding="utf-8")
    return 0 if report.failed_fair_calls == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
