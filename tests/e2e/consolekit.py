"""The console under test and the clients the console tests drive it with.

* :func:`running_console`: the console over real HTTP on loopback with a real SMTP server
  (aiosmtpd, every message kept by :class:`Sink`), its wall clock (:class:`Clock`) and the
  owner throttle's clock and sleep (:class:`CountingClock`, :class:`Pauses`) injected, so no
  test waits for real time; :class:`Console` is what a test holds: owner calls with Basic
  auth, device calls signed by hand (:func:`device_proof`) from the documented format with
  cryptography's Ed25519, so the tests pin the wire contract of ``docs/authority.md`` rather
  than our own helpers. The ``console`` fixture (``tests/e2e/fixtures.py``) runs it.
* A browser-like client for the console's pages: a cookie jar, forms posted with their CSRF
  token read from the page (:class:`Browser`, the ``browser`` fixture); :func:`signed_in` and
  :func:`create_token` are the steps most page tests begin with.
* :func:`approved_token`: a token and the console's device approved for it, so the test's
  signed reports speak for the terminal (what the dashboard and live tests begin with).
* :func:`boxed`, the fresh nonce and box key a device's record request carries.
* :func:`console_process`: ``mtgateway-console`` as a process of its own (a real deployment's
  shape: several instances, several processes, a balancer in front), what it prints read.

The console tests of several modules (the API, its pages, the owner's approvals, new keys,
the edge, the browser walk, the database faults, the event loop's load) share these.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import html
import json
import re
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr

from gateway.config import AuthorityConfig
from mtgateway.credential import token_hint
from mtgateway_base.wire.boxes import BoxOpener
from mtgateway_base.wire.proofs import device_info
from mtgateway_base.wire.records import AuthorityKey, b64url_encode
from mtgateway_console.config import ConsoleConfig, ConsoleFile, SmtpConfig
from mtgateway_console.console import AUTHORITY, create_console_app, start_console
from mtgateway_console.fairshare import FairShare
from tests.ownerkit import add_owner

CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
OWNER, PASSWORD = "owner@example.com", "correct horse battery"
WAIT_S = 10.0
#: The device endpoints whose body must carry a fresh ``nonce`` and ``box_key``.
RECORD_PATHS = frozenset({"/v1/records/lookup", "/v1/records/refresh"})


def boxed(device_id: str) -> dict[str, Any]:
    """A fresh ``nonce`` and X25519 ``box_key`` (raw bytes) for one lookup or refresh of
    ``device_id``, as keyword arguments of ``RemoteAuthority.lookup`` and ``refresh`` (the
    console requires both; the daemon's cache makes the same pair per request)."""
    nonce = secrets.token_hex(16)
    return {"nonce": nonce, "box_key": BoxOpener(device_id, nonce).public_key}


@dataclass
class Page:
    """One answer: status, headers, the HTML text."""

    status: int
    headers: dict[str, str]
    text: str
    set_cookies: list[str] = field(default_factory=list)

    def csrf(self) -> str:
        match = CSRF_RE.search(self.text)
        assert match is not None, "no CSRF token on the page"
        return html.unescape(match.group(1))


class Browser:
    """An aiohttp session that keeps cookies (also for 127.0.0.1) and never follows
    redirects by itself, so each hop can be checked."""

    def __init__(self, base_url: str, user_agent: str | None = None) -> None:
        self.base_url = base_url
        headers = {"User-Agent": user_agent} if user_agent is not None else None
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                             headers=headers)

    async def close(self) -> None:
        await self.session.close()

    async def _answer(self, response: aiohttp.ClientResponse) -> Page:
        return Page(response.status, dict(response.headers), await response.text(),
                    response.headers.getall("Set-Cookie", []))

    async def get(self, path: str) -> Page:
        async with self.session.get(self.base_url + path, allow_redirects=False) as response:
            return await self._answer(response)

    async def post(self, path: str, data: dict[str, str] | list[tuple[str, str]]
                   ) -> Page:
        async with self.session.post(self.base_url + path, data=data,
                                     allow_redirects=False) as response:
            return await self._answer(response)

    async def sign_in(self, email: str, password: str) -> Page:
        form = await self.get("/login")
        return await self.post("/login", {"csrf": form.csrf(), "email": email,
                                          "password": password})

    async def submit(self, page_path: str, action: str,
                     data: dict[str, str] | list[tuple[str, str]]) -> Page:
        """GET ``page_path``, then POST ``data`` to ``action`` with the page's CSRF token."""
        page = await self.get(page_path)
        items = list(data.items()) if isinstance(data, dict) else list(data)
        return await self.post(action, [("csrf", page.csrf()), *items])


class Clock:
    """The console's wall clock, moved by the test."""

    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now


class Pauses:
    """The owner throttle's ``sleep``: records every delay; while ``gate`` is clear, a delay
    is held until the test sets it, and ``active`` counts the delays in progress."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.active = 0
        self.max_active = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.entered = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.entered.set()
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            await self.gate.wait()
        finally:
            self.active -= 1


class CountingClock:
    """The owner throttle's monotonic clock: moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Sink:
    """An aiosmtpd handler keeping every delivered message."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._changed = asyncio.Event()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.messages.append(message_from_bytes(envelope.content))
        self._changed.set()
        return "250 OK"

    async def wait_for(self, count: int) -> list[Message]:
        async with asyncio.timeout(WAIT_S):
            while len(self.messages) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.messages

    def code(self, index: int = -1) -> str:
        payload = self.messages[index].get_payload(decode=True)
        assert isinstance(payload, bytes)
        match = re.search(r"verify (\d{4} \d{4})", payload.decode())
        assert match is not None
        return match.group(1)


@dataclass
class Console:
    """A running console and what a test needs to talk to it as the owner and as a device."""

    url: str
    clock: Clock
    sink: Sink
    session: aiohttp.ClientSession
    key: Ed25519PrivateKey
    responses: list[str]
    pauses: Pauses
    throttle_clock: CountingClock
    app: web.Application
    signed: int = 0
    #: The box of the last lookup or refresh :meth:`device` sent (opens its records' boxes).
    box: BoxOpener | None = None
    #: The SMTP sink's port (what a command run beside the console mails through).
    smtp_port: int = 0

    async def drain_mail(self) -> None:
        """Wait until every e-mail the authority has started sending is delivered."""
        await self.app[AUTHORITY].close()

    async def owner(self, method: str, path: str, body: Any = None, *,
                    auth: tuple[str, str] = (OWNER, PASSWORD),
                    code: str | None = None) -> tuple[int, dict[str, Any]]:
        """An owner API call with Basic credentials (and ``code`` in ``X-Owner-Code``)."""
        basic = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        headers = {"Authorization": "Basic " + basic}
        if code is not None:
            headers["X-Owner-Code"] = code
        async with self.session.request(method, self.url + path, json=body,
                                        headers=headers) as response:
            text = await response.text()
        self.responses.append(text)
        return response.status, json.loads(text)

    def pinned(self) -> AuthorityKey:
        """The console's authority key, as a CLI's config would pin it."""
        return self.app[AUTHORITY].store.signer.key

    async def device(self, method: str, path: str, body: Any = None, *,
                     key: Ed25519PrivateKey | None = None, skew_s: float = 0,
                     boxed: bool = True) -> tuple[int, dict[str, Any], dict[str, str]]:
        """A signed device request; a lookup or refresh body (``boxed``) gets a fresh
        ``nonce`` and ``box_key`` of the signing device unless it has its own."""
        if boxed and path in RECORD_PATHS and isinstance(body, dict):
            nonce = body.get("nonce", secrets.token_hex(16))
            self.box = BoxOpener(device_info(key or self.key).device_id, nonce)
            body = {"nonce": nonce, "box_key": b64url_encode(self.box.public_key), **body}
        data = b"" if body is None else json.dumps(body).encode()
        self.signed += 1
        headers = device_proof(key or self.key, method, path, data, self.clock.now + skew_s,
                         ms_offset=self.signed)
        async with self.session.request(method, self.url + path, data=data or None,
                                        headers=headers) as response:
            text = await response.text()
            extra = dict(response.headers)
        self.responses.append(text)
        return response.status, json.loads(text), extra


def device_proof(key: Ed25519PrivateKey, method: str, path: str, body: bytes,
                 now: float, ms_offset: int = 0) -> dict[str, str]:
    """The four ``X-Device-*`` headers of a request signed by ``key`` at ``now`` (plus
    ``ms_offset`` milliseconds), built from the documented format."""
    raw = key.public_key().public_bytes_raw()
    device_id = base64.b32encode(hashlib.sha256(raw).digest()).decode().rstrip("=")[:26]
    when = str(int(now * 1000) + ms_offset)
    message = (b"mtgw-device-v1\n" + f"{method}\n{path}\n{when}\n".encode()
               + hashlib.sha256(body).hexdigest().encode())
    signature = base64.urlsafe_b64encode(key.sign(message)).rstrip(b"=").decode()
    return {"X-Device-Id": device_id, "X-Device-Key": base64.b64encode(raw).decode(),
            "X-Device-Time": when, "X-Device-Signature": signature}


@contextlib.asynccontextmanager
async def running_console(tmp_path: Path, database_url: str = "",
                          shares: FairShare | None = None,
                          **console: Any) -> AsyncIterator[Console]:
    """The console on loopback port 0, its data in ``tmp_path`` (or in the PostgreSQL
    database at ``database_url``), the owner created, mail going to a real SMTP server on
    loopback (what the ``console`` fixture yields); ``console``: more ``[console]`` keys;
    ``shares``: the fair share's bounds (``mtgateway_console.fairshare``), if not its defaults."""
    sink = Sink()
    loop = asyncio.get_running_loop()
    smtp = await loop.create_server(lambda: SMTP(sink, hostname="sink.test"), "127.0.0.1", 0)
    try:  # a failing test (or a refused config) still stops the SMTP server and the console
        smtp_port = smtp.sockets[0].getsockname()[1]
        config = ConsoleFile(
            data_dir=str(tmp_path),
            console=ConsoleConfig(port=0, **{"webhook_private_networks": True, **console}),
            authority=AuthorityConfig(database_url=SecretStr(database_url)),
            smtp=SmtpConfig(host="127.0.0.1", port=smtp_port, security="none",
                            from_address="gateway@example.net", timeout_s=WAIT_S))
        clock, pauses, throttle_clock = Clock(), Pauses(), CountingClock()
        app = create_console_app(config, clock=clock, throttle_clock=throttle_clock,
                                 sleep=pauses, shares=shares)
        runner, port = await start_console(app, "127.0.0.1", 0)
        try:
            await add_owner(app[AUTHORITY], OWNER, PASSWORD, clock)
            async with aiohttp.ClientSession() as session:
                yield Console(f"http://127.0.0.1:{port}", clock, sink, session,
                              Ed25519PrivateKey.generate(), [], pauses, throttle_clock, app,
                              smtp_port=smtp_port)
        finally:
            await runner.cleanup()
    finally:
        smtp.close()
        await smtp.wait_closed()


async def issue_token(console: Console, **extra: Any) -> dict[str, Any]:
    """A token issued over the owner API (``extra``: more fields of the request); the body."""
    status, body = await console.owner("POST", "/v1/tokens",
                                       {"login": 5012345, "server": "MTG-Demo", **extra})
    assert status == 201, body
    return body


async def pending_lookup(console: Console, token: str) -> None:
    """The console's device looks ``token`` up for the first time: it is pending approval."""
    status, body, _ = await console.device("POST", "/v1/records/lookup",
                                           {"token_hint": token_hint(token),
                                            "device_name": "desk-pc", "os": "Windows 11"})
    assert (status, body) == (200, {"status": "pending"})


async def approved_token(console: Console) -> str:
    """A token issued over the owner API and the console's device approved for it by the
    e-mailed code (a daemon that may now report the terminal): the token's id."""
    token = (await issue_token(console))["token"]
    await pending_lookup(console, token)
    await console.sink.wait_for(1)
    assert (await console.device("POST", "/v1/device/verify",
                                 {"code": console.sink.code()}))[0] == 200
    [row] = await console.app[AUTHORITY].tokens.of(OWNER)
    return str(row["token_id"])


async def signed_in(browser: Browser) -> None:
    answer = await browser.sign_in(OWNER, PASSWORD)
    assert answer.status == 303 and answer.headers["Location"] == "/"


async def create_token(browser: Browser, login: str = "5012345",
                       server: str = "MTG-Demo") -> tuple[Page, str, str]:
    page = await browser.submit("/tokens", "/tokens", [("login", login), ("server", server),
                                                       ("scopes", "read"), ("scopes", "trade"),
                                                       ("owner_password", PASSWORD)])
    assert page.status == 201, page.text
    token = re.search(r'id="new-token" value="([^"]+)"', page.text)
    token_id = re.search(r"Token id <code>(tok_[0-9a-f]+)</code>", page.text)
    assert token is not None and token_id is not None
    return page, token.group(1), token_id.group(1)


@dataclass
class ConsoleChild:
    """A ``mtgateway-console`` process and what it printed once it listened."""

    proc: subprocess.Popen[str]
    url: str
    #: The authority key it printed (base64), as an operator pins it.
    key: str

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


@contextlib.contextmanager
def console_process(config: Path, env: dict[str, str]) -> Iterator[ConsoleChild]:
    """``python -m mtgateway_console -c CONFIG`` until it listens; killed at the end if it
    still runs (a test that stops it itself asserts how it ended)."""
    proc = subprocess.Popen([sys.executable, "-m", "mtgateway_console", "-c", str(config)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline()
        assert line.startswith("console listening on "), line
        key = re.match(r"authority key kid=\S+ public_key=(\S+)", proc.stdout.readline())
        assert key is not None
        yield ConsoleChild(proc, line.split()[-1], key.group(1))
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
