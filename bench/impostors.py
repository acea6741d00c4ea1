"""Impostors for ``python -m bench.chaos``: processes that take a port while its owner is away.

On one machine any local user can bind the daemon's bridge port or the console's address while
its owner restarts. Chaos plays both, between its trade runs, and counts what they obtain (each
count must stay 0):

* :class:`BridgeImpostor` takes the bridge port (through
  :meth:`~ea_bridge.faultproxy.FaultProxy.squat`): for every connection of the EA it answers the
  hello with a challenge it cannot prove, a welcome, ``account_info`` and a 0.5-lot
  ``order_send`` commented ``not-the-daemon``. It counts the EA's auth frames (a credential: the
  EA's proof), answers and events (anything served or obeyed); chaos counts the broker's orders
  with its comment (orders executed for an impostor).
* :class:`ConsoleAddress` stands where the daemon and the owner's CLI reach the console: it
  forwards, or, squatted, keeps each request and answers 503. After each squat it does what an
  attacker would with what it kept: replays every device request to the console (which answers
  them: they are valid) and tries each answer as a credential: a record that still carries a
  token digest, a sealed box it can open, a session it can open at the daemon with proofs made
  from the record's ``stored_key``; and it counts owner passwords (``Authorization`` headers)
  that reached it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from ea_bridge.framing import FrameDecoder, encode_frame
from mtgateway.credential import client_message, ea_message, prove_server
from mtgateway_base.wire.boxes import BoxOpener
from mtgateway_base.wire.errors import RecordRejected

__all__ = ["IMPOSTOR_COMMENT", "BridgeImpostor", "ConsoleAddress"]

#: The comment of the impostor's order: an order at the broker with it was executed for it.
IMPOSTOR_COMMENT = "not-the-daemon"


class BridgeImpostor:
    """A fake daemon on the bridge port; see the module docstring.

    Args:
        server_key: prove the challenge with this key, as a holder of a token's record and the
            authority's data key could (for the test that the counts can fail); by default
            the impostor holds nothing and makes a proof up.
    """

    def __init__(self, server_key: bytes | None = None) -> None:
        self._server_key = server_key
        self.connections = 0
        #: Frames the EA sent, by type word (only ``hello`` may appear).
        self.frames: Counter[str] = Counter()
        self._changed = asyncio.Event()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One connection of the EA: the script, and a record of what the EA sends."""
        self.connections += 1
        self._changed.set()
        decoder = FrameDecoder(1 << 20)
        try:
            while data := await reader.read(65536):
                for payload in decoder.feed(data):
                    frame = orjson.loads(payload)
                    self.frames.update([str(frame.get("t"))])
                    self._changed.set()
                    if frame.get("t") == "hello":
                        nonce = secrets.token_hex(32)
                        writer.write(b"".join(encode_frame(orjson.dumps(f)) for f in (
                            {"t": "challenge", "nonce": nonce, "server_time_ms": 0,
                             "proof": self._proof(frame, nonce)},
                            {"t": "welcome", "session_id": "not-the-daemon",
                             "heartbeat_interval_s": 5, "heartbeat_timeout_s": 15,
                             "max_frame_bytes": 8388608},
                            {"t": "req", "id": 1, "m": "account_info", "p": {}},
                            {"t": "req", "id": 2, "m": "order_send", "p": {
                                "order_key": "AAAAAAAAAAAAAAAAAAAAAA", "request": {
                                    "action": 1, "symbol": "EURUSD", "volume": 0.5, "type": 0,
                                    "deviation": 50, "type_filling": 0,
                                    "comment": IMPOSTOR_COMMENT}}})))
                        await writer.drain()
        except (ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    def _proof(self, hello: dict[str, Any], nonce: str) -> str:
        if self._server_key is None:
            return secrets.token_hex(32)
        return prove_server(self._server_key, ea_message(
            "daemon", str(hello.get("ea_nonce")), nonce, int(hello.get("login", 0)),
            str(hello.get("server"))))

    async def wait_for(self, predicate: Callable[[], bool], timeout_s: float) -> None:
        """Until ``predicate()`` holds (checked at each connection and frame)."""
        async with asyncio.timeout(timeout_s):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    @property
    def served(self) -> int:
        """Frames beyond the hello: the EA's proof, answers, events (each one a failure)."""
        return sum(n for kind, n in self.frames.items() if kind != "hello")


@dataclass
class _Kept:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class ConsoleAddress:
    """The console's address: forwards to ``console_url``, or, squatted, keeps and refuses.

    Args:
        console_url: the real console.
    """

    def __init__(self, console_url: str) -> None:
        self.console_url = console_url
        self.squatted = False
        self.kept: list[_Kept] = []
        #: What the impostor obtained: each count must stay 0.
        self.obtained: Counter[str] = Counter()
        #: Device requests replayed to the console and answered 200.
        self.replayed = 0
        self.app = web.Application()
        self.app.router.add_route("*", "/{path:.*}", self._handle)
        self._http: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        """Close the forwarding client."""
        if self._http is not None:
            await self._http.close()

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        return self._http

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in ("host", "content-length")}
        if self.squatted:
            if "Authorization" in request.headers:
                self.obtained.update(["owner_password"])
            self.kept.append(_Kept(request.method, request.path_qs, headers, body))
            return web.json_response({"error": "busy"}, status=503)
        try:
            async with self._session().request(request.method,
                                               self.console_url + request.path_qs,
                                               data=body, headers=headers) as answer:
                return web.Response(status=answer.status, body=await answer.read(),
                                    content_type="application/json")
        except aiohttp.ClientError:  # the console went away under a held long-poll
            return web.json_response({"error": "console gone"}, status=503)

    async def exploit(self, daemon_url: str) -> None:
        """Replay every device request kept during the squat to the console, and try each
        answer as a credential (module docstring); then forget them."""
        kept, self.kept = self.kept, []
        http = self._session()
        for request in kept:
            if not request.path.startswith("/v1/records/"):
                continue
            async with http.request(request.method, self.console_url + request.path,
                                    data=request.body, headers=request.headers) as answer:
                if answer.status != 200:
                    continue
                body = await answer.json()
            self.replayed += 1
            asked = orjson.loads(request.body)
            envelopes = ([body["record"]] if isinstance(body.get("record"), dict)
                         else list(body.get("records", [])))
            for envelope in envelopes:
                await self._try_record(envelope.get("record", {}), asked, daemon_url, http)

    async def _try_record(self, record: dict[str, Any], asked: dict[str, Any],
                          daemon_url: str, http: aiohttp.ClientSession) -> None:
        if "token_sha256" in record:
            self.obtained.update(["token_digest"])
        try:
            BoxOpener(str(record.get("device_id")), str(asked.get("nonce"))).open(
                str(record.get("box_key")), str(record.get("server_key_box")),
                str(record.get("token_id")))
        except RecordRejected:
            pass
        else:
            self.obtained.update(["server_key"])
        stored = bytes.fromhex(str(record.get("stored_key", "00" * 32)))
        hint = str(record.get("token_hint"))
        client_nonce = secrets.token_hex(32)
        async with http.post(daemon_url + "/auth/challenge", json={
                "v": 2, "token_hint": hint, "client_nonce": client_nonce}) as answer:
            if answer.status != 200:
                return
            challenge = await answer.json()
        message = client_message("client", hint, client_nonce, challenge["server_nonce"])
        mac = hmac.new(stored, message, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(stored, mac, strict=True)).hex()
        async with http.post(daemon_url + "/auth/session", json={
                "server_nonce": challenge["server_nonce"], "client_proof": proof}) as answer:
            if answer.status == 200:
                self.obtained.update(["session"])
