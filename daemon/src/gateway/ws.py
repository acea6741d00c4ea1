"""``GET /ws``: JSON-RPC over a WebSocket, plus streamed ticks, trade events and terminal state.

One connection is three cooperating parts, all owned by the handler and torn down with it:

* the **reader** (the handler's own coroutine) takes text frames and runs each through
  the dispatcher of ``rpc.py`` (every ``/rpc`` method works here, plus ``subscribe``,
  ``unsubscribe`` and ``authenticate``). Requests run concurrently, at most ``_MAX_IN_FLIGHT``
  at a time, so a slow ``order_send`` does not hold up a ``ping``.
* the **sender** writes this connection's :class:`~gateway.hub.HubClient` frames. The hub's
  ``wake`` schedules one flush callback per loop iteration, which takes every ready frame
  and writes them all with one ``transport.write`` (write coalescing: a 50-row EA batch is
  one write per client, not 50). The hub never waits for it: when a write leaves the
  transport above its high-water mark, flushing stops and the **pump** task waits for the
  drain while the hub conflates ticks and queues events (see ``hub.py``); if the event queue
  overflows the pump closes the socket with 1013.
* the **recheck** task re-authenticates the token every ``token_recheck_s``, so a token
  revoked or expired while a client only listens still ends its stream (1008). The token is
  also re-checked before every inbound message is dispatched.

Authentication is on the upgrade (``Authorization: Bearer``; a bad one gets the same HTTP 401 or
429 as ``/rpc``, and no socket) or by a first ``authenticate`` message within
``auth_timeout_s`` (a bad or missing one gets a -32004 error and close 1008), both through the
daemon's door (``edge/door.py``: the token, the mark on the connection, the call context).
Host and Origin are checked before this handler runs (``edge/middleware.py``).

A socket is one of its token's streams for its whole life (``edge/tokenshare.py``): an
authenticated stream is work the connection budget never evicts, so a token holds at most
``[ws] max_streams_per_token``, and its streams and requests in progress together half the
budget. Past either, a stream whose token came on the upgrade is refused before it: 429
``too_many_streams`` (-32005) and the connection closed; one whose token came in its first
message gets that error and close 1013 ``too_many_streams``; an in-band ``authenticate``
naming a token at its bound is answered the error and the socket keeps its token. Unbounded,
one read-only token's streams held all 256 connections, and the trading bot got 503.

Close codes: 1001 shutdown (once the requests in flight are answered: :func:`close_all`),
1002 protocol error (aiohttp's reader, and an unmasked client frame: :class:`_RfcSocket`),
1003 binary frame, 1007 a text message that is not UTF-8, 1008 auth failed / timed out / token
revoked or expired, 1009 message too big (aiohttp enforces ``max_msg_size``), 1013 event
backlog overflow, or the token's streams at their bound (reason ``too_many_streams``).

Each socket's kernel send buffer is capped (``send_buffer_bytes``, SO_SNDBUF): left alone, Linux
grows it to megabytes, so a stalled client would queue seconds of stale ticks in the kernel
before its transport buffer (what the hub's high-water check reads) grew at all.

This module is the only place WebSocket frames are written. Frames are orjson bytes sent as
text frames: answers with ``send_frame(…, TEXT)``, hub notifications framed here
(:func:`_text_frames`) and written straight to the transport, because aiohttp's writer has no
batched send. Compression is off, so every write is synchronous and whole: the reader's
answers and the sender's notifications cannot interleave within a frame, and nothing is
written once a close has started (``ws.closed``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from typing import Any, Final, Literal

import orjson
from aiohttp import WebSocketError, WSCloseCode, WSMsgType, web
from aiohttp._websocket.reader import WebSocketDataQueue
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http_websocket import WebSocketWriter

from mtgateway_base.guard import GuardedProtocol

from .auth import Principal
from .candles import check_spec
from .config import WsConfig
from .context import RpcContext
from .edge.door import DOOR, HEAD, Door, bearer_of, error_response
from .errors import (
    NOT_A_WEBSOCKET,
    UNAUTHORIZED,
    HttpRefusal,
    InvalidParams,
    Unauthorized,
    Unavailable,
)
from .hub import HubClient, StreamKey
from .keys import (
    AUTHENTICATOR,
    CANDLES,
    CONFIG,
    HUB,
    RPC,
    WEBSOCKETS,
    WS_REQUESTS,
    WS_TOKEN_IDS,
)
from .rpc import Dispatcher, rpc_method
from .schemas import Params
from .strictjson import loads_strict
from .wsframes import ClientFrames, is_text

__all__ = ["close_all", "websocket"]

log = logging.getLogger(__name__)

#: Concurrent requests per connection; more wait for one to finish (reading pauses).
_MAX_IN_FLIGHT: Final = 16
#: Methods only /ws answers (the session adds them to the dispatcher); the daemon's metrics
#: take them as labels too, so their calls are counted by name rather than as ``unknown``.
WS_ONLY_METHODS: Final = frozenset({"subscribe", "unsubscribe", "authenticate"})
#: Frames one flush takes from the hub (one write) before letting the loop run others.
_WRITE_BATCH: Final = 256
#: How long a close waits for the peer's close frame before dropping the connection.
_CLOSE_TIMEOUT_S: Final = 5.0

_Socket = web.WebSocketResponse[Literal[False]]


class _RfcSocket(web.WebSocketResponse[Literal[False]]):
    """aiohttp's WebSocket response with the client's frames held to RFC 6455 §5.1: the first
    unmasked one fails the connection with 1002 (``wsframes.py`` says why aiohttp needs help).

    aiohttp offers no hook for this, so :meth:`_post_start` (where the response installs its
    frame reader on the connection) puts a :class:`_MaskedOnly` in front of that reader; the
    bytes a client sent right behind its upgrade request (``_message_tail``, which the reader
    takes at once) are followed first. Both names are aiohttp's private ones, read here and
    pinned by daemon/tests/e2e/test_ws_rfc6455.py.
    """

    def _post_start(self, request: web.BaseRequest, protocol: str | None,
                    writer: WebSocketWriter) -> None:
        handler = request.protocol
        frames = ClientFrames()
        tail = handler._message_tail
        bad = frames.feed(tail) if tail else None
        if bad is not None:
            handler._message_tail = tail[:bad]
        super()._post_start(request, protocol, writer)
        queue = self._reader
        assert queue is not None  # set by super()._post_start
        guard = _MaskedOnly(handler._payload_parser, frames, queue)
        handler._payload_parser = guard
        if bad is not None:
            guard.fail()


class _MaskedOnly:
    """The connection's frame reader, fed only up to the first unmasked client frame; there
    the message queue gets aiohttp's own protocol error (1002), as for any frame it refuses."""

    __slots__ = ("_frames", "_queue", "_reader")

    def __init__(self, reader: Any, frames: ClientFrames, queue: WebSocketDataQueue) -> None:
        self._reader, self._frames, self._queue = reader, frames, queue

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        bad = self._frames.feed(data)
        if bad is None:
            result: tuple[bool, bytes] = self._reader.feed_data(data)
            return result
        if bad:
            self._reader.feed_data(data[:bad])
        self.fail()
        return True, b""

    def feed_eof(self) -> None:
        self._reader.feed_eof()

    def fail(self) -> None:
        self._queue.set_exception(WebSocketError(
            WSCloseCode.PROTOCOL_ERROR, "a client frame must be masked (RFC 6455 §5.1)"))


async def websocket(request: web.Request) -> web.StreamResponse:
    """``GET /ws``: authenticate, upgrade, then serve JSON-RPC and subscriptions until closed."""
    app = request.app
    cfg = app[CONFIG].ws
    door = app[DOOR]
    conn = door.connection(request)
    head = request[HEAD]
    context: RpcContext | None = None
    token = bearer_of(head.authorization)
    if head.authorization is not None:
        entry = await door.enter(head, None, conn)
        if isinstance(entry, HttpRefusal):
            return error_response(entry)
        context = entry.context
    ws: _Socket = _RfcSocket(
        heartbeat=cfg.ping_interval_s, max_msg_size=cfg.max_message_bytes, compress=False,
        timeout=_CLOSE_TIMEOUT_S, decode_text=False)
    if not ws.can_prepare(request).ok:
        return error_response(NOT_A_WEBSOCKET)
    if context is not None:
        refusal = door.open_stream(ws, context)
        if refusal is not None:  # before the upgrade: no socket, and no connection kept
            response = error_response(refusal)
            response.force_close()
            return response
    sockets = app[WEBSOCKETS]
    try:
        payload_writer = await ws.prepare(request)
        _limit_send_buffer(request, cfg.send_buffer_bytes)
        sockets.add(ws)
        if context is None or token is None:
            authenticated = await _authenticate_first(door, conn, ws, cfg)
            if authenticated is None:
                return ws
            context, token = authenticated
        await _Connection(request, ws, payload_writer, context, token).serve()
    finally:
        sockets.discard(ws)
        door.close_stream(ws)  # its place in its token's share (if it took one) is free
    return ws


async def close_all(app: web.Application) -> None:
    """``on_shutdown``: let the requests in flight on every socket finish, then close every
    socket with 1001 (going away), all at once.

    Why wait: an ``order_send`` in flight must not be cancelled by a shutdown. Cancelling it
    would leave the client with a closed socket (1006) and the order's outcome unknown until
    the next start, though the EA is still there to answer; ``/rpc`` handlers already finish
    (aiohttp waits for them). By the time this runs aiohttp has stopped reading every
    connection (``Server.pre_shutdown``), so what a client sends now is not run; a request
    already read and dispatched meanwhile is waited for too (hence the loop). The wait is
    bounded by the longest deadline a request can have (the trade and read timeouts): the
    bridge, which closes after this, fails whatever is left.
    """
    server_cfg = app[CONFIG].server
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(server_cfg.trade_timeout_s, server_cfg.request_timeout_s) + 1
    in_flight: set[asyncio.Task[None]] = app[WS_REQUESTS]
    if in_flight:
        log.info("shutdown: %d request(s) in flight on /ws; closing the sockets once they are "
                 "answered", len(in_flight))
    while in_flight and (remaining := deadline - loop.time()) > 0:
        await asyncio.wait(set(in_flight), timeout=remaining)
    sockets = app[WEBSOCKETS]
    await asyncio.gather(*(ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown",
                                    drain=False) for ws in list(sockets)),
                         return_exceptions=True)


def _limit_send_buffer(request: web.Request, size: int) -> None:
    """Cap the kernel's send buffer so a stalled client's backlog shows up in the transport's
    write buffer (where the hub's high-water check sees it) after kilobytes, not megabytes."""
    transport = request.transport
    sock = transport.get_extra_info("socket") if transport is not None else None
    if size and sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


_PACK_LEN16: Final = struct.Struct("!BBH").pack
_PACK_LEN64: Final = struct.Struct("!BBQ").pack


def _text_frames(payloads: list[bytes]) -> bytes:
    """Server-to-client text frames (RFC 6455 §5.2: FIN, opcode 1, unmasked, 7/16/64-bit
    length) for every payload, as one buffer.

    Built here because aiohttp's writer has no batched send: ``send_frame`` is one
    ``transport.write`` (one syscall on an idle socket) per frame, and the fan-out writes
    many small frames per client per loop iteration.
    """
    parts: list[bytes] = []
    append = parts.append
    for payload in payloads:
        size = len(payload)
        if size < 126:
            append(bytes((0x81, size)))
        elif size < 65536:
            append(_PACK_LEN16(0x81, 126, size))
        else:
            append(_PACK_LEN64(0x81, 127, size))
        append(payload)
    return b"".join(parts)


def _reply(rid: Any, result: Any) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "result": result, "id": rid})


def _error(rid: Any, code: int, message: str, data: Any = None) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return orjson.dumps({"jsonrpc": "2.0", "error": error, "id": rid})


def _authenticated(principal: Principal) -> dict[str, Any]:
    terminal = principal.terminal
    return {"authenticated": True, "token_id": principal.token_id, "login": terminal.login,
            "server": terminal.server, "scopes": sorted(principal.scopes)}


def _parse_authenticate(data: bytes) -> tuple[Any, str | None]:
    """The id and token of an ``authenticate`` request; the token is None if it is not one."""
    try:
        obj = loads_strict(data)
    except ValueError:
        return None, None
    if not isinstance(obj, dict):
        return None, None
    rid = obj.get("id")
    if isinstance(rid, bool) or not isinstance(rid, str | int):
        rid = None
    params = obj.get("params")
    if obj.get("jsonrpc") != "2.0" or obj.get("method") != "authenticate":
        return rid, None
    token = params.get("token") if isinstance(params, dict) else (
        params[0] if isinstance(params, list) and len(params) == 1 else None)
    return rid, token if isinstance(token, str) else None


async def _authenticate_first(door: Door, conn: GuardedProtocol | None, ws: _Socket,
                              cfg: WsConfig) -> tuple[RpcContext, str] | None:
    """Wait for the ``authenticate`` message; the caller's context and token, or None
    (closed)."""
    try:
        msg = await ws.receive(timeout=cfg.auth_timeout_s)
    except TimeoutError:
        await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"auth_timeout")
        return None
    if msg.type is not WSMsgType.TEXT:
        if not ws.closed:  # a binary frame; errors and closes have closed it already
            await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"missing_token")
        return None
    if not is_text(msg.data):
        await _not_text(ws)
        return None
    rid, token = _parse_authenticate(msg.data)
    if token is None:
        await _refuse(ws, _error(rid, UNAUTHORIZED, "Authenticate first: send "
                                 "authenticate({\"token\": …}) or an Authorization header",
                                 {"reason": "missing_token"}), "missing_token")
        return None
    context = await door.admit(token, conn)
    if isinstance(context, HttpRefusal):
        error = context.error
        await _refuse(ws, _error(rid, error.code, error.message, error.data),
                      context.reason or "unauthorized")
        return None
    refusal = door.open_stream(ws, context)
    if refusal is not None:  # the token's streams are at their bound: try again later
        error = refusal.error
        await _refuse(ws, _error(rid, error.code, error.message, error.data),
                      refusal.reason or "too_many_streams", WSCloseCode.TRY_AGAIN_LATER)
        return None
    with contextlib.suppress(ConnectionError):
        await ws.send_frame(_reply(rid, _authenticated(context.principal)), WSMsgType.TEXT)
    return context, token


async def _not_text(ws: _Socket) -> None:
    """Fail the connection for a text message that is not UTF-8 (RFC 6455 §8.1: 1007)."""
    await ws.close(code=WSCloseCode.INVALID_TEXT, message=b"text frames carry UTF-8")


async def _refuse(ws: _Socket, frame: bytes, reason: str,
                  code: WSCloseCode = WSCloseCode.POLICY_VIOLATION) -> None:
    """Send ``frame`` (the refusal's JSON-RPC error), then close with ``code`` and the reason
    word: 1008 for a token refused (retrying with it is useless), 1013 for a stream past its
    token's bound (another may open once one of the token's streams closes)."""
    with contextlib.suppress(ConnectionError):
        await ws.send_frame(frame, WSMsgType.TEXT)
    await ws.close(code=code, message=reason.encode())


class _SubscribeParams(Params):
    """``subscribe``'s params; the hub (``candles.py`` for candles) checks them and names what
    is wrong."""

    channel: Any
    symbols: Any = None
    symbol: Any = None
    timeframe: Any = None
    count: Any = None


class _UnsubscribeParams(Params):
    subscription: Any


class _AuthenticateParams(Params):
    token: Any


class _Connection:
    """One authenticated socket: its reader loop, hub client, pump and token re-check."""

    def __init__(self, request: web.Request, ws: _Socket, payload_writer: AbstractStreamWriter,
                 context: RpcContext, token: str) -> None:
        app = request.app
        self._app, self._ws = app, ws
        self._cfg = app[CONFIG].ws
        principal = context.principal
        self._principal, self._token = principal, token
        app[WS_TOKEN_IDS][ws] = principal.token_id  # so a revocation can close it at once
        self._ctx = context
        self._rpc: Dispatcher[RpcContext] = app[RPC].with_methods({
            "subscribe": rpc_method(self.subscribe, _SubscribeParams),
            "unsubscribe": rpc_method(self.unsubscribe, _UnsubscribeParams),
            "authenticate": rpc_method(self.authenticate, _AuthenticateParams),
        })
        transport = request.transport
        self._transport, self._protocol = transport, request.protocol
        self._payload_writer = payload_writer
        self._loop = asyncio.get_running_loop()
        #: The pending :meth:`_flush` callback, if one is scheduled.
        self._flush_handle: asyncio.Handle | None = None
        #: Set while the transport is paused; the pump flushes again after the drain.
        self._draining = False
        self._kick = asyncio.Event()
        self._client: HubClient = app[HUB].connect(
            StreamKey(principal.terminal, principal.token_id), wake=self._schedule_flush,
            buffered=(lambda: transport.get_write_buffer_size()) if transport else (lambda: 0))
        self._requests: set[asyncio.Task[None]] = set()
        #: The task that started closing the socket; cleanup lets it finish the handshake.
        self._closer: asyncio.Task[Any] | None = None

    async def serve(self) -> None:
        """Read and dispatch until the socket closes; then stop everything this owns."""
        pump = asyncio.create_task(self._pump())
        recheck = asyncio.create_task(self._recheck())
        try:
            await self._read()
        finally:
            self._app[HUB].disconnect(self._client)
            self._app[CANDLES].prune(self._client.key)
            for task in (pump, recheck):
                if task is self._closer:
                    await asyncio.wait({task}, timeout=_CLOSE_TIMEOUT_S + 1)
            for task in (pump, recheck, *self._requests):
                task.cancel()
            await asyncio.gather(pump, recheck, *self._requests, return_exceptions=True)

    # -- reading ---------------------------------------------------------------------------

    async def _read(self) -> None:
        ws = self._ws
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                if not is_text(msg.data):
                    await _not_text(ws)
                    return
                if not await self._token_still_valid():
                    return
                while len(self._requests) >= _MAX_IN_FLIGHT:
                    await asyncio.wait(self._requests, return_when=asyncio.FIRST_COMPLETED)
                task = asyncio.create_task(self._answer(msg.data))
                everywhere = self._app[WS_REQUESTS]
                for tasks in (self._requests, everywhere):
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
            elif msg.type is WSMsgType.BINARY:
                await ws.close(code=WSCloseCode.UNSUPPORTED_DATA, message=b"text frames only")
                return
            else:  # ERROR: aiohttp has closed it (1009 for an oversize message)
                return

    async def _answer(self, data: bytes) -> None:
        payload = await self._rpc.handle(data, self._ctx)
        if payload is not None:
            with contextlib.suppress(ConnectionError):
                await self._ws.send_frame(payload, WSMsgType.TEXT)

    async def _token_still_valid(self) -> bool:
        """Re-check the token; on failure close with 1008 and the reason word."""
        try:
            await self._app[AUTHENTICATOR].authenticate(self._token)
        except Unavailable:  # the authority cannot be asked now: not a verdict on the token
            return True
        except Unauthorized as exc:
            log.info("closing a stream on %s: %s", self._principal.terminal, exc.reason)
            self._closer = asyncio.current_task()
            await self._ws.close(code=WSCloseCode.POLICY_VIOLATION, message=exc.reason.encode(),
                                 drain=False)
            return False
        return True

    async def _recheck(self) -> None:
        while not self._ws.closed:
            await asyncio.sleep(self._cfg.token_recheck_s)
            if not await self._token_still_valid():
                return

    # -- writing ---------------------------------------------------------------------------

    def _schedule_flush(self) -> None:
        """The hub's ``wake``: flush this client once the current callback is done.

        Called synchronously for every frame the hub queues, so it only schedules: all the
        frames queued until the loop gets to :meth:`_flush` (a whole EA batch, ticks of
        several symbols, an event) go out in one write. While the transport is paused the
        pump task owns the next flush (after the drain) and wakes are ignored.
        """
        if self._flush_handle is None and not self._draining:
            self._flush_handle = self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        """Write every frame ready for this client (up to ``_WRITE_BATCH``) in one write.

        A loop callback, not a task step: on the fan-out path each client costs one callback
        and one ``transport.write`` per loop iteration, with no task wake-up. When the write
        leaves the transport above its high-water mark (the protocol's writing is paused),
        flushing stops and the pump task waits for the drain; meanwhile the hub sees the
        buffered bytes and conflates, as the backpressure policy says.
        """
        self._flush_handle = None
        client, ws, transport = self._client, self._ws, self._transport
        if ws.closed or transport is None or transport.is_closing():
            return  # a close frame may be on its way: nothing may follow it
        frames = client.take(_WRITE_BATCH)
        if client.overflowed:
            self._kick.set()  # the pump closes with 1013
            return
        if frames:
            transport.write(_text_frames(frames))
        if self._protocol.writing_paused:
            self._draining = True
            self._kick.set()
        elif client.has_pending:  # more than one batch: let others run in between
            self._flush_handle = self._loop.call_soon(self._flush)

    async def _pump(self) -> None:
        """Wait for the transport to drain when paused, and close on an event overflow.

        The frames themselves are written by :meth:`_flush`; this task only handles what
        needs to wait.
        """
        client, ws, kick = self._client, self._ws, self._kick
        try:
            while True:
                await kick.wait()
                kick.clear()
                if client.overflowed:
                    self._closer = asyncio.current_task()
                    await ws.close(code=WSCloseCode.TRY_AGAIN_LATER,
                                   message=b"event backlog overflow", drain=False)
                    return
                if self._draining:
                    await self._payload_writer.drain()
                    self._draining = False
                    self._flush()
        except ConnectionError:
            return  # the peer is gone; the reader sees it too
        finally:
            if self._flush_handle is not None:
                self._flush_handle.cancel()
                self._flush_handle = None

    # -- the WebSocket-only methods ------------------------------------------------------

    async def subscribe(self, ctx: RpcContext, params: _SubscribeParams) -> dict[str, str]:
        """``subscribe({"channel": "ticks"|"trades"|"terminal"|"book", "symbols": [...]})``,
        or ``subscribe({"channel": "candles", "symbol", "timeframe", "count"?})``.

        Raises:
            InvalidParams: bad channel, symbols, symbol, timeframe or count, or too many
                subscriptions.
            Unsupported: a timeframe an MT4 terminal does not have.
            BridgeError: the candles snapshot could not be read from the terminal.
        """
        if params.channel != "candles":
            for name in ("symbol", "timeframe", "count"):
                if getattr(params, name) is not None:
                    raise InvalidParams(f"{name}: only the candles channel takes {name}")
            return {"subscription": self._client.subscribe(params.channel, params.symbols)}
        if params.symbols is not None:
            raise InvalidParams("symbols: the candles channel takes one symbol (symbol)")
        spec = check_spec(params.symbol, params.timeframe, params.count)
        client = self._client
        client.check_room()
        key = client.key
        opened = await self._app[CANDLES].open(key, spec, ctx.read)
        if client.key != key:  # the socket presented another token meanwhile
            self._app[CANDLES].prune(key)
            raise InvalidParams("subscription: the connection's token changed while "
                                "subscribing; subscribe again")
        # No await from here on: the subscription exists before the series publishes again.
        return {"subscription": client.subscribe_candles(
            spec.symbol, int(spec.timeframe), [bar.as_dict() for bar in opened.closed],
            opened.forming.as_dict() if opened.forming is not None else None)}

    async def unsubscribe(self, ctx: RpcContext, params: _UnsubscribeParams) -> bool:
        """``unsubscribe({"subscription": id})`` → true.

        Raises:
            InvalidParams: no such subscription on this connection.
        """
        ended = self._client.unsubscribe(params.subscription)
        self._app[CANDLES].prune(self._client.key)
        return ended

    async def authenticate(self, ctx: RpcContext, params: _AuthenticateParams
                           ) -> dict[str, Any]:
        """Present a (possibly renewed) token for the same terminal; it is the one re-checked
        from now on.

        Raises:
            Unauthorized: the token is bad, or bound to another terminal (``invalid_token``
                for both).
            RateLimited: a lockout is on and this token, not seen to succeed before, is wrong.
            OverShare: ``too_many_streams``, the token's streams are at their bound (the
                socket keeps its token).
        """
        token = params.token
        # Throttled like every other check, and a token of another terminal is refused like an
        # unknown one: this socket's holder must not learn which tokens are valid elsewhere.
        door = self._app[DOOR]
        principal = await door.authenticate(token if isinstance(token, str) else None,
                                            self._principal.terminal)
        # the stream counts for the token it now speaks for: refused (kept as it was) when
        # that token is at its bound, or streams could be opened under one token and handed
        # to another without end
        door.move_stream(self._ws, principal)
        self._token, self._principal = token, principal
        self._app[WS_TOKEN_IDS][self._ws] = principal.token_id
        self._app[HUB].rebind(self._client, StreamKey(principal.terminal, principal.token_id))
        self._ctx = door.context(principal)
        return _authenticated(principal)
