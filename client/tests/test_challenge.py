"""Issue 16 F3: the clients never send the token to a process that has not proved it is the
daemon holding it.

A fake listener on the daemon's URL (what any local user can bind while the daemon is down)
records every byte it receives: it must never see the token, nor the key the proofs use. A
recording relay in front of the real daemon shows the token never crosses the wire when the
challenge succeeds either, for ``/rpc`` and for ``/ws``; the daemon refuses a replayed answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

import mtgateway as mt5
import mtgateway.aio as amt5
from client.tests.conftest import base_url
from ea_bridge.emulator.terminal import EmulatedTerminal
from mtgateway.credential import TokenKeys
from mtgateway.handshake import Handshake, token_hint
from tests.e2e.fixtures import LOGIN, WAIT_S, Daemon


class Recorder:
    """A loopback TCP listener that records what it receives and answers with ``respond``."""

    def __init__(self, respond: Callable[[bytes], bytes | None]) -> None:
        self.received = bytearray()
        self._respond = respond
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                self.received += data
                answer = self._respond(bytes(self.received))
                if answer is not None:
                    writer.write(answer)
                    await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def listening(recorder: Recorder) -> AsyncIterator[str]:
    server = await asyncio.start_server(recorder.handle, "127.0.0.1", 0)
    recorder.port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{recorder.port}"


def http(status: int, body: Any) -> bytes:
    payload = json.dumps(body).encode()
    return (f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: "
            f"{len(payload)}\r\n\r\n").encode() + payload


def answer_every_request(status: int, body: Any) -> Callable[[bytes], bytes | None]:
    """Answer each complete request (headers and Content-Length body) with one response."""
    answered = 0

    def respond(received: bytes) -> bytes | None:
        nonlocal answered
        complete = 0
        rest = received
        while b"\r\n\r\n" in rest:
            head, _, tail = rest.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if len(tail) < length:
                break
            complete += 1
            rest = tail[length:]
        out = b"".join(http(status, body) for _ in range(complete - answered))
        answered = complete
        return out or None

    return respond


TOKEN = "mtgw_" + "A" * 32 + "BBBBBB"  # the shape of a token; the fake never knows it
KEYS = TokenKeys.of(TOKEN)
#: What must never reach a listener: the token's SHA-256 and every key derived from it.
SECRETS_HEX = [hashlib.sha256(TOKEN.encode()).hexdigest(), KEYS.client_key.hex(),
               KEYS.verifier.stored_key.hex(), KEYS.verifier.server_key.hex()]
IMPOSTOR_ANSWERS = [
    # a listener that only collects: the old client sent the token in this first request
    (503, {"error": "busy"}),
    # one that pretends to run the challenge, without the key
    (200, {"server_nonce": secrets.token_hex(32), "server_proof": secrets.token_hex(32),
           "expires_in_s": 30}),
    # one that replays a genuine answer it recorded earlier (another client nonce)
    (200, {"server_nonce": "0" * 64, "server_proof": "1" * 64, "expires_in_s": 30}),
    # one that answers every request as if it were /rpc
    (200, {"jsonrpc": "2.0", "id": 1, "result": {"terminal": {"connected": True}}}),
]


def assert_nothing_disclosed(received: bytes) -> None:
    assert TOKEN.encode() not in received
    for secret in SECRETS_HEX:
        assert secret.encode() not in received
    assert TOKEN[5:].encode() not in received
    assert b"client_proof" not in received


@pytest.mark.parametrize("status,body", IMPOSTOR_ANSWERS)
async def test_the_sync_client_sends_nothing_to_an_impostor(status: int, body: Any) -> None:
    """initialize() against a fake listener: False, RES_E_AUTH_FAILED or a connect error, and
    the listener never received the token or anything derived from it but the hint."""
    recorder = Recorder(answer_every_request(status, body))
    async with listening(recorder) as url:
        def run() -> tuple[bool, Any]:
            client = mt5.Client()
            ok = client.initialize(token=TOKEN, url=url, timeout=0)
            return ok, client.last_error()
        ok, error = await asyncio.to_thread(run)
    assert ok is False
    assert error[0] in (mt5.RES_E_AUTH_FAILED, mt5.RES_E_FAIL), error
    assert b"POST /auth/challenge" in recorder.received  # it was asked, and nothing more
    assert b"/rpc" not in recorder.received
    assert_nothing_disclosed(bytes(recorder.received))


@pytest.mark.parametrize("status,body", IMPOSTOR_ANSWERS)
async def test_the_async_client_sends_nothing_to_an_impostor(status: int, body: Any) -> None:
    """The same for mtgateway.aio, and a stream refuses to start on the impostor too."""
    recorder = Recorder(answer_every_request(status, body))
    async with listening(recorder) as url:
        client = amt5.AsyncClient()
        assert await client.initialize(token=TOKEN, url=url, timeout=0) is False
        assert client.last_error()[0] in (mt5.RES_E_AUTH_FAILED, mt5.RES_E_FAIL)
        await client.shutdown()
    assert b"/rpc" not in recorder.received and b"/ws" not in recorder.received
    assert_nothing_disclosed(bytes(recorder.received))


class Relay:
    """A TCP relay to the real daemon that records both directions."""

    def __init__(self, target_port: int) -> None:
        self.sent = bytearray()
        self._target = target_port

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter,
                       record: bool) -> None:
            try:
                while data := await src.read(65536):
                    if record:
                        self.sent += data
                    dst.write(data)
                    await dst.drain()
            except ConnectionError:
                pass
            finally:
                dst.close()

        await asyncio.gather(pump(reader, up_writer, True), pump(up_reader, writer, False))


async def test_the_token_never_crosses_the_wire_to_the_real_daemon(
        daemon: Daemon, terminal: EmulatedTerminal) -> None:
    """Through a recording relay: calls and a tick stream work, and the client's bytes hold
    the session, never the token."""
    relay = Relay(daemon.http_port)
    server = await asyncio.start_server(relay.handle, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    async with server:
        def run() -> Any:
            with mt5.Client() as client:
                assert client.initialize(token=daemon.token, url=url), client.last_error()
                return client.account_info()
        assert (await asyncio.to_thread(run)) is not None
        async with amt5.AsyncClient() as client:
            assert await client.initialize(token=daemon.token, url=url), client.last_error()
            assert await client.account_info() is not None
            stream = client.ticks(["BTCUSD"])
            async with asyncio.timeout(WAIT_S):
                first = await anext(stream)
            await stream.aclose()
            assert first is not None
    sent = bytes(relay.sent)
    assert daemon.token.encode() not in sent
    assert hashlib.sha256(daemon.token.encode()).hexdigest().encode() not in sent
    assert b"Bearer mtgws_" in sent and b"GET /ws" in sent


async def post(session: aiohttp.ClientSession, url: str, body: Any) -> tuple[int, Any]:
    async with session.post(url, json=body) as response:
        return response.status, await response.json(content_type=None)


async def test_the_challenge_over_http_and_no_replay(daemon: Daemon,
                                                     terminal: EmulatedTerminal) -> None:
    """The two steps by hand (as docs/api.md writes them): a session that works as a Bearer
    credential on /rpc; the same answer replayed, a wrong proof, a wrong hint: 401."""
    base = base_url(daemon)
    rpc = {"jsonrpc": "2.0", "id": 1, "method": "account_info"}
    async with aiohttp.ClientSession() as http_session:
        shake = Handshake(daemon.token)
        status, challenge = await post(http_session, base + "/auth/challenge",
                                       shake.challenge_body())
        assert status == 200, challenge
        step2 = shake.session_body(challenge)  # raises if the daemon's proof were wrong
        status, opened = await post(http_session, base + "/auth/session", step2)
        assert status == 200 and opened["session"].startswith("mtgws_"), opened
        session = Handshake.session(opened)
        async with http_session.post(base + "/rpc", json=rpc, headers={
                "Authorization": f"Bearer {session}"}) as response:
            assert (await response.json())["result"]["login"] == LOGIN
        status, replayed = await post(http_session, base + "/auth/session", step2)
        assert status == 401 and replayed["error"]["data"]["reason"] == "invalid_token"

        shake = Handshake(daemon.token)
        _, challenge = await post(http_session, base + "/auth/challenge",
                                  shake.challenge_body())
        wrong = {"server_nonce": challenge["server_nonce"], "client_proof": "0" * 64}
        status, refused = await post(http_session, base + "/auth/session", wrong)
        assert status == 401, refused
        good = shake.session_body(challenge)  # the nonce was consumed by the wrong answer
        status, _ = await post(http_session, base + "/auth/session", good)
        assert status == 401

        status, unknown = await post(http_session, base + "/auth/challenge", {
            "v": 2, "token_hint": token_hint(TOKEN), "client_nonce": "a" * 64})
        assert status == 401 and unknown["error"]["data"]["reason"] == "invalid_token"
        status, bad = await post(http_session, base + "/auth/challenge", {
            "v": 2, "token_hint": "xyz", "client_nonce": "a" * 64})
        assert status == 400 and "token_hint" in bad["error"]["message"]
        status, old = await post(http_session, base + "/auth/challenge", {
            "token_hint": token_hint(daemon.token), "client_nonce": "a" * 64})
        assert status == 400 and "upgrade mtgateway-client" in old["error"]["message"]
        async with http_session.post(base + "/rpc", json=rpc, headers={
                "Authorization": "Bearer mtgws_" + "x" * 43}) as response:
            assert response.status == 401
        async with http_session.post(base + "/rpc", json=rpc, headers={
                "Authorization": f"Bearer {daemon.token}"}) as response:
            assert (await response.json())["result"]["login"] == LOGIN  # curl's way


async def open_session(base: str, token: str) -> str:
    """The challenge by hand: a session."""
    async with aiohttp.ClientSession() as http_session:
        shake = Handshake(token)
        _, challenge = await post(http_session, base + "/auth/challenge", shake.challenge_body())
        _, opened = await post(http_session, base + "/auth/session",
                               shake.session_body(challenge))
        return Handshake.session(opened)


async def rpc_status(base: str, session: str) -> int:
    async with aiohttp.ClientSession() as http_session, http_session.post(
            base + "/rpc", json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            headers={"Authorization": f"Bearer {session}"}) as response:
        return response.status


async def test_a_lapsed_session_is_replaced_by_a_new_challenge(
        daemon: Daemon, terminal: EmulatedTerminal) -> None:
    """A session unused past the daemon's idle limit (an hour) is refused; both clients answer
    a new challenge and the call goes through, with nothing for the bot to do."""
    sync_client = mt5.Client()

    def first() -> Any:
        assert sync_client.initialize(token=daemon.token, url=base_url(daemon)), \
            sync_client.last_error()
        return sync_client.account_info()

    async with amt5.AsyncClient() as async_client:
        assert await async_client.initialize(token=daemon.token, url=base_url(daemon))
        assert (await asyncio.to_thread(first)) is not None
        manual = await open_session(base_url(daemon), daemon.token)
        assert await rpc_status(base_url(daemon), manual) == 200
        daemon.clock.advance(3601)
        assert await rpc_status(base_url(daemon), manual) == 401  # the sessions have lapsed
        info = await asyncio.to_thread(sync_client.account_info)
        assert info is not None, sync_client.last_error()
        assert await async_client.account_info() is not None, async_client.last_error()
    sync_client.shutdown()


def test_the_documented_test_vector() -> None:
    """docs/api.md's vector: the client's two bodies for the documented token and nonces
    (the proofs themselves: client/tests/test_credential.py)."""
    token = "mtgw_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABBBBBB"
    server = "d65f49314b4bdb7e21e2d4484c4428f2f307fc9fedaf79b5ed872b0dd1cd6eb3"
    client = "4ebdf595fe40c9d5ed84f270874566a58c8e90c74200eed07300902617228946"
    shake = Handshake(token, randbytes=lambda n: b"\x11" * n)
    assert shake.challenge_body() == {"v": 2, "token_hint": "b516fc16a62f26210b7986963d09368e",
                                      "client_nonce": "1" * 64}
    assert shake.session_body({"server_nonce": "2" * 64, "server_proof": server}) == {
        "server_nonce": "2" * 64, "client_proof": client}
