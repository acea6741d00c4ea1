"""The fair-share family's kit: one console, one caller at full effort through one entry point
against one shared thing, and the probes that must keep being answered meanwhile.

The rule under test is ``mtgateway_console/fairshare.py``: no one caller, with a credential or
without, holds what every caller shares (connections, requests in progress, the
password-hashing pool, the database's lane, rows kept). :class:`World` is the console (real,
on loopback port 0, a real SMTP server, a SQLite file) set up once per module with what each
entry point takes: owner A's page session, access token, Basic password and an approved
device (the attacker holds them all), owner B (whose sign-in is a probe) and a daemon's
approved device (whose report is a probe). :func:`request` writes the request each entry
point family (``pages``, ``owner_api``, ``mt4_api``, ``device``) sends, with the family's
credential or with none, byte for byte on a socket of its own from a loopback address of its
own (127.0.0.x: an address per caller). :meth:`World.probes` sends the three probes from
addresses of their own: ``/health``, owner B signing in on the page, the daemon's report.

``world_of(..., proxied=True)`` puts Debian's HAProxy in front of the console, configured by
``deploy/haproxy-console.cfg.template`` (``haproxykit.py``): every caller and every probe then
reaches the console through it, each from its own address still, and the console counts each
as the client the balancer's PROXY header names (``[console] trusted_proxies``). Before, behind
the documented balancer every caller was the balancer's address (round 8, T8-F3).

Waits are on events (the fair share's own, the database's gate) or on a probe's answer; where
nothing tells (the server noticing a closed socket) :func:`tests.testkit.until` looks.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import secrets
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mtgateway_console.appkeys import FAIR_SHARE, OWNER_THROTTLE
from mtgateway_console.console import AUTHORITY, CONNECTIONS
from mtgateway_console.database import Tx
from mtgateway_console.fairshare import Allowance, Bounds, FairShare
from mtgateway_console.passwords import Hashing
from tests.e2e.consolekit import (
    OWNER,
    PASSWORD,
    WAIT_S,
    Browser,
    Console,
    approved_token,
    device_proof,
    issue_token,
    running_console,
)
from tests.e2e.haproxykit import PROXY_SOURCE, Balancer
from tests.testkit import until

Family = Literal["pages", "owner_api", "mt4_api", "device"]
FAMILIES: Final[tuple[Family, ...]] = ("pages", "owner_api", "mt4_api", "device")
#: Owner B: whose sign-in on the page is a probe (signed in once before: a known password).
OTHER, OTHER_PASSWORD = "other@example.com", "other owner's password"
#: The attacker's addresses, and each probe's.
ATTACKER: Final = ("127.0.0.2", "127.0.0.3")
PROBE_HEALTH, PROBE_SIGN_IN, PROBE_REPORT = "127.0.0.9", "127.0.0.10", "127.0.0.11"
#: The bounds the family's console is given (small, so a full effort is a few dozen requests).
SHARES: Final[dict[str, Any]] = dict(
    requests_bounds=Bounds(per_credential=4, per_owner=8, per_address=None),
    lane_bounds=Bounds(per_credential=2, per_owner=4, per_address=2),
    forgot_per_address=4, sessions_per_owner=4, api_sign_ins_per_owner=4)
#: The double-submit pair of a page before sign-in (any matching cookie and field).
PRE: Final = "fair-share-family-pre-sign-in-token"


@dataclass
class Answer:
    """One raw HTTP answer."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Raw:
    """One socket to the console from a loopback address of its own."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    @classmethod
    async def open(cls, port: int, address: str) -> Raw:
        reader, writer = await asyncio.open_connection("127.0.0.1", port,
                                                       local_addr=(address, 0))
        return cls(reader, writer)

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def answer(self) -> Answer:
        """One answer (its body by ``Content-Length``, or to the end)."""
        async with asyncio.timeout(WAIT_S):
            return await self.answer_to(await self.reader.readuntil(b"\r\n\r\n"))

    async def answer_to(self, head: bytes) -> Answer:
        """The answer whose header block ``head`` was read."""
        async with asyncio.timeout(WAIT_S):
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in
                       (line.partition(":") for line in lines[1:] if line)}
            if "content-length" in headers:
                body = await self.reader.readexactly(int(headers["content-length"]))
            else:
                body = await self.reader.read()
        return Answer(int(lines[0].split(" ", 2)[1]), headers, body)

    async def cut(self) -> bool:
        """Whether the console closed the connection (reading to its end)."""
        async with asyncio.timeout(WAIT_S):
            try:
                return await self.reader.read() == b""
            except ConnectionError:
                return True

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


#: What every request :func:`raw_request` writes asks to switch to (``Upgrade:``), while
#: :func:`asking_to_switch` holds; empty: nothing.
_SWITCH_TO = [""]


@contextlib.contextmanager
def asking_to_switch(protocol: str) -> Iterator[None]:
    """Every request written in the block asks to switch to ``protocol`` (``Upgrade:``,
    ``Connection: Upgrade``), which the console never does: the family run so shows that no
    request's header takes its connection off the guard's watch."""
    _SWITCH_TO[0] = protocol
    try:
        yield
    finally:
        _SWITCH_TO[0] = ""


def raw_request(method: str, path: str, headers: dict[str, str], body: bytes = b"",
                close: bool = False) -> bytes:
    """A whole HTTP/1.1 request (keep-alive unless ``close``; asking to switch protocols
    inside :func:`asking_to_switch`)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if _SWITCH_TO[0]:
        lines += [f"Upgrade: {_SWITCH_TO[0]}", "Connection: Upgrade"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class World:
    """The console and every credential the family's callers hold."""

    console: Console
    cookie: str
    csrf: str
    bearer: str
    #: Owner A's device (the attacker's), approved; the daemon's device (a probe), approved.
    attacker_key: Ed25519PrivateKey
    daemon_key: Ed25519PrivateKey
    #: What completed, in order: ``("attack", n)`` and ``("probe", name)`` (:meth:`done`).
    order: list[tuple[str, str]] = field(default_factory=list)
    _signed: int = 0
    #: The balancer's port, when the callers reach the console through it (0: straight).
    through: int = 0

    @property
    def port(self) -> int:
        """Where the callers and the probes connect: the balancer, or the console."""
        return self.through or int(self.console.url.rpartition(":")[2])

    @property
    def proxied(self) -> bool:
        """Whether the callers reach the console through the balancer."""
        return bool(self.through)

    @property
    def shares(self) -> FairShare:
        return self.console.app[FAIR_SHARE]

    def done(self, who: str, what: str) -> None:
        self.order.append((who, what))

    def signed(self, key: Ed25519PrivateKey, method: str, path: str, body: bytes
               ) -> dict[str, str]:
        """The device-proof headers of one request (each proof unique)."""
        self._signed += 1
        return device_proof(key, method, path, body, self.console.clock.now,
                            ms_offset=1000 + self._signed)

    # -- the probes ------------------------------------------------------------------------

    async def probe(self, name: str) -> Answer:
        """One probe, on a connection of its own (closed after): ``health``, ``sign_in``
        (owner B on the page), ``report`` (the daemon's)."""
        if name == "health":
            address, data = PROBE_HEALTH, raw_request("GET", "/health", {}, close=True)
        elif name == "sign_in":
            form = (f"csrf={PRE}&email={OTHER}&password={OTHER_PASSWORD}").replace(
                "@", "%40").encode()
            address, data = PROBE_SIGN_IN, raw_request("POST", "/login", {
                "Cookie": f"mtgw_login_csrf={PRE}",
                "Content-Type": "application/x-www-form-urlencoded"}, form, close=True)
        else:
            body = b'{"terminals": []}'
            address, data = PROBE_REPORT, raw_request("POST", "/v1/terminals/report", {
                **self.signed(self.daemon_key, "POST", "/v1/terminals/report", body),
                "Content-Type": "application/json"}, body, close=True)
        conn = await Raw.open(self.port, address)
        try:
            conn.send(data)
            answer = await conn.answer()
        finally:
            await conn.close()
        self.done("probe", name)
        return answer

    async def probes(self) -> dict[str, int]:
        """The three probes at once: each one's status."""
        names = ("health", "sign_in", "report")
        answers = await asyncio.gather(*(self.probe(name) for name in names))
        return {name: answer.status for name, answer in zip(names, answers, strict=True)}

    def attack_done_before(self, probe: str) -> int:
        """How many of the attacker's requests completed before ``probe`` did (since the
        database's worker was let go, if it was held: those answered before needed none)."""
        until_probe = self.order[:self.order.index(("probe", probe))]
        for held in (("lane", "released"), ("hashing", "released")):
            if held in until_probe:
                until_probe = until_probe[until_probe.index(held):]
        # those refused at once (429: past the caller's requests in progress) used nothing
        return sum(1 for who, what in until_probe
                   if who == "attack" and not what.endswith(":429"))

    # -- keeping the cases apart -------------------------------------------------------------

    async def settled(self) -> None:
        """Between cases: every attacker connection gone (through the balancer: ended),
        no request in progress, the throttle's lockout over, the order forgotten."""
        budget = self.console.app[CONNECTIONS]
        proxied = self.proxied

        def left() -> int:
            """The callers' connections a case left: none straight. Through the balancer,
            none but what HAProxy keeps open after its client left, each of which the
            console ends for any newcomer: an idle connection (kept a while, for that client
            alone) and an answer held open (a live stream, a long-poll: the balancer learns
            the client left only when the console next writes, at a stream's next beat or
            the poll's end); and the balancer's health checks."""
            return sum(1 for c in budget.connections()
                       if not c.evicting and c.peer != c.proxy
                       and not (proxied and c.eviction_rank() in (0, 3, 4, 5)))
        try:
            await until(lambda: left() == 0, timeout_s=WAIT_S)
            # and those ended as a newcomer would end them (the next case's connections
            # would otherwise take their places first, not the flood's)
            while proxied and budget._evict(None):  # noqa: SLF001
                pass
        except TimeoutError:
            raise AssertionError([(c.peer, c.busy, c._watch.state, c.authenticated, c.held)
                                  for c in budget.connections()]) from None
        throttle = self.console.app[OWNER_THROTTLE]
        self.console.throttle_clock.now += throttle.lockout_s + throttle.window_s + 1
        forgot = self.shares.forgot
        self.shares.forgot = Allowance(forgot.limit, forgot.window_s)
        self.order.clear()

    @property
    def hashing(self) -> Hashing:
        return self.console.app[AUTHORITY]._shared.hashing  # noqa: SLF001 - observed here

    @contextlib.asynccontextmanager
    async def hashing_held(self) -> AsyncIterator[None]:
        """Every thread of the password-hashing pool held by work of nobody's until the block
        ends: what callers' hashes then queue behind is what their turns let in."""
        release = threading.Event()
        started = [threading.Event() for _ in range(self.shares.hash_workers)]

        def hold(started: threading.Event) -> bool:
            started.set()
            return release.wait(WAIT_S)

        holding = [asyncio.ensure_future(self.hashing._submit(hold, event))  # noqa: SLF001
                   for event in started]
        try:
            for event in started:
                assert await asyncio.to_thread(event.wait, WAIT_S)
            yield
        finally:
            self.done("hashing", "released")
            release.set()
            await asyncio.gather(*holding)

    @contextlib.asynccontextmanager
    async def lane_held(self) -> AsyncIterator[None]:
        """The database's worker held by a transaction of nobody's (the server's own work:
        no share) until the block ends: what every caller's transaction then queues behind
        is what the fair share let into the queue."""
        started, release = threading.Event(), threading.Event()

        def hold(tx: Tx) -> None:
            started.set()
            release.wait(WAIT_S)

        holding = asyncio.ensure_future(self.console.app[AUTHORITY].run(hold))
        try:
            assert await asyncio.to_thread(started.wait, WAIT_S)
            yield
        finally:
            self.done("lane", "released")
            release.set()
            await holding


def request(world: World, family: Family, *, credential: bool,
            write: bool = False, upgrade: str = "") -> tuple[bytes, bytes]:
    """The family's ordinary call (``write``: one that carries a body), as its header block
    and its body: with the family's credential (owner A's page session, Basic password,
    access token, approved device) or with none; with ``upgrade``, asking to switch to that
    protocol (``Upgrade:``, ``Connection: Upgrade``), which the console never does."""
    head, body = _request(world, family, credential=credential, write=write)
    if upgrade:
        head = head.replace(b"\r\n", f"\r\nUpgrade: {upgrade}\r\nConnection: Upgrade\r\n"
                            .encode(), 1)
    return head, body


def _request(world: World, family: Family, *, credential: bool,
             write: bool) -> tuple[bytes, bytes]:
    if family == "pages":
        cookie = f"mtgw_session={world.cookie}" if credential else f"mtgw_login_csrf={PRE}"
        if not write:
            return raw_request("GET", "/settings" if credential else "/login",
                               {"Cookie": cookie}), b""
        body = (f"csrf={world.csrf}&email=alerts%40example.com" if credential
                else f"csrf={PRE}&email={secrets.token_hex(6)}%40example.invalid").encode()
        head = raw_request("POST", "/settings/alerts" if credential else "/forgot", {
            "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}, body)
        return head[:-len(body)], body
    if family == "owner_api":
        auth = {"Authorization": "Basic " + base64.b64encode(
            f"{OWNER}:{PASSWORD}".encode()).decode()} if credential else {}
        if not write:
            return raw_request("GET", "/v1/tokens", auth), b""
        body = json.dumps({"login": 6000000 + secrets.randbelow(10**6),
                           "server": "MTG-Demo"}).encode()
        head = raw_request("POST", "/v1/tokens", {**auth, "Content-Type": "application/json"},
                           body)
        return head[:-len(body)], body
    if family == "mt4_api":
        auth = {"Authorization": f"Bearer {world.bearer}"} if credential else {}
        if not write:
            return raw_request("GET", "/api/users/", auth), b""
        body = b'{"max_lot_size": 1}'
        head = raw_request("PUT", "/api/users/5012345", {**auth,
                                                          "Content-Type": "application/json"},
                           body)
        return head[:-len(body)], body
    body = b'{"terminals": []}'
    proof = world.signed(world.attacker_key, "POST", "/v1/terminals/report", body) \
        if credential else {}
    head = raw_request("POST", "/v1/terminals/report", {**proof,
                                                         "Content-Type": "application/json"},
                       body)
    return head[:-len(body)], body


async def call(world: World, address: str, data: bytes, number: int) -> Answer:
    """One attacker's request on a connection of its own (noted in the order when answered);
    a connection the console cut is answered 0."""
    conn = await Raw.open(world.port, address)
    try:
        conn.send(data)
        try:
            answer = await conn.answer()
        except (asyncio.IncompleteReadError, ConnectionError):
            answer = Answer(0, {}, b"")
    finally:
        await conn.close()
    world.done("attack", f"{number}:{answer.status}")
    return answer


async def _approved_device(console: Console, key: Ed25519PrivateKey, login: int) -> None:
    """``key`` approved for a new token of owner A (by the mailed code)."""
    token = (await issue_token(console, login=login))["token"]
    from mtgateway.credential import token_hint  # noqa: PLC0415 - the client's, for a lookup

    # counted before the lookup: the code's mail may arrive while its answer is read
    mailed = len(console.sink.messages)
    status, _, _ = await console.device("POST", "/v1/records/lookup", {
        "token_hint": token_hint(token), "device_name": "attacker", "os": "Linux"}, key=key)
    assert status == 200
    mails = await console.sink.wait_for(mailed + 1)
    code = re.search(r"verify (\d{4} \d{4})", mails[-1].get_payload(decode=True).decode())
    assert code is not None
    status, _, _ = await console.device("POST", "/v1/device/verify", {"code": code.group(1)},
                                        key=key)
    assert status == 200


@contextlib.asynccontextmanager
async def world_of(tmp_path: Path, *, proxied: bool = False, **console_keys: Any
                   ) -> AsyncIterator[World]:
    """The family's console (``console_keys``: ``[console]`` keys, its connection budget)
    and every credential its callers hold; with ``proxied``, behind the documented HAProxy,
    which connects from :data:`~tests.e2e.haproxykit.PROXY_SOURCE` (the console's
    ``trusted_proxies``: the setting up below still calls the console straight)."""
    shares = FairShare(**SHARES)
    if proxied:
        console_keys = {**console_keys, "behind_proxy": True,
                        "trusted_proxies": (PROXY_SOURCE,)}
    async with running_console(tmp_path, shares=shares, **console_keys) as console, \
            _balanced(tmp_path, console, proxied) as through:
        authority = console.app[AUTHORITY]
        await authority.owners.create(OTHER, OTHER_PASSWORD)
        await approved_token(console)  # the daemon's device: console.key
        attacker_key = Ed25519PrivateKey.generate()
        await _approved_device(console, attacker_key, 5012346)
        a, b = Browser(console.url), Browser(console.url)
        try:
            assert (await a.sign_in(OWNER, PASSWORD)).status == 303
            assert (await b.sign_in(OTHER, OTHER_PASSWORD)).status == 303  # B's is known
            cookie = next(c.value for c in a.session.cookie_jar if c.key == "mtgw_session")
            csrf = (await a.get("/settings")).csrf()
        finally:
            await a.close()
            await b.close()
        async with console.session.post(console.url + "/api/auth/login", data={
                "username": OWNER, "password": PASSWORD}) as answer:
            bearer = (await answer.json())["access_token"]
        async with console.session.post(console.url + "/api/users/", json={
                "name": "Paper", "broker": "MetaQuotes", "login": 5012345, "password": "pw",
                "server": "MTG-Demo", "paper_trade_enabled": True},
                headers={"Authorization": f"Bearer {bearer}"}) as answer:
            assert answer.status == 201, await answer.text()
        await console.session.close()  # its idle keep-alive connections: none is the family's
        world = World(console, cookie, csrf, bearer, attacker_key, console.key,
                      through=through)
        await world.settled()
        yield world


@contextlib.asynccontextmanager
async def _balanced(tmp_path: Path, console: Console, proxied: bool) -> AsyncIterator[int]:
    """HAProxy in front of ``console`` when ``proxied``, up: its port (0: none). It checks
    the console's health when it starts, then hourly: a check is a connection of the
    balancer's own, which would take a place in the console's budget mid-case as any
    newcomer does, and the cases count the places (``test_console_balancer.py`` has the
    checks at work)."""
    if not proxied:
        yield 0
        return
    port = int(console.url.rpartition(":")[2])
    balancer = Balancer(tmp_path, [("console1", port)], source=PROXY_SOURCE,
                        check_interval="1h")
    try:
        await balancer.until("console1", "UP")
        yield balancer.port
    finally:
        balancer.stop()
