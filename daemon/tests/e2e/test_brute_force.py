"""Guessing tokens over real sockets (issue 8, item 9): every failure pays the serialized
delay on every path, a lockout answers a wrong token 429 and lets a right one in after the
same delay (issue 16, "Also"), ``/ws``'s in-band ``authenticate`` is
throttled the same way and says ``invalid_token`` for a token of another terminal.

The daemon's throttle sleeps on a :class:`Sleeper` the test holds and releases, so these tests
assert order and counts, never timings.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.auth import generate_token
from mtgateway.handshake import Handshake
from tests.e2e.fixtures import WAIT_S, Daemon, running_daemon

pytestmark = pytest.mark.network_edge

PING = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'


class Sleeper:
    """The auth throttle's ``sleep``: counts delays; while ``gate`` is clear, holds them."""

    def __init__(self) -> None:
        self.delays = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self._entered = asyncio.Condition()

    async def __call__(self, seconds: float) -> None:
        async with self._entered:
            self.delays += 1
            self._entered.notify_all()
        await self.gate.wait()

    async def reached(self, count: int) -> None:
        async with asyncio.timeout(WAIT_S), self._entered:
            await self._entered.wait_for(lambda: self.delays >= count)


async def _post(daemon: Daemon, token: str) -> tuple[int, dict[str, Any]]:
    async with daemon.session.post(daemon.rpc_url, data=PING, headers={
            "Authorization": f"Bearer {token}", "Content-Type": "application/json"}) as r:
        return r.status, await r.json()


async def _lock_out(daemon: Daemon, failures: int) -> None:
    for _ in range(failures):
        status, _ = await _post(daemon, generate_token())
        assert status == 401
    status, _ = await _post(daemon, generate_token())
    assert status == 429


async def test_refusals_during_the_lockout_wait_their_turn(tmp_path: Path) -> None:
    """A wrong token during the 429 lockout is not answered before the delay has run (once
    answered at once: 362 guesses/s); a right token never used before is honoured after the
    same delay, in its turn (it once got 429 unchecked: one misbehaving client locked every
    new bot out); the token already in use still works."""
    sleeper = Sleeper()
    async with running_daemon(tmp_path, auth_failure_limit=3, auth_lockout_s=60.0,
                              auth_failure_delay_s=0.25, auth_sleep=sleeper) as daemon:
        assert (await daemon.call("ping"))["error"]["code"] == -32001  # vouched: in use
        await _lock_out(daemon, 4)
        delays = sleeper.delays
        assert delays == 5  # the refusal that met the lockout was delayed too
        sleeper.gate.clear()
        guess = asyncio.create_task(_post(daemon, generate_token()))
        await sleeper.reached(delays + 1)
        assert not guess.done()  # held in the delay, not answered
        # the owner's running bot is not held up by the queue of guesses
        assert (await daemon.call("ping"))["error"]["code"] == -32001
        unused = await daemon.issue()
        fresh = asyncio.create_task(_post(daemon, unused.token))
        sleeper.gate.set()
        status, body = await guess
        assert status == 429 and body["error"]["code"] == -32005
        status, body = await fresh
        assert status == 200 and body["error"]["code"] == -32001  # in: no terminal yet
        assert sleeper.delays == delays + 2  # it paid the failure delay first
        # and, vouched now, it no longer waits behind guesses
        sleeper.gate.clear()
        held = asyncio.create_task(_post(daemon, generate_token()))
        await sleeper.reached(delays + 3)
        assert (await _post(daemon, unused.token))[0] == 200
        sleeper.gate.set()
        assert (await held)[0] == 429


async def test_a_lockout_is_logged_once(tmp_path: Path, caplog: pytest.LogCaptureFixture
                                        ) -> None:
    """However many attempts the lockout refuses, it is one security log line."""
    caplog.set_level(logging.WARNING, logger="gateway.security")
    async with running_daemon(tmp_path, auth_failure_limit=3, auth_lockout_s=60.0) as daemon:
        await _lock_out(daemon, 4)
        for _ in range(10):
            assert (await _post(daemon, generate_token()))[0] == 429
    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.security"]
    assert len(lines) == 1 and "daemon tokens" in lines[0]


async def _send_authenticate(ws: aiohttp.ClientWebSocketResponse, token: str,
                             rid: int) -> None:
    await ws.send_json({"jsonrpc": "2.0", "id": rid, "method": "authenticate",
                        "params": {"token": token}})


async def _answers(ws: aiohttp.ClientWebSocketResponse, *rids: int) -> list[dict[str, Any]]:
    """The answers to ``rids``, in that order (one reader: aiohttp allows no other)."""
    found: dict[int, dict[str, Any]] = {}
    while len(found) < len(rids):
        answer: dict[str, Any] = await ws.receive_json(timeout=WAIT_S)
        if answer.get("id") in rids:
            found[answer["id"]] = answer
    return [found[rid] for rid in rids]


async def _authenticate(ws: aiohttp.ClientWebSocketResponse, token: str, rid: int
                        ) -> dict[str, Any]:
    await _send_authenticate(ws, token, rid)
    return (await _answers(ws, rid))[0]


async def test_ws_in_band_authenticate_is_throttled_and_says_invalid_token(
        tmp_path: Path) -> None:
    """On an authenticated socket, ``authenticate`` with a token of another terminal answers
    exactly what an unknown token does (it said ``terminal_mismatch``, telling a valid token
    apart), every failure pays the delay (it had no throttle: 278 guesses/s on one socket),
    and past the limit the lockout answers -32005 without checking."""
    sleeper = Sleeper()
    async with running_daemon(tmp_path, auth_failure_limit=3, auth_lockout_s=60.0,
                              auth_failure_delay_s=0.25, auth_sleep=sleeper) as daemon:
        other = await daemon.issue(login=777, server="Other-Server")
        url = f"http://127.0.0.1:{daemon.http_port}/ws"
        async with daemon.session.ws_connect(
                url, headers={"Authorization": f"Bearer {daemon.token}"}) as ws:
            mismatch = await _authenticate(ws, other.token, 1)
            unknown = await _authenticate(ws, generate_token(), 2)
            assert mismatch["error"] == unknown["error"]
            assert mismatch["error"]["data"] == {"reason": "invalid_token"}
            assert sleeper.delays == 2
            sleeper.gate.clear()
            for rid in (3, 4, 5):
                await _send_authenticate(ws, generate_token(), rid)
            await sleeper.reached(3)
            # a ping sent now is answered while the guesses are still held: nothing about
            # them comes back before the delay is released
            await ws.send_json({"jsonrpc": "2.0", "id": 99, "method": "ping"})
            first: dict[str, Any] = await ws.receive_json(timeout=WAIT_S)
            assert first["id"] == 99
            sleeper.gate.set()
            codes = [answer["error"]["code"] for answer in await _answers(ws, 3, 4, 5)]
            assert codes == [-32004, -32004, -32005]  # the 4th failure started the lockout
            assert sleeper.delays == 5
            # the socket's own token still re-authenticates during the lockout
            renewed = await _authenticate(ws, daemon.token, 9)
            assert renewed["result"]["authenticated"] is True


async def test_a_flood_of_wrong_tokens_keeps_no_known_token_from_a_new_session(
        tmp_path: Path) -> None:
    """Review round 4, T4-F4: 160 wrong-token requests held in the throttle's delay (the
    review's flood, from two addresses' worth of connections) do not keep a token that opened
    a session before from opening another: both challenge steps count under the token's key,
    which its first session vouched. Before, step 2 waited behind every guess under a key that
    was never vouched, until its nonce expired (429 after 40 s)."""
    sleeper = Sleeper()
    async with running_daemon(tmp_path, auth_failure_limit=1000, auth_failure_delay_s=0.25,
                              auth_sleep=sleeper, max_connections=512,
                              max_connections_per_peer=256) as daemon:
        first = Handshake(daemon.token)
        url = daemon.rpc_url.removesuffix("/rpc")

        async def session_of(shake: Handshake) -> str:
            async with daemon.session.post(url + "/auth/challenge",
                                           json=shake.challenge_body()) as r:
                assert r.status == 200, await r.text()
                answer = await r.json()
            async with daemon.session.post(url + "/auth/session",
                                           json=shake.session_body(answer)) as r:
                assert r.status == 200, await r.text()
                return Handshake.session(await r.json())

        await session_of(first)  # the bot authenticated once: its token is vouched

        async def guess(http: aiohttp.ClientSession) -> int:
            async with http.post(daemon.rpc_url, data=PING, headers={
                    "Authorization": f"Bearer {generate_token()}",
                    "Content-Type": "application/json"}) as r:
                return r.status

        sleeper.gate.clear()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as guessers:
            flood = [asyncio.create_task(guess(guessers)) for _ in range(160)]
            try:
                await sleeper.reached(sleeper.delays + 1)  # the first guess holds the line
                async with asyncio.timeout(WAIT_S):
                    session = await session_of(Handshake(daemon.token))
                    async with daemon.session.post(daemon.rpc_url, data=PING, headers={
                            "Authorization": f"Bearer {session}",
                            "Content-Type": "application/json"}) as r:
                        assert r.status == 200  # its first use is not queued either
                assert sum(task.done() for task in flood) == 0  # the guesses are still held
            finally:
                sleeper.gate.set()
                statuses = await asyncio.gather(*flood)
        assert statuses == [401] * 160
