"""The asyncio client: the same API as ``mtgateway`` as coroutines, plus the ``/ws`` streams.

::

    import mtgateway.aio as mt5

    await mt5.initialize(token="mtgw_...", url="http://127.0.0.1:8710")
    print((await mt5.account_info()).equity)
    async for tick in mt5.ticks(["EURUSD"]):
        if isinstance(tick, mt5.Gap):   # loss is reported where it happened, never hidden
            print("missing:", tick.detail)
            continue
        print(tick.symbol, tick.bid, tick.ask)

Calls go over ``POST /rpc`` (aiohttp, kept-alive connections); streams each use their own
WebSocket to ``/ws``, authenticated in the upgrade's ``Authorization`` header. A stream that
drops (the daemon restarted, the network blinked, a 1013 backlog close) reconnects with
exponential backoff and subscribes again, yielding a :class:`~mtgateway.stream.Gap` first;
it ends with :class:`~mtgateway.errors.MtGatewayError` only when the daemon refuses the token
(401/403 on the upgrade, close code 1008), because retrying cannot help then.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import random
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

try:
    import aiohttp
except ModuleNotFoundError as missing:  # the client alone needs the standard library only
    if missing.name != "aiohttp":
        raise
    raise ImportError("mtgateway.aio needs aiohttp, the client's 'aio' extra: from MT "
                      "Gateway's repository, pip install './client[aio]'") from None

from . import constants as c
from . import records as r
from .calls import Functions, gateway_status_call
from .client import DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_TIMEOUT_S, new_client_id
from .constants import *  # noqa: E402,F403 - the package's constants, as in mtgateway
from .errors import OK, LastError, MtGatewayError, gateway_error, local_error, not_connected
from .functions import AsyncFace, Job, Session
from .handshake import CHALLENGE_PATH, SESSION_PATH, Handshake, HandshakeRefused
from .records import (
    AccountInfo,
    BookInfo,
    OrderCheckResult,
    OrderSendResult,
    OrderStatus,
    ServerTime,
    SymbolInfo,
    TerminalInfo,
    Tick,
    TradeDeal,
    TradeOrder,
    TradePosition,
    TradeRequest,
)
from .stream import (
    Candle,
    CandleSnapshot,
    Gap,
    Rate,
    SeqTracker,
    StreamBook,
    StreamTick,
    TerminalStatus,
    TradeEvent,
    parse_event,
)
from .wire import (
    Call,
    Endpoint,
    encode_request,
    outcome_data,
    read_response,
    resolve_endpoint,
    terminal_mismatch,
)

T = TypeVar("T")
E = TypeVar("E")

_POLL_S = 0.25
#: Close codes after which resubscribing cannot help: the token was refused or revoked.
_FATAL_CLOSE = {1008}


class AsyncClient(AsyncFace, Functions):
    """One gateway connection with the package's functions as coroutines, and streams.

    Args:
        make_client_id: makes the ``client_id`` of an ``order_send`` whose request has none.
        reconnect_initial_s, reconnect_max_s: a dropped stream waits ``initial`` before its
            first reconnect, doubling up to ``max`` (with up to 20 % random jitter, so many
            clients do not return in step).
        rand: the jitter's source (injected for tests).
    """

    def __init__(self, *, make_client_id: Callable[[], str] = new_client_id,
                 reconnect_initial_s: float = 0.25, reconnect_max_s: float = 10.0,
                 rand: Callable[[], float] = random.random) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._endpoint: Endpoint | None = None
        self._error: LastError = OK
        self._ids = itertools.count(1)
        self._make_client_id = make_client_id
        self._backoff = (reconnect_initial_s, reconnect_max_s)
        self._rand = rand
        #: The challenge's session (``handshake.py``): the Bearer credential sent in place of
        #: the token, which never leaves the process.
        self._credential: str | None = None
        self._handshaking = asyncio.Lock()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    # -- the table's jobs ----------------------------------------------------------------------

    async def _do(self, job: Job) -> Any:
        """Carry out one function's job (``functions.py``)."""
        if isinstance(job, Call):
            return await self._run(job)
        if job.name == "initialize":
            return await self._initialize(**job.arguments)
        if job.name == "login":
            return await self._login(**job.arguments)
        if job.name == "shutdown":
            return await self._shutdown()
        raise AssertionError(f"no step {job.name!r}")

    def _do_now(self, job: Session) -> Any:
        """``last_error``: answered from what the client holds."""
        if job.name == "last_error":
            return self._error
        raise AssertionError(f"no local step {job.name!r}")

    async def _initialize(self, *, login: int | None, server: str | None,
                          timeout: int | None, token: str | None,  # noqa: ASYNC109
                          url: str | None, state_file: str | os.PathLike[str] | None) -> bool:
        """As :meth:`mtgateway.Client.initialize`: connect, wait for the terminal's EA."""
        await self._close()
        endpoint = resolve_endpoint(url, token, state_file)
        if isinstance(endpoint, LastError):
            self._error = endpoint
            return False
        self._endpoint = endpoint
        self._session = aiohttp.ClientSession(
            headers={"Content-Type": "application/json"},
            connector=(None if endpoint.unix_path is None
                       else aiohttp.UnixConnector(path=endpoint.unix_path)),
            timeout=aiohttp.ClientTimeout(total=DEFAULT_TIMEOUT_S))
        self._credential = None
        wait_ms = DEFAULT_CONNECT_TIMEOUT_MS if timeout is None else int(timeout)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_ms / 1000
        while True:
            status = await self._run(gateway_status_call())
            if status is None:
                await self._close()
                return False
            terminal = status.get("terminal") or {}
            mismatch = terminal_mismatch(terminal, login, server)
            if mismatch is not None:
                self._error = mismatch
                await self._close()
                return False
            if terminal.get("connected"):
                self._error = OK
                return True
            if loop.time() >= deadline:
                self._error = gateway_error(
                    -32001, f"the terminal {terminal.get('login')}@{terminal.get('server')} "
                    f"has no EA connected (waited {wait_ms} ms)")
                await self._close()
                return False
            await asyncio.sleep(_POLL_S)

    async def _login(self, *, login: int, server: str | None) -> bool:
        status = await self._run(gateway_status_call())
        if status is None:
            return False
        mismatch = terminal_mismatch(status.get("terminal") or {}, login, server)
        if mismatch is not None:
            self._error = mismatch
        return mismatch is None

    async def _shutdown(self) -> bool:
        await self._close()
        self._endpoint = None
        self._error = OK
        return True

    async def _close(self) -> None:
        self._credential = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _bearer(self, stale: str | None = None) -> dict[str, str]:
        """The Authorization header of the current session, after running the challenge if
        there is none yet or the daemon refused ``stale`` (one challenge at a time).

        Raises:
            MtGatewayError: the peer did not prove it is the daemon (``RES_E_AUTH_FAILED``,
                nothing disclosed), or the daemon refused the token.
        """
        async with self._handshaking:
            if self._credential is None or self._credential == stale:
                self._credential = None
                self._credential = await self._authenticate()
            return {"Authorization": f"Bearer {self._credential}"}

    async def _authenticate(self) -> str:
        assert self._session is not None and self._endpoint is not None
        base, shake = self._endpoint.http_base, Handshake(self._endpoint.token)
        try:
            answer = await self._step(base + CHALLENGE_PATH, shake.challenge_body())
            opened = await self._step(base + SESSION_PATH, shake.session_body(answer))
            return Handshake.session(opened)
        except HandshakeRefused as exc:
            raise MtGatewayError(local_error(
                c.RES_E_AUTH_FAILED,
                f"the peer at {self._endpoint.base_url} did not prove it is the MT Gateway "
                f"daemon holding this token ({exc}); the token was not sent")) from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            code = (c.RES_E_INTERNAL_FAIL_CONNECT if isinstance(exc, aiohttp.ClientConnectorError)
                    else c.RES_E_INTERNAL_FAIL_RECEIVE)
            raise MtGatewayError(local_error(
                code, f"cannot reach the gateway at {self._endpoint.base_url}: "
                f"{type(exc).__name__}")) from None

    async def _step(self, url: str, body: dict[str, str]) -> Any:
        """One challenge step's JSON answer; a daemon's refusal (401, 429, 503) raised."""
        assert self._session is not None
        async with self._session.post(url, data=json.dumps(body)) as response:
            data = await response.read()
            status, retry_after = response.status, response.headers.get("Retry-After")
        try:
            answer = json.loads(data) if data else None
        except ValueError:
            answer = None
        if status == 200:
            return answer
        if isinstance(answer, dict) and isinstance(answer.get("error"), dict):
            read_response(status, data, retry_after)  # raises the daemon's refusal
        raise HandshakeRefused(f"HTTP {status} to the challenge")

    def _refuse(self, error: LastError) -> None:
        """A call refused before it was sent (``arguments.py``): its error is the last."""
        self._error = error

    # -- the engine ----------------------------------------------------------------------------

    async def call(self, method: str,
                   params: Mapping[str, Any] | list[Any] | None = None) -> Any:
        """Call any JSON-RPC method by name and return its raw ``result``.

        Raises:
            MtGatewayError: the call failed; ``.error`` is also what ``last_error()`` answers.
        """
        try:
            result = await self._send(method, params)
        except MtGatewayError as exc:
            self._error = exc.error
            raise
        self._error = OK
        return result

    async def _send(self, method: str, params: Any) -> Any:
        if self._session is None or self._endpoint is None:
            raise MtGatewayError(not_connected())
        body = encode_request(next(self._ids), method, params)
        headers = await self._bearer()
        reauthenticated = False
        for attempt in (1, 2, 3):
            try:
                async with self._session.post(self._endpoint.rpc_url, data=body,
                                              headers=headers) as response:
                    data = await response.read()
                    if response.status == 401 and not reauthenticated:
                        # the daemon no longer knows the session (it restarted, or the session
                        # lapsed): refused before dispatch, so safe to send again
                        reauthenticated = True
                        headers = await self._bearer(stale=headers["Authorization"][7:])
                        continue
                    return read_response(response.status, data,
                                         response.headers.get("Retry-After"))
            except aiohttp.ServerDisconnectedError:
                # A kept-alive connection the daemon had closed: safe to send again (reads
                # change nothing; order_send carries its client_id, so it is deduplicated).
                if attempt == 3:
                    raise MtGatewayError(local_error(
                        c.RES_E_INTERNAL_FAIL_RECEIVE, "the gateway closed the connection",
                        outcome_data(params))) from None
            except TimeoutError:
                raise MtGatewayError(local_error(
                    c.RES_E_INTERNAL_FAIL_TIMEOUT,
                    f"no answer from the gateway within {DEFAULT_TIMEOUT_S:g} s",
                    outcome_data(params))) from None
            except (aiohttp.ClientError, OSError) as exc:
                code = (c.RES_E_INTERNAL_FAIL_CONNECT
                        if isinstance(exc, aiohttp.ClientConnectorError)
                        else c.RES_E_INTERNAL_FAIL_RECEIVE)
                raise MtGatewayError(local_error(
                    code, f"cannot reach the gateway at {self._endpoint.base_url}: "
                    f"{type(exc).__name__}", outcome_data(params))) from None
        raise AssertionError("unreachable")

    async def _run(self, call: Call[T]) -> T | None:
        call = call.with_client_id(self._make_client_id)
        try:
            if call.pager is None:
                value = call.convert(await self._send(call.method, call.params))
            else:
                pager = call.pager()
                while pager.feed(await self._send(call.method, pager.params())):
                    pass
                value = pager.result()
        except MtGatewayError as exc:
            self._error, answer = call.failure(exc.error)
            return answer
        except r.WireMismatch as exc:
            self._error = local_error(c.RES_E_INTERNAL_FAIL_RECEIVE, str(exc))
            return None
        self._error = OK
        return value

    # -- streams ------------------------------------------------------------------------------

    def ticks(self, symbols: Sequence[str]) -> AsyncIterator[StreamTick | Gap]:
        """Every tick of ``symbols`` (conflated per symbol if this consumer falls behind),
        with a :class:`Gap` wherever ticks may be missing."""
        return self._stream("ticks", {"symbols": list(symbols)}, StreamTick)

    async def books(self, symbols: Sequence[str]) -> AsyncIterator[StreamBook | Gap]:
        """The depth of market of ``symbols``: each symbol's whole book each time it changes
        (latest wins if this consumer falls behind), with a :class:`Gap` where books may be
        missing.

        Subscribes each symbol with ``market_book_add`` first, as MT5's ``OnBookEvent`` comes
        only for subscribed books, and releases them when the stream ends.

        Raises:
            MtGatewayError: ``market_book_add`` failed (unknown symbol, an MT4 terminal, ...),
                or as the other streams.
        """
        added: list[str] = []
        try:
            for symbol in symbols:
                if not await self.market_book_add(symbol):
                    raise MtGatewayError(self._error)
                added.append(symbol)
            async for item in self._stream("book", {"symbols": list(symbols)}, StreamBook):
                yield item
        finally:
            for symbol in added:
                await self.market_book_release(symbol)

    def candles(self, symbol: str, timeframe: int | str, count: int = 100
                ) -> AsyncIterator[CandleSnapshot | Candle | Gap]:
        """The bars of ``symbol`` on ``timeframe`` (``TIMEFRAME_M1`` or its name): a
        :class:`CandleSnapshot` of the last ``count`` closed bars, then each :class:`Candle`:
        the forming bar as ticks move it, and each bar once closed, confirmed by the terminal.

        Closed bars are never dropped by the daemon, and an EA reconnect loses none. After a
        :class:`Gap` (the stream dropped and resubscribed) a new snapshot follows: take the
        bars from it.

        Raises:
            MtGatewayError: the subscription was refused (a bad timeframe or count, a timeframe
                an MT4 terminal lacks: -32009), or as the other streams.
        """
        return self._stream("candles", {"symbol": symbol, "timeframe": timeframe,
                                        "count": count}, (CandleSnapshot, Candle))

    def trade_events(self) -> AsyncIterator[TradeEvent | Gap]:
        """Order, position, deal and account changes; never dropped by the daemon, so a
        :class:`Gap` here means: resync with ``positions_get`` / ``orders_get``."""
        return self._stream("trades", {}, TradeEvent)

    def terminal_events(self) -> AsyncIterator[TerminalStatus | Gap]:
        """The terminal's connection state: a snapshot first, then each change."""
        return self._stream("terminal", {}, TerminalStatus)

    async def _stream(self, channel: str, params: dict[str, Any],
                      kind: type[E] | tuple[type[E], ...]) -> AsyncIterator[E | Gap]:
        if self._session is None or self._endpoint is None:
            raise MtGatewayError(not_connected())
        endpoint, session = self._endpoint, self._session
        delay = self._backoff[0]
        dropped: str | None = None
        stale: str | None = None
        while True:
            try:
                headers = await self._bearer(stale)
                async with session.ws_connect(endpoint.ws_url, heartbeat=30.0,
                                              headers=headers) as ws:
                    stale = None
                    await ws.send_str(encode_request(0, "subscribe",
                                                     {"channel": channel, **params}).decode())
                    subscription = await _subscribed(ws)
                    delay = self._backoff[0]
                    if dropped is not None:
                        yield Gap(channel, "reconnected", None,
                                  f"resubscribed after the stream dropped ({dropped})")
                    tracker = SeqTracker(channel)
                    async for message in ws:
                        if message.type is not aiohttp.WSMsgType.TEXT:
                            break
                        note = json.loads(message.data)
                        note_params = note.get("params")
                        if "id" in note or not isinstance(note_params, dict) or \
                                note_params.get("subscription") != subscription:
                            continue
                        gap = tracker.observe(note_params["seq"])
                        if gap is not None:
                            yield gap
                        missed = note_params.get("missed")
                        if note.get("method") == "trade_event" and missed:
                            yield Gap(channel, "missed_upstream", int(missed),
                                      f"the terminal's EA missed {missed} trade event(s)")
                        event = parse_event(note["method"], note_params)
                        if isinstance(event, kind):
                            yield event
                    close_code = ws.close_code
                if close_code in _FATAL_CLOSE:
                    raise MtGatewayError(gateway_error(
                        -32004, f"the daemon closed the stream with {close_code}: the token "
                        "was revoked or has expired", {"close_code": close_code}))
                dropped = f"closed with code {close_code}"
            except aiohttp.WSServerHandshakeError as exc:
                if exc.status == 401 and stale is None:
                    # the daemon no longer knows the session: a new challenge, then again
                    # (a refused token then ends the stream with the daemon's reason)
                    stale = headers["Authorization"][7:]
                    continue
                if exc.status in (401, 403):
                    raise MtGatewayError(gateway_error(
                        -32004, f"the daemon refused the stream's token (HTTP {exc.status})",
                        {"status": exc.status})) from None
                dropped = f"HTTP {exc.status} on the upgrade"
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                dropped = type(exc).__name__
            except MtGatewayError as exc:  # the challenge, when (re)connecting
                if exc.error.gateway_code is not None:
                    raise  # the daemon refused the token: retrying cannot help
                dropped = exc.error.description  # unreachable, or not the daemon: try later
            await asyncio.sleep(delay * (1 + 0.2 * self._rand()))
            delay = min(delay * 2, self._backoff[1])


async def _subscribed(ws: aiohttp.ClientWebSocketResponse) -> str:
    """The subscription id from the answer to our ``subscribe`` (request id 0).

    Raises:
        MtGatewayError: the daemon refused the subscription (bad symbols, too many, ...).
        ConnectionResetError: the socket closed before answering.
    """
    async for message in ws:
        if message.type is not aiohttp.WSMsgType.TEXT:
            break
        answer = json.loads(message.data)
        if answer.get("id") != 0:
            continue
        if "error" in answer:
            error = answer["error"]
            raise MtGatewayError(gateway_error(int(error.get("code", -32603)),
                                               str(error.get("message", "")),
                                               error.get("data")))
        return str(answer["result"]["subscription"])
    raise ConnectionResetError("the stream closed before the subscription was confirmed")



#: The client the module-level coroutines use; nothing connects until ``initialize``.
_default = AsyncClient()

# The default client's functions are the module's: every function of the table
# ``calls.Functions``, then the client's own ``call`` and streams, named from the class
# (``functions.module_functions``), never written out here. Type checkers, which do not run
# that, read the same names with their signatures from the stub
# ``_aio_module_functions.pyi``, written from the table by ``python -m mtgateway.stubs``
# (why a stub: ``stubs.py``).
if TYPE_CHECKING:
    # The names, and the stub's __all__: mypy takes exports from a literal __all__ only.
    from ._aio_module_functions import *  # noqa: F403 - the stub written from the table
    from ._aio_module_functions import __all__ as __all__
else:
    from .functions import module_functions

    globals().update(module_functions(_default))
    __all__ = list(module_functions(_default))
    del module_functions

# Extended in a form type checkers read (``+=`` a written list). A checker follows
# ``constants.__all__`` into no star import (``MetaTrader5``'s): the constants reach it
# through the stub's list, which ``stubs.py`` writes with them.
__all__ += [
    "AccountInfo",
    "BookInfo",
    "OrderCheckResult",
    "OrderSendResult",
    "OrderStatus",
    "ServerTime",
    "SymbolInfo",
    "TerminalInfo",
    "Tick",
    "TradeDeal",
    "TradeOrder",
    "TradePosition",
    "TradeRequest",
    "AsyncClient",
    "Candle",
    "CandleSnapshot",
    "Gap",
    "Rate",
    "LastError",
    "MtGatewayError",
    "StreamBook",
    "StreamTick",
    "TerminalStatus",
    "TradeEvent",
]
__all__ += c.__all__

# No helper of the block above stays in dir(mtgateway.aio).
del TYPE_CHECKING
