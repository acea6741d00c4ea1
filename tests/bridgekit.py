"""Test parts for the bridge: a token verifier, a recording listener, and a scripted EA.

The scripted EA speaks the real protocol (it is :class:`EAConnection` over a real socket) but
lets a test decide each move: answer, answer late, never answer, drop the connection, go
silent. The emulated terminal covers the well-behaved EA; this covers the misbehaving ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Callable
from typing import Any

import orjson

from ea_bridge import AuthRefused, Hello, SessionInfo, TerminalId
from ea_bridge.connection import (
    Closed,
    ConnectionEvent,
    EAConnection,
    Refused,
    RequestReceived,
    Welcomed,
)
from ea_bridge.errors import FramingError
from ea_bridge.framing import FrameDecoder, encode_frame
from ea_bridge.messages import PROTOCOL_VERSION, Request, decode, encode
from mtgateway.credential import TokenKeys, ea_message, prove_server, verify_holder

TIMEOUT_S = 10.0  # an upper bound for waits that should finish at once; never a sleep


class StaticVerifier:
    """An :class:`~ea_bridge.EAVerifier` over a fixed ``token → (terminal, token_id)`` table,
    holding only each token's verifier (as the daemon does)."""

    def __init__(self, tokens: dict[str, tuple[TerminalId, str]]) -> None:
        self.tokens = {(keys := TokenKeys.of(token)).hint: (keys.verifier, terminal, token_id)
                       for token, (terminal, token_id) in tokens.items()}

    def _entry(self, hello: Hello) -> tuple[Any, str]:
        found = self.tokens.get(hello.token_hint)
        if found is None:
            raise AuthRefused("invalid_token", "no such token")
        verifier, terminal, token_id = found
        if terminal != TerminalId(hello.login, hello.server):
            raise AuthRefused("terminal_mismatch", "bound to another terminal")
        return verifier, token_id

    async def prove_daemon(self, hello: Hello, daemon_nonce: str) -> str:
        verifier, _ = self._entry(hello)
        return prove_server(verifier.server_key, ea_message(
            "daemon", hello.ea_nonce, daemon_nonce, hello.login, hello.server))

    async def verify_ea(self, hello: Hello, daemon_nonce: str, proof: str) -> str:
        verifier, token_id = self._entry(hello)
        if not verify_holder(verifier.stored_key, ea_message(
                "ea", hello.ea_nonce, daemon_nonce, hello.login, hello.server), proof):
            raise AuthRefused("invalid_token", "no such token")
        return token_id


def daemon_proof(token: str, hello: Hello, daemon_nonce: str) -> str:
    """The challenge proof a daemon holding ``token``'s record sends (for fake gateways that
    must get past an EA's check of it)."""
    return prove_server(TokenKeys.of(token).verifier.server_key, ea_message(
        "daemon", hello.ea_nonce, daemon_nonce, hello.login, hello.server))


class Squatter:
    """What any local user can run on the bridge port while the daemon is down (review
    round 4, T4-F1): a listener holding no token, no hash and no key. For every connection it
    reads the hello, answers a challenge whose proof it cannot make (``proof(hello)``: made
    up, or one it recorded from the real daemon for another nonce), then a welcome and the
    review's order_send, and keeps every frame the EA sends. An EA of protocol 1.3 must send
    it nothing after the hello."""

    def __init__(self, proof: Callable[[Hello], str] | None = None) -> None:
        self._proof = proof or (lambda _hello: secrets.token_hex(32))
        #: Every frame received, parsed, in order, per connection.
        self.connections: list[list[dict[str, Any]]] = []
        self._changed = asyncio.Event()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> Squatter:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def frames(self) -> list[dict[str, Any]]:
        """Every frame of every connection."""
        return [f for connection in self.connections for f in connection]

    async def wait_for(self, predicate: Callable[[], bool], timeout_s: float = TIMEOUT_S) -> None:
        async with asyncio.timeout(timeout_s):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received: list[dict[str, Any]] = []
        self.connections.append(received)
        decoder = FrameDecoder(1 << 20)
        try:
            while data := await reader.read(65536):
                for payload in decoder.feed(data):
                    frame = orjson.loads(payload)
                    received.append(frame)
                    self._changed.set()
                    if frame.get("t") == "hello":
                        hello = decode(payload)
                        assert isinstance(hello, Hello)
                        writer.write(self._script(hello))
                        await writer.drain()
        except (ConnectionError, FramingError):
            pass
        finally:
            self._changed.set()
            writer.close()

    def _script(self, hello: Hello) -> bytes:
        request = {"action": 1, "symbol": "EURUSD", "volume": 0.5, "type": 0, "price": 1.2,
                   "deviation": 50, "type_filling": 0, "comment": "not-the-daemon"}
        frames: list[dict[str, Any]] = [
            {"t": "challenge", "nonce": secrets.token_hex(32), "server_time_ms": 0,
             "proof": self._proof(hello)},
            {"t": "welcome", "session_id": "not-the-daemon", "heartbeat_interval_s": 5,
             "heartbeat_timeout_s": 15, "max_frame_bytes": 8388608},
            {"t": "req", "id": 1, "m": "account_info", "p": {}},
            {"t": "req", "id": 3, "m": "order_send",
             "p": {"request": request, "order_key": "AAAAAAAAAAAAAAAAAAAAAA"}},
        ]
        return b"".join(encode_frame(orjson.dumps(f)) for f in frames)


class RawEA:
    """An EA that writes its frames by hand (what an impostor EA can send): its own hello,
    then whatever the test sends, reading the daemon's answers one message at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 hello: Hello) -> None:
        self.reader, self.writer, self.hello = reader, writer, hello
        self._decoder = FrameDecoder(1 << 16)
        self._pending: list[Any] = []

    @classmethod
    async def connect(cls, port: int, token_hint: str, login: int, server: str) -> RawEA:
        """Connect and send a version 2 hello naming ``token_hint``, with a fresh nonce."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        hello = Hello(PROTOCOL_VERSION, "MT5", 4755, "1.3.0", login, server, "C",
                      token_hint=token_hint, ea_nonce=secrets.token_hex(32))
        ea = cls(reader, writer, hello)
        ea.send(hello)
        return ea

    def send(self, message: Any) -> None:
        self.writer.write(encode_frame(encode(message)))

    async def next_message(self) -> Any:
        """The daemon's next message (``ConnectionError`` if it closed first)."""
        async with asyncio.timeout(TIMEOUT_S):
            while not self._pending:
                data = await self.reader.read(65536)
                if not data:
                    raise ConnectionError("the daemon closed the connection")
                self._pending.extend(decode(p) for p in self._decoder.feed(data))
        return self._pending.pop(0)

    def close(self) -> None:
        self.writer.close()


class RecordingListener:
    """A :class:`~ea_bridge.BridgeListener` that keeps everything and can be waited on."""

    def __init__(self) -> None:
        self.ups: list[SessionInfo] = []
        self.downs: list[tuple[SessionInfo, str]] = []
        self.ticks_seen: list[tuple[TerminalId, str, list[Any]]] = []
        self.events: list[tuple[TerminalId, str, dict[str, Any], int]] = []
        self._changed = asyncio.Event()

    def session_up(self, info: SessionInfo) -> None:
        self.ups.append(info)
        self._changed.set()

    def session_down(self, info: SessionInfo, reason: str) -> None:
        self.downs.append((info, reason))
        self._changed.set()

    def ticks(self, terminal: TerminalId, symbol: str, rows: list[list[Any]]) -> None:
        self.ticks_seen.extend((terminal, symbol, row) for row in rows)
        self._changed.set()

    def event(self, terminal: TerminalId, name: str, payload: dict[str, Any], missed: int) -> None:
        self.events.append((terminal, name, payload, missed))
        self._changed.set()

    async def wait_for(self, predicate: Callable[[], bool], timeout_s: float = TIMEOUT_S) -> None:
        async with asyncio.timeout(timeout_s):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()


class ScriptedEA:
    """A real-protocol EA whose every move the test makes explicitly."""

    def __init__(self, token: str, *, login: int = 1001, server: str = "Test-Server",
                 version: int = PROTOCOL_VERSION) -> None:
        keys = TokenKeys.of(token)
        self.hello = Hello(version, "MT5", 4755, "test", login, server, "Test Co",
                           token_hint=keys.hint, ea_nonce=secrets.token_hex(32))
        loop_time = asyncio.get_running_loop().time
        self.conn = EAConnection(self.hello, keys, clock=loop_time)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self._events: list[ConnectionEvent] = []

    async def connect(self, port: int) -> ConnectionEvent:
        """Connect and run the handshake; returns Welcomed, Refused or Closed."""
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        self.flush()
        return await self.next_event((Welcomed, Refused, Closed))

    def flush(self) -> None:
        assert self.writer is not None
        data = self.conn.data_to_send()
        if data:
            self.writer.write(data)

    async def next_event(self, kinds: tuple[type, ...]) -> ConnectionEvent:
        """Read until an event of one of ``kinds`` arrives (others are kept for later)."""
        assert self.reader is not None
        async with asyncio.timeout(TIMEOUT_S):
            while True:
                for i, event in enumerate(self._events):
                    if isinstance(event, kinds):
                        return self._events.pop(i)
                data = await self.reader.read(65536)
                if data:
                    self.conn.receive_data(data)
                else:
                    self.conn.receive_eof()
                self._events.extend(self.conn.events_received())
                self.flush()
                if not data and not any(isinstance(e, kinds) for e in self._events):
                    raise ConnectionError("closed by the daemon")

    async def next_request(self) -> Request:
        event = await self.next_event((RequestReceived,))
        assert isinstance(event, RequestReceived)
        return event.request

    def respond(self, request_id: int, result: Any) -> None:
        self.conn.send_response(request_id, result)
        self.flush()

    def error(self, request_id: int, code: int, message: str) -> None:
        self.conn.send_error(request_id, code, message)
        self.flush()

    def event(self, name: str, payload: dict[str, Any]) -> int:
        seq = self.conn.send_event(name, payload)
        self.flush()
        return seq

    def abort(self) -> None:
        """Drop the connection without a word (a crashed terminal)."""
        assert self.writer is not None
        self.writer.transport.abort()

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()


class EAFactory:
    """Makes scripted EAs for one test and closes every one of them afterwards."""

    def __init__(self) -> None:
        self.made: list[ScriptedEA] = []

    def __call__(self, token: str, **kw: Any) -> ScriptedEA:
        ea = ScriptedEA(token, **kw)
        self.made.append(ea)
        return ea

    async def close_all(self) -> None:
        for ea in self.made:
            await ea.close()
