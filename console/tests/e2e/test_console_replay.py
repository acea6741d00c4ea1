"""Review round 4, T4-F2: a daemon's signed request, captured at the console's address and
replayed, yields nothing that opens a session or logs an EA in.

The review's chain: a process on the console's address collects the daemon's signed
``lookup``/``refresh``; replayed to the console once it is back, it was answered with records
holding ``token_sha256``, and since the client challenge was keyed by that value, it opened a
trading session (and faked an EA). Now a record holds the token's verifier: ``stored_key``,
which no proof can be made from, and ``server_key`` sealed to the X25519 key the daemon's
request carried, which only the daemon can open.

Set-up: the real console in this process, the real daemon in remote mode behind a forwarder
standing for the console's address (``cut``: it answers 503 and keeps the request, as the
squatter did), the daemon's device approved, a client presenting the real token.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from ea_bridge.messages import Auth, Challenge, Refuse
from gateway.app import create_app
from gateway.auth import MemorySecretStore
from gateway.config import AuthorityConfig, BridgeConfig, GatewayConfig, ServerConfig
from gateway.edge.listener import start_http
from gateway.keys import BRIDGE, DEVICE
from mtgateway.credential import client_message, ea_message, token_hint
from mtgateway_base.wire.boxes import BoxOpener
from mtgateway_base.wire.errors import RecordRejected
from mtgateway_console.config import ConsoleConfig, ConsoleFile
from mtgateway_console.console import AUTHORITY, create_console_app, start_console
from mtgateway_console.mailer import RecordingMailer
from tests.bridgekit import RawEA

pytestmark = pytest.mark.network_edge

LOGIN, SERVER = 5012345, "MTG-Demo"
OWNER, PASSWORD = "owner@example.com", "owner password 123"


@dataclass
class Captured:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Address:
    """The console's address as the daemon knows it: forwards to the console, or, ``cut``,
    keeps each request and answers 503 (the squatter of the review)."""

    def __init__(self, console_url: str) -> None:
        self.console_url = console_url
        self.cut = False
        self.captured: list[Captured] = []
        self.app = web.Application()
        self.app.router.add_route("*", "/{path:.*}", self._handle)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in ("host", "content-length")}
        if self.cut:
            self.captured.append(Captured(request.method, request.path_qs, headers, body))
            return web.json_response({"error": "busy"}, status=503)
        async with aiohttp.ClientSession() as session, session.request(
                request.method, self.console_url + request.path_qs, data=body,
                headers=headers) as answer:
            return web.Response(status=answer.status, body=await answer.read(),
                                content_type="application/json")


@contextlib.asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[int]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield int(runner.addresses[0][1])
    finally:
        await runner.cleanup()


@dataclass
class World:
    console_url: str
    console: web.Application
    address: Address
    daemon: web.Application
    http_url: str
    token: str


@contextlib.asynccontextmanager
async def world(tmp_path: Path) -> AsyncIterator[World]:
    console = create_console_app(ConsoleFile(data_dir=str(tmp_path / "console"),
                                             console=ConsoleConfig(port=0)),
                                 mailer=RecordingMailer())
    runner, port = await start_console(console, "127.0.0.1", 0)
    try:
        console_url = f"http://127.0.0.1:{port}"
        authority = console[AUTHORITY]
        await authority.owners.create(OWNER, PASSWORD)
        token = (await authority.tokens.issue(OWNER, LOGIN, SERVER)).token
        address = Address(console_url)
        async with serving(address.app) as address_port:
            daemon = create_app(GatewayConfig(
                data_dir=str(tmp_path / "daemon"),
                server=ServerConfig(port=0, auth_failure_delay_s=0.0),
                bridge=BridgeConfig(port=0),
                authority=AuthorityConfig(mode="remote",
                                          url=f"http://127.0.0.1:{address_port}",
                                          public_key=authority.store.signer.key.b64)),
                secret_store=MemorySecretStore())
            http_runner, http_port = await start_http(daemon)
            try:
                device = daemon[DEVICE].info
                await authority.approvals.approve_local(device)
                yield World(console_url, console, address, daemon,
                            f"http://127.0.0.1:{http_port}", token)
            finally:
                await http_runner.cleanup()
    finally:
        await runner.cleanup()


async def rpc(url: str, credential: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.post(
            url + "/rpc", json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            headers={"Authorization": f"Bearer {credential}"}) as response:
        return response.status, await response.json(content_type=None)


async def replay(console_url: str, captured: Captured) -> Any:
    """The captured request, byte for byte, sent to the console once it is back."""
    async with aiohttp.ClientSession() as session, session.request(
            captured.method, console_url + captured.path, data=captured.body,
            headers=captured.headers) as response:
        assert response.status == 200, await response.text()
        return await response.json()


def forged_proofs(stored_key: bytes, message: bytes) -> list[str]:
    """Every proof one can make from what a replayed record holds."""
    mac = hmac.new(stored_key, message, hashlib.sha256).digest()
    return [mac.hex(), stored_key.hex(),
            bytes(a ^ b for a, b in zip(stored_key, mac, strict=True)).hex(),
            hmac.new(hashlib.sha256(stored_key).digest(), message, hashlib.sha256).hexdigest()]


async def test_a_replayed_device_request_opens_no_session_and_logs_no_ea_in(
        tmp_path: Path) -> None:
    """The review's chain, step by step: the captured lookup replayed to the console is
    answered (it is a valid request), but the record holds no token digest, its sealed
    server key opens for no one but the daemon, and every proof built from it is refused by
    the daemon, on /auth/session and on the bridge."""
    async with world(tmp_path) as w:
        w.address.cut = True
        status, _ = await rpc(w.http_url, w.token)  # the daemon asks the "console": captured
        assert status == 503
        lookup = next(c for c in w.address.captured if c.path == "/v1/records/lookup")
        answer = await replay(w.console_url, lookup)
        assert answer["status"] == "ok"
        record = answer["record"]["record"]
        assert "token_sha256" not in record
        assert hashlib.sha256(w.token.encode()).hexdigest() not in orjson.dumps(answer).decode()
        request = orjson.loads(lookup.body)
        with pytest.raises(RecordRejected):  # only the daemon's private half opens it
            BoxOpener(record["device_id"], request["nonce"]).open(
                record["box_key"], record["server_key_box"], record["token_id"])

        w.address.cut = False  # the console is back: the daemon learns the record itself
        status, _ = await rpc(w.http_url, w.token)
        assert status == 200
        stored_key = bytes.fromhex(record["stored_key"])
        hint = token_hint(w.token)
        async with aiohttp.ClientSession() as session:
            for proof_of in range(4):
                client_nonce = secrets.token_hex(32)
                async with session.post(w.http_url + "/auth/challenge", json={
                        "v": 2, "token_hint": hint, "client_nonce": client_nonce}) as r:
                    challenge = await r.json()
                server_nonce = challenge["server_nonce"]
                proof = forged_proofs(stored_key, client_message(
                    "client", hint, client_nonce, server_nonce))[proof_of]
                async with session.post(w.http_url + "/auth/session", json={
                        "server_nonce": server_nonce, "client_proof": proof}) as r:
                    assert r.status == 401, await r.text()

        bridge_port = w.daemon[BRIDGE].port
        for proof_of in range(4):
            assert await ea_with_forged_proof(bridge_port, hint, stored_key, proof_of) \
                == "invalid_token"
        assert w.daemon[BRIDGE].sessions() == []


async def ea_with_forged_proof(port: int, hint: str, stored_key: bytes, which: int) -> str:
    """A fake EA holding the record, not the token: hello, read the (genuine) challenge, send
    a proof built from ``stored_key``; the reason word of the refusal it gets."""
    ea = await RawEA.connect(port, hint, LOGIN, SERVER)
    try:
        while True:
            message = await ea.next_message()
            if isinstance(message, Challenge):
                proof = forged_proofs(stored_key, ea_message(
                    "ea", ea.hello.ea_nonce, message.nonce, LOGIN, SERVER))[which]
                ea.send(Auth(proof))
            elif isinstance(message, Refuse):
                return str(message.reason)
            else:
                raise AssertionError(f"unexpected {message!r}")
    finally:
        ea.close()
