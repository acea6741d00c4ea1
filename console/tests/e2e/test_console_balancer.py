"""Two console instances behind a real HAProxy, health-checked on ``/ready``; one is killed.

Real parts throughout: PostgreSQL shared by both instances (``tests/pgkit.py``), two
``mtgateway-console`` processes on one data directory, Debian's ``haproxy`` run with the
configuration ``docs/authority.md`` shows (both filled from ``deploy/haproxy-console.cfg.template``:
:func:`test_the_documented_configuration_is_the_template_filled` holds them together), a real
SMTP server for the approval codes, and daemons made of the daemon's own console client code
(``RemoteAuthority``, ``RecordCache``, ``TerminalReporter``, ``watch_revocations``) on a fast
injected cadence, all calling through the balancer.

While the daemons run, the instance holding the most connections is killed (SIGKILL). The
balancer takes it out (its checks and the first refused connection); every daemon call that
failed is retried by the daemon's own code and answered through the other instance; every
revocation made before, at and after the kill reaches every daemon it concerns; an approval
asked before the kill is completed after it with the code mailed then; every report a console
acknowledged is in the database.

Behind the balancer each client is itself (T8-F3): one console on SQLite behind the same
configuration, clients on loopback addresses of their own (127.0.0.2, .3, ...), one client's
"forgot password" asks spend its own allowance, not everyone's, and no header a client writes
(``X-Forwarded-For``, ``Forwarded``, a PROXY header of its own) changes whom it counts as. The
fair-share family runs through the balancer as well (``test_fair_share.py``,
``test_fair_share_edge.py``, their ``haproxy`` worlds).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest
from aiosmtpd.smtp import SMTP
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ea_bridge import Hello, SessionInfo, TerminalId
from gateway.auth.cache import RecordCache
from gateway.auth.client import RemoteAuthority
from gateway.auth.reporter import TerminalReporter
from gateway.auth.watcher import watch_revocations
from gateway.errors import Unauthorized
from mtgateway.credential import token_hint
from mtgateway_base.wire.api import (
    AuthorityRefused,
    AuthorityUnreachable,
    DeviceInfo,
    DeviceStatus,
    LookupAnswer,
    ResendAnswer,
    VerifyAnswer,
)
from mtgateway_base.wire.records import AuthorityKey
from mtgateway_base.wire.reports import AccountFigures, TerminalReport
from mtgateway_console.fairshare import FORGOT_PER_ADDRESS
from mtgateway_console.mailer import RecordingMailer
from mtgateway_console.service import Authority
from tests.e2e.consolekit import Sink, console_process
from tests.e2e.fixtures import WAIT_S
from tests.e2e.haproxykit import HAPROXY, PROXY_SOURCE, ROOT, Balancer, render
from tests.e2e.sharekit import PRE, Raw, raw_request
from tests.pgkit import PostgresServer

OWNER, PASSWORD = "owner@example.com", "owner password 123"
SERVER = "MTG-Balanced"
#: The template as docs/authority.md shows it: two hosts, TLS at the balancer.
DOCUMENTED = {"maxconn": "40000", "stats_socket": "/run/haproxy/admin.sock",
              "timeout_connect": "2s", "timeout_check": "1s",
              "bind": ":443 ssl crt /etc/haproxy/console.pem", "check_interval": "2s",
              "check_host": "console.example.com",
              "fall": "2", "rise": "2",
              "servers": "    server console1 10.0.0.11:8720 check\n"
                         "    server console2 10.0.0.12:8720 check"}
#: The daemons' cadence here (theirs by default: reports every 30 s, a refresh every 300 s,
#: the long-poll held 25 s, its back-off 1 s doubling to 30 s).
REPORT_S, REFRESH_S, POLL_S, BACKOFF_CAP_S = 0.3, 0.5, 1.0, 0.2
DAEMONS = 4


def test_the_documented_configuration_is_the_template_filled() -> None:
    """docs/authority.md shows exactly what the template gives for two hosts, and HAProxy
    accepts it (``-c``: a check, nothing started)."""
    documented = render(DOCUMENTED)
    assert documented in (ROOT / "docs" / "authority.md").read_text(encoding="utf-8")
    checked = subprocess.run([HAPROXY, "-c", "-f", "/dev/stdin"], input=documented.replace(
        DOCUMENTED["bind"], "127.0.0.1:8443").replace(DOCUMENTED["stats_socket"], "/dev/null"),
        capture_output=True, text=True, timeout=60, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr


# -- the daemons -----------------------------------------------------------------------------

class Progress:
    """Told of every call any daemon made: a test waits on it for what the daemons' own
    timers bring about."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def note(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def until(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT_S * 3):
            while True:
                event = self._event
                if condition():
                    return
                await event.wait()


class Link:
    """A daemon's console client (``RemoteAuthority``) with every call's outcome noted, and
    the figures of every report a console acknowledged."""

    def __init__(self, remote: RemoteAuthority, progress: Progress) -> None:
        self.remote = remote
        self._progress = progress
        #: (kind, when (monotonic), answered)
        self.calls: list[tuple[str, float, bool]] = []
        self.acknowledged: list[float] = []

    async def _note(self, kind: str, call: Awaitable[Any]) -> Any:
        try:
            result = await call
        except (AuthorityUnreachable, AuthorityRefused):
            self.calls.append((kind, time.monotonic(), False))
            self._progress.note()
            raise
        self.calls.append((kind, time.monotonic(), True))
        self._progress.note()
        return result

    async def lookup(self, device: DeviceInfo, *, token_hint: str, device_name: str = "",
                     os: str = "", nonce: str | None = None,
                     box_key: bytes | None = None) -> LookupAnswer:
        answer: LookupAnswer = await self._note("lookup", self.remote.lookup(
            device, token_hint=token_hint, device_name=device_name, os=os, nonce=nonce,
            box_key=box_key))
        return answer

    async def refresh(self, device: DeviceInfo, token_ids: Sequence[str],
                      nonce: str | None = None,
                      box_key: bytes | None = None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._note(
            "refresh", self.remote.refresh(device, token_ids, nonce, box_key))
        return found

    async def report_terminals(self, device: DeviceInfo,
                               reports: list[TerminalReport]) -> int:
        stored: int = await self._note("report", self.remote.report_terminals(device, reports))
        figures = reports[0].figures
        if figures is not None:
            self.acknowledged.append(figures.balance)
        return stored

    async def wait_revocations(self, device: DeviceInfo, cursor: int | None,
                               timeout_s: float) -> tuple[int, list[str]]:
        answer: tuple[int, list[str]] = await self._note(
            "poll", self.remote.wait_revocations(device, cursor, timeout_s))
        return answer

    async def verify_device(self, device: DeviceInfo, code: str) -> VerifyAnswer:
        answer: VerifyAnswer = await self._note("verify", self.remote.verify_device(device,
                                                                                   code))
        return answer

    async def resend(self, device: DeviceInfo) -> ResendAnswer:
        return await self.remote.resend(device)

    async def device_status(self, device: DeviceInfo) -> DeviceStatus:
        return await self.remote.device_status(device)

    async def public_keys(self) -> list[AuthorityKey]:
        return await self.remote.public_keys()


@dataclass
class Tokens:
    """A daemon's two tokens: one its terminal trades with, one to be revoked."""

    kept: tuple[str, str]  # (token, token_id)
    revoked: tuple[str, str]
    login: int


async def _short_sleep(seconds: float) -> None:
    """The watcher's back-off, capped for the test's cadence."""
    await asyncio.sleep(min(seconds, BACKOFF_CAP_S))


class Daemon:
    """One daemon's console side, from the daemon's own parts, calling through the balancer."""

    def __init__(self, index: int, url: str, key: AuthorityKey, tokens: Tokens,
                 progress: Progress) -> None:
        self.index = index
        self.name = f"balanced-daemon-{index}"
        self.tokens = tokens
        self.remote = RemoteAuthority(url, Ed25519PrivateKey.generate(), timeout_s=WAIT_S)
        self.device = self.remote.device
        self.link = Link(self.remote, progress)
        self.cache = RecordCache(self.link, [key], self.device, device_name=self.name,
                                 os_name="Linux test", refresh_interval_s=REFRESH_S)
        self.revoked = asyncio.Event()
        self.cache.on_dead(lambda record, reason: self.revoked.set()
                           if record.token_id == tokens.revoked[1] else None)
        self.balance = 0.0
        self.reporter = TerminalReporter(self.link, self.device, interval_s=REPORT_S,
                                         retry_s=REPORT_S, figures=self._figures)
        self._tasks: list[asyncio.Task[Any]] = []

    async def _figures(self, terminal: TerminalId) -> AccountFigures:
        self.balance += 1  # each report says something new: which one was stored shows
        return AccountFigures(self.balance, self.balance, "USD", 0)

    async def ask(self) -> None:
        """The first lookup: this device is not approved yet (a code is mailed)."""
        with pytest.raises(Unauthorized, match="not approved"):
            await self.cache.find(token_hint=token_hint(self.tokens.kept[0]))

    async def approve(self, code: str) -> None:
        """``mtgateway device verify CODE`` on this machine, then both tokens looked up."""
        assert (await self.link.verify_device(self.device, code)).status == "approved"
        for token, _ in (self.tokens.kept, self.tokens.revoked):
            await self.cache.find(token_hint=token_hint(token))

    def run(self) -> None:
        terminal = TerminalId(self.tokens.login, SERVER)
        hello = Hello(protocol_version=3, platform="MT5", build=4620, ea_version="1.3.0",
                      login=terminal.login, server=SERVER, company="Test Broker")
        self.reporter.session_up(SessionInfo(terminal, f"s{self.index}", self.tokens.kept[1],
                                             hello, time.time()))
        self._tasks = [asyncio.create_task(self.reporter.run()),
                       asyncio.create_task(self.cache.run()),
                       asyncio.create_task(watch_revocations(
                           self.link, self.device, self.cache.refresh_once, wait_s=POLL_S,
                           sleep=_short_sleep))]

    def answered_since(self, since: float) -> set[str]:
        """The kinds of call answered since ``since``."""
        return {kind for kind, at, ok in self.link.calls if ok and at >= since}

    def unanswered(self) -> list[str]:
        """The kinds of call whose last attempt failed (none once every retry is answered)."""
        last: dict[str, bool] = {}
        for kind, _, ok in self.link.calls:
            last[kind] = ok
        return [kind for kind, ok in last.items() if not ok]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.remote.close()


# -- the test ------------------------------------------------------------------------------

@contextlib.asynccontextmanager
async def _smtp(sink: Sink) -> AsyncIterator[int]:
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(sink, hostname="sink.test"), "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


async def _provision(data: Path, database_url: str) -> list[Tokens]:
    authority = await Authority.open(data, RecordingMailer(), database_url=database_url)
    try:
        await authority.owners.create(OWNER, PASSWORD)
        out = []
        for i in range(DAEMONS):
            kept = await authority.tokens.issue(OWNER, 6_100_000 + i, SERVER)
            revoked = await authority.tokens.issue(OWNER, 6_200_000 + i, SERVER)
            out.append(Tokens((kept.token, kept.token_id), (revoked.token, revoked.token_id),
                              6_100_000 + i))
        return out
    finally:
        await authority.close()


async def _revoke(url: str, token_id: str) -> None:
    """The owner revokes a token through the balancer, trying again after an answer the
    balancer gave for a console that went away (the revocation may have committed there)."""
    basic = base64.b64encode(f"{OWNER}:{PASSWORD}".encode()).decode()
    async with aiohttp.ClientSession(headers={"Authorization": "Basic " + basic}) as http:
        for attempt in range(20):
            try:
                async with http.delete(f"{url}/v1/tokens/{token_id}") as response:
                    if response.status == 200 or (response.status == 404 and attempt):
                        return
                    assert response.status in (502, 503), await response.text()
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"could not revoke {token_id}")


async def test_a_killed_instance_loses_no_call_revocation_approval_or_report(
        tmp_path: Path, postgres: PostgresServer) -> None:
    database_url = postgres.new_database()
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    tokens = await _provision(data, database_url)
    sink = Sink()
    balancer: Balancer | None = None
    daemons: list[Daemon] = []
    async with _smtp(sink) as smtp_port, contextlib.AsyncExitStack() as stack:
        try:
            config = tmp_path / "console.toml"
            # the balancer connects from 127.0.0.1 and begins each connection with a PROXY
            # header (send-proxy-v2): the consoles read it from there
            config.write_text(f'data_dir = "{data.as_posix()}"\n[console]\nport = 0\n'
                              'trusted_proxies = ["127.0.0.1"]\n'
                              f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\n'
                              'security = "none"\nfrom_address = "gateway@example.net"\n',
                              encoding="utf-8")
            env = {**os.environ, "MTGATEWAY_DATABASE_URL": database_url}
            consoles = [await asyncio.to_thread(stack.enter_context,
                                                console_process(config, env))
                        for _ in range(2)]
            names = ["console1", "console2"]
            balancer = Balancer(tmp_path, [(name, c.port) for name, c in zip(names, consoles,
                                                                             strict=True)])
            for name in names:
                await balancer.until(name, "UP")
            pinned = AuthorityKey.from_base64(consoles[0].key)
            progress = Progress()
            daemons = [Daemon(i, balancer.url, pinned, t, progress)
                       for i, t in enumerate(tokens)]

            # approvals through the balancer: each daemon asks, the owner's code comes by
            # mail, the daemon verifies it; the last one's verification waits for the kill
            for daemon in daemons:
                await daemon.ask()
                code = await _mailed_code(sink, daemon.name)
                if daemon is not daemons[-1]:
                    await daemon.approve(code)
                    daemon.run()
                else:
                    late_code = code
            running = daemons[:-1]
            await progress.until(lambda: all({"report", "poll", "refresh"}
                                             <= d.answered_since(0) for d in running))
            await _revoke(balancer.url, daemons[0].tokens.revoked[1])
            async with asyncio.timeout(WAIT_S):
                await daemons[0].revoked.wait()

            # the kill: the instance holding the most connections
            victim = await balancer.busiest()
            killed_at = time.monotonic()
            consoles[names.index(victim)].proc.send_signal(signal.SIGKILL)
            await _revoke(balancer.url, daemons[1].tokens.revoked[1])
            await balancer.until(victim, "DOWN")
            await daemons[-1].approve(late_code)  # asked before the kill, through either
            daemons[-1].run()
            for daemon in daemons[2:]:
                await _revoke(balancer.url, daemon.tokens.revoked[1])

            async with asyncio.timeout(WAIT_S * 3):  # no revocation missed
                await asyncio.gather(*(d.revoked.wait() for d in daemons))
            after = time.monotonic()
            await progress.until(lambda: all({"report", "poll", "refresh"}
                                             <= d.answered_since(after) for d in daemons))
            failed = [(d.index, kind) for d in daemons for kind, at, ok in d.link.calls
                      if not ok and at >= killed_at]
            assert failed, "the kill cost no call: the test proved nothing"
            assert all(not d.unanswered() for d in daemons), [d.unanswered() for d in daemons]
            statuses = [await d.link.device_status(d.device) for d in daemons]
            assert all([s for _, s in status.approvals] == ["approved"] for status in statuses)
        finally:
            for daemon in daemons:
                await daemon.stop()
            if balancer is not None:
                balancer.stop()
    stored = await asyncio.to_thread(_stored_balances, database_url)
    for daemon in daemons:  # every report a console acknowledged is there (or a later one)
        assert daemon.link.acknowledged
        assert stored[daemon.tokens.login] >= daemon.link.acknowledged[-1], daemon.index


async def _mailed_code(sink: Sink, device_name: str) -> str:
    """The approval code mailed about ``device_name``, once it arrives (other mail, such as
    the notice of an approval, arrives between)."""
    seen = 0
    while True:
        messages = await sink.wait_for(seen + 1)
        seen = len(messages)
        for message in messages:
            payload = message.get_payload(decode=True)
            text = payload.decode() if isinstance(payload, bytes) else str(payload)
            match = re.search(r"verify (\d{4} \d{4})", text)
            if device_name in text and match is not None:
                return match.group(1)


def _stored_balances(database_url: str) -> dict[int, float]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT login, balance FROM terminal_figures").fetchall()
    return {int(login): float(balance) for login, balance in rows}


# -- behind the balancer, each client is itself ------------------------------------------------

@dataclass
class Proxied:
    """A console process behind the balancer: the port clients reach it at through the
    balancer, and its own port."""

    proxy: int
    console: int


@contextlib.asynccontextmanager
async def _behind_haproxy(tmp_path: Path) -> AsyncIterator[Proxied]:
    """One ``mtgateway-console`` on SQLite (owner :data:`OWNER`) behind the documented
    configuration, the balancer connecting from an address of its own
    (:data:`~tests.e2e.haproxykit.PROXY_SOURCE`, in ``trusted_proxies``), so a client may
    still call the console straight from any other."""
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    authority = await Authority.open(data, RecordingMailer())
    try:
        await authority.owners.create(OWNER, PASSWORD)
    finally:
        await authority.close()
    async with _smtp(Sink()) as smtp_port, contextlib.AsyncExitStack() as stack:
        config = tmp_path / "console.toml"
        config.write_text(f'data_dir = "{data.as_posix()}"\n[console]\nport = 0\n'
                          f'behind_proxy = true\ntrusted_proxies = ["{PROXY_SOURCE}"]\n'
                          f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\n'
                          'security = "none"\nfrom_address = "gateway@example.net"\n',
                          encoding="utf-8")
        console = await asyncio.to_thread(stack.enter_context,
                                          console_process(config, dict(os.environ)))
        balancer = Balancer(tmp_path, [("console1", console.port)], source=PROXY_SOURCE)
        try:
            await balancer.until("console1", "UP")
            yield Proxied(balancer.port, console.port)
        finally:
            balancer.stop()


async def _forgot(port: int, address: str, email: str, headers: dict[str, str] | None = None,
                  *, first: bytes = b"") -> tuple[int, bytes]:
    """One "forgot password" ask for ``email`` from ``address``, on a connection of its own
    to ``port`` (``headers``: more of them; ``first``: bytes sent before the request): the
    answer's status and body."""
    body = f"csrf={PRE}&email={email}".replace("@", "%40").encode()
    conn = await Raw.open(port, address)
    try:
        conn.send(first + raw_request("POST", "/forgot", {
            "Cookie": f"mtgw_login_csrf={PRE}",
            "Content-Type": "application/x-www-form-urlencoded", **(headers or {})},
            body, close=True))
        answer = await conn.answer()
    finally:
        await conn.close()
    return answer.status, answer.body


async def _asks(port: int, address: str, headers: Callable[[int], dict[str, str]] | None = None
                ) -> list[int]:
    """One more ask than a client's allowance, for made-up addresses, from ``address``."""
    return [(await _forgot(port, address, f"nobody{n}@example.org",
                           headers(n) if headers is not None else None))[0]
            for n in range(FORGOT_PER_ADDRESS + 1)]


async def test_behind_haproxy_one_clients_forgot_asks_leave_anothers_answered(
        tmp_path: Path) -> None:
    """Round 8's T8-F3 through the documented balancer: one client's ten "forgot password"
    asks spend its own allowance (its eleventh is refused 429), and the owner's ask from
    another client is answered. Before, the console counted every client as the balancer's
    address: the owner's ask was refused 429 for the rest of the hour."""
    async with _behind_haproxy(tmp_path) as where:
        assert await _asks(where.proxy, "127.0.0.2") == [200] * FORGOT_PER_ADDRESS + [429]
        status, body = await _forgot(where.proxy, "127.0.0.3", OWNER)
        assert status == 200, body[-300:]


async def test_behind_haproxy_no_header_a_client_writes_changes_whom_it_counts_as(
        tmp_path: Path) -> None:
    """Whom a caller counts as is its connection's: through the balancer, the client the
    balancer's PROXY header names, whatever ``X-Forwarded-For`` or ``Forwarded`` it writes
    (each ask naming another address, its eleventh is still refused, and another client's
    ask is answered: before, the balancer's address was everyone's); straight to the
    console from an address that is no proxy, that address, whatever header names another;
    a PROXY header it sends itself is not read (not HTTP: 400), and the balancer's own
    address without one is refused, saying why."""
    async with _behind_haproxy(tmp_path) as where:
        def forged(n: int) -> dict[str, str]:
            return {"X-Forwarded-For": f"10.1.2.{n}", "Forwarded": f"for=10.1.3.{n}"}
        assert await _asks(where.proxy, "127.0.0.4", forged) \
            == [200] * FORGOT_PER_ADDRESS + [429]
        assert (await _forgot(where.proxy, "127.0.0.5", OWNER))[0] == 200

        assert await _asks(where.console, "127.0.0.6", lambda n: {
            "X-Forwarded-For": "127.0.0.7", "Forwarded": "for=127.0.0.7"}) \
            == [200] * FORGOT_PER_ADDRESS + [429]
        assert (await _forgot(where.proxy, "127.0.0.7", "someone@example.org"))[0] == 200

        named = b"PROXY TCP4 127.0.0.9 127.0.0.1 40000 8720\r\n"
        assert (await _forgot(where.console, "127.0.0.8", OWNER, first=named))[0] == 400
        status, body = await _forgot(where.console, PROXY_SOURCE, OWNER)
        assert status == 400 and b"proxy_header_expected" in body, body
