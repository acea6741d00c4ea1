"""The emulated terminal: plays the EA over a real socket, answering from a simulated broker.

It connects to the daemon's bridge port exactly as the MQL EA does (same framing, same
messages, same handshake, same reconnect backoff), so every test and every demo exercises the
real protocol. Behind the socket sits a deterministic simulated broker: :class:`Market` (prices,
bars, ticks) and :class:`SimulatedBroker` (account, orders, positions, history). The same seed
gives the same prices, which makes it the product's paper-trading terminal as well as a test
double.

Every ``timer_interval_s`` (20 ms, like the EA's ``EventSetMillisecondTimer``) it sends the
ticks that appeared since the last ones it sent, as one ``ticks`` event per symbol (what the
EA does with ``CopyTicksRange(from_msc)``), lets the broker process triggers (SL/TP, pending
orders, expiry), and pushes the resulting trade events. After a reconnect it resumes from the
last tick it sent, so a short outage loses no tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import operator
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from mt5model.broker import SimulatedBroker
from mt5model.types import AccountMarginMode, EmulatorError, ErrorCode
from mtgateway.credential import TokenKeys

from ..connection import (
    DAEMON_UNPROVEN,
    Closed,
    EAConnection,
    Refused,
    RequestReceived,
    State,
    Welcomed,
)
from ..errors import BridgeError
from ..messages import (
    AUTH_REASONS,
    DENIED_PREFIX,
    EVENT_BOOK,
    EVENT_TERMINAL,
    EVENT_TICKS,
    EVENT_TRADE,
    PROTOCOL_VERSION,
    TICK_ROW,
    Hello,
)
from .market import Market
from .options import DEFAULT_LOGIN, DEFAULT_SEED, DEFAULT_SERVER, DEFAULT_TICK_RATE_HZ
from .symbols import default_symbols

#: One tick as a ``ticks`` event row, in :data:`~ea_bridge.messages.TICK_ROW` order.
_tick_row: Final = operator.attrgetter(*TICK_ROW)

__all__ = ["DENIED_TEXT", "REFUSAL_TEXT", "EmulatedTerminal", "EmulatorSettings",
           "TerminalRefused", "refusal_text"]

log = logging.getLogger(__name__)

#: Most tick rows in one ``ticks`` event (about 0.3 MB, far below the frame limit).
_TICKS_PER_EVENT: Final = 5_000
#: 1.2: ``order_send`` takes the daemon's ``order_key``, and ``trade_results`` answers the record
#: by order keys with the request each result answered (docs/protocol.md, "The order record").
#: As 1.1 (``terminal.ea_version = "1.1.0"``) it takes the key as ``client_id`` and records no
#: echo; as 1.0 it records nothing. 1.3 is the mutual handshake (protocol version 2): the
#: daemon proves it holds the token's record before the EA sends or obeys anything.
EA_VERSION: Final = "1.3.0"
#: Order key → ``OrderSendResult`` entries the EA keeps (oldest dropped first).
TRADE_RESULTS_KEPT: Final = 10_000
TERMINAL_BUILD: Final = 4755
TERMINAL_BUILD_DATE: Final = "24 Jan 2025"

#: What a real terminal shows in its Experts log for each refusal reason.
REFUSAL_TEXT: Final[dict[str, str]] = {
    "missing_token": "auth token missing: paste it into the EA inputs",
    "malformed_token": "auth token malformed: copy it again from the console",
    "invalid_token": "invalid auth token",
    "token_expired": "token expired",
    "token_revoked": "token revoked",
    "device_not_approved": "device verification pending: check your e-mail",
    "terminal_mismatch": "this token belongs to another terminal",
    "scope": "the token does not allow this",
    "already_connected": "another EA is already connected for this account",
    "unsupported_version": "EA version not supported by the gateway: update the EA",
    "handshake_timeout": "gateway handshake timed out",
    "protocol_error": "protocol error",
    "shutting_down": "gateway is shutting down",
}
#: What a real terminal shows for a ``device_not_approved`` refusal whose message says the
#: token's owner denied the machine (``messages.DENIED_PREFIX``): no code is coming.
DENIED_TEXT: Final = "this machine was denied by the token's owner: no code is coming"


def refusal_text(reason: str, message: str = "") -> str:
    """What the EA shows for a refusal: its reason's text, or for a denied machine
    :data:`DENIED_TEXT` (the Session.mqh of both EAs says the same)."""
    if reason == "device_not_approved" and message.startswith(DENIED_PREFIX):
        return DENIED_TEXT
    return REFUSAL_TEXT.get(reason, reason)


#: Refusals that retrying cannot fix: the user has to change something first.
_FATAL_REFUSALS: Final = (AUTH_REASONS - {"device_not_approved"}) | {"unsupported_version"}


class TerminalRefused(BridgeError):
    """The daemon refused the emulated EA; ``reason`` is the word, ``text`` what MT5 would show."""

    def __init__(self, reason: str, message: str, confirmed: bool = True) -> None:
        self.reason = reason
        #: Whether the peer had proved it is the gateway holding the token before refusing.
        self.confirmed = confirmed
        self.text = refusal_text(reason, message)
        super().__init__(f"{self.text} ({reason}): {message}" if message else self.text)


@dataclass(frozen=True, slots=True)
class EmulatorSettings:
    """Who the emulated terminal is and how its simulated broker behaves."""

    login: int = DEFAULT_LOGIN
    server: str = DEFAULT_SERVER
    company: str = "MT Gateway Simulated Broker"
    account_name: str = "Demo Trader"
    platform: str = "MT5"
    seed: int = DEFAULT_SEED
    tick_rate_hz: float = DEFAULT_TICK_RATE_HZ
    #: Symbols offered (and streamed); empty means the whole catalogue.
    symbols: tuple[str, ...] = ()
    balance: float = 10_000.0
    leverage: int = 100
    margin_mode: AccountMarginMode = AccountMarginMode.RETAIL_HEDGING
    #: The broker's first ticket (its orders, deals and positions count on from it): a test
    #: places a broker anywhere in the ticket range, the daemon's paper range included.
    first_ticket: int = 1_000
    #: The broker server's clock offset from UTC; MT5 times are server wall-clock as epoch.
    tz_offset_s: int = 0
    timer_interval_s: float = 0.02
    reconnect_min_s: float = 0.25
    reconnect_max_s: float = 5.0
    connect_timeout_s: float = 0.5
    history_days: int = 400
    #: Most rows one ``copy_*`` answer carries (the real EA caps its answers too).
    max_rows: int = 100_000
    #: Symbol -> ``SYMBOL_TRADE_EXECUTION_*`` where this broker executes a symbol otherwise
    #: than the catalogue does (Market Execution, Exchange for the stock). Brokers offer
    #: Instant and Request Execution too, where a market order must name its price: the
    #: broker answers 10015 without one and 10004 beyond its ``deviation``.
    execution: Mapping[str, int] = field(default_factory=dict)


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class EmulatedTerminal:
    """An EA and its terminal, simulated, speaking the real protocol to a daemon.

    Args:
        token: the auth token pasted into the EA's inputs (only keys derived from it are kept).
        host, port: the daemon's bridge address.
        settings: identity and simulation parameters.
        utc_clock_ms: epoch milliseconds UTC; the server clock adds ``tz_offset_s``.
        monotonic: seconds, for heartbeats.
    """

    #: The EA version announced in the hello (an older one keeps no ``client_id`` map).
    ea_version: str = EA_VERSION

    def __init__(self, token: str, *, host: str = "127.0.0.1", port: int = 8711,
                 settings: EmulatorSettings | None = None,
                 utc_clock_ms: Callable[[], int] = _wall_ms,
                 monotonic: Callable[[], float] = time.monotonic,
                 on_message: Callable[[str], None] | None = None) -> None:
        self.settings = s = settings or EmulatorSettings()
        #: Told each message shown on the chart (the demo prints it: its chart, in words).
        self._on_message = on_message
        self.host, self.port = host, port
        self._keys = TokenKeys.of(token)
        #: Where the hello's nonce comes from (32 bytes; injected by tests).
        self._randbytes: Callable[[int], bytes] = secrets.token_bytes
        #: Retcodes the next order_send answers after executing (see :meth:`answer_next`).
        self._answer_next: list[int] = []
        self._utc_clock_ms = utc_clock_ms
        self._monotonic = monotonic
        specs = default_symbols()
        if s.symbols:
            wanted = {name.upper() for name in s.symbols}
            unknown = wanted - {spec.name for spec in specs}
            if unknown:
                raise ValueError(f"unknown symbols: {', '.join(sorted(unknown))}")
            specs = tuple(spec for spec in specs if spec.name in wanted)
        execution = {name.upper(): mode for name, mode in s.execution.items()}
        if execution:
            unknown = set(execution) - {spec.name for spec in specs}
            if unknown:
                raise ValueError(f"execution of symbols not offered: {', '.join(sorted(unknown))}")
            specs = tuple(replace(spec, trade_exemode=execution[spec.name])
                          if spec.name in execution else spec for spec in specs)
        self.market = Market(specs, seed=s.seed, tick_rate_hz=s.tick_rate_hz,
                             clock=self.server_time_ms, history_days=s.history_days,
                             max_rows=s.max_rows)
        self.broker = SimulatedBroker(
            self.market, clock=self.server_time_ms, login=s.login, server=s.server,
            company=s.company, name=s.account_name, balance=s.balance, leverage=s.leverage,
            margin_mode=s.margin_mode, first_ticket=s.first_ticket)
        self._methods = {name: (fn, inspect.signature(fn))
                         for name, fn in self._method_table().items()}
        self._last_sent_msc: dict[str, int] = {}
        #: The EA's own record: ``client_id`` → the broker's answer, kept whether or not the
        #: answer reached the daemon (reconciliation asks for it with ``trade_results``).
        self._trade_results: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._announced_trade_allowed: bool | None = None
        self._conn: EAConnection | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._closing = False
        self.ready = asyncio.Event()
        #: Refusal reasons seen, newest last (what the user would read in the Experts log).
        self.refusals: list[str] = []
        self.sessions = 0
        #: Peers that answered the hello without proving they hold the token's record (a
        #: process on the bridge port while the daemon was down): each was told nothing.
        self.impostors = 0
        #: The chart's messages from the owner (``show_message``), oldest first: what the
        #: real EA writes on the chart.
        self.messages: list[str] = []
        self.message_shown = asyncio.Event()

    # -- clocks ----------------------------------------------------------------------------

    def server_time_ms(self) -> int:
        """The broker server's clock, epoch milliseconds (UTC plus the server's offset)."""
        return self._utc_clock_ms() + self.settings.tz_offset_s * 1000

    def market_hours(self) -> dict[str, bool]:
        """Symbol → whether it trades now, by its sessions in server time (on a weekend only
        the crypto symbol does: an order for the others answers 10018 MARKET_CLOSED)."""
        now = self.server_time_ms()
        return {spec.name: self.market.is_trading(spec.name, now) for spec in self.market.specs()}

    # -- lifecycle -------------------------------------------------------------------------

    async def run(self, *, reconnect: bool = True) -> None:
        """Connect, serve, and (with ``reconnect``) reconnect with backoff until closed.

        Raises:
            TerminalRefused: a refusal retrying cannot fix (bad or expired token, ...); with
                ``reconnect=False``, any refusal.
            OSError: with ``reconnect=False``, when the daemon cannot be reached.
        """
        delay = self.settings.reconnect_min_s
        while not self._closing:
            sessions_before = self.sessions
            try:
                await self.serve_once()
            except TerminalRefused as exc:
                fatal = exc.reason in _FATAL_REFUSALS
                if not reconnect or (fatal and exc.confirmed):
                    log.error("gateway refused the EA: %s", exc)
                    raise
                if fatal:  # a stranger's word: not enough to stop, retried at the slowest
                    log.warning("refused by a peer that did not prove it is the gateway: %s; "
                                "retrying", exc)
                    delay = self.settings.reconnect_max_s
                else:  # a refusal it waits out (a device pending approval): a step, not a fault
                    log.info("gateway refused the EA for now: %s; retrying", exc)
            except OSError as exc:
                if not reconnect:
                    raise
                log.info("gateway unreachable (%s); retrying in %.2f s",
                         exc.strerror or type(exc).__name__, delay)
            if not reconnect or self._closing:
                return
            if self.sessions != sessions_before:
                delay = self.settings.reconnect_min_s  # a session went live: start over
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.settings.reconnect_max_s)

    async def close(self) -> None:
        """Say bye and disconnect; :meth:`run` returns."""
        self._closing = True
        conn, writer = self._conn, self._writer
        if conn is not None and writer is not None and not writer.is_closing():
            conn.send_bye("shutting_down", "terminal closing")
            with contextlib.suppress(OSError):
                writer.write(conn.data_to_send())
            writer.close()

    async def serve_once(self) -> None:
        """One connection: handshake, then serve requests and stream until it ends.

        Raises:
            TerminalRefused: the daemon refused the handshake.
            OSError: the connection could not be made.
        """
        s = self.settings
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port), s.connect_timeout_s)
        hello = Hello(PROTOCOL_VERSION, s.platform, TERMINAL_BUILD, self.ea_version, s.login,
                      s.server, s.company, f"{s.company} MetaTrader 5", self._keys.hint,
                      self._randbytes(32).hex())
        conn = EAConnection(hello, self._keys, clock=self._monotonic)
        self._conn, self._writer = conn, writer
        timer = asyncio.create_task(self._timer_loop(conn, writer))
        refusal: Refused | None = None
        try:
            writer.write(conn.data_to_send())
            while not conn.should_close:
                data = await reader.read(65536)
                if not data:
                    conn.receive_eof()
                else:
                    conn.receive_data(data)
                refusal = self._process(conn) or refusal
                self._flush(conn, writer)
        except (ConnectionError, OSError) as exc:
            log.info("bridge connection lost: %s", type(exc).__name__)
        finally:
            timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await timer
            self.ready.clear()
            self._conn = None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        if refusal is not None:
            self.refusals.append(refusal.reason)
            raise TerminalRefused(refusal.reason, refusal.message, refusal.confirmed)

    # -- protocol --------------------------------------------------------------------------

    def _process(self, conn: EAConnection) -> Refused | None:
        refusal = None
        for event in conn.events_received():
            if isinstance(event, RequestReceived):
                if conn.state is State.READY:  # not after our own bye (close())
                    self._answer(conn, event.request.id, event.request.method,
                                 event.request.params)
            elif isinstance(event, Welcomed):
                self.sessions += 1
                now = self.server_time_ms()
                for spec in self.market.specs():
                    self._last_sent_msc.setdefault(spec.name, now)
                self._announced_trade_allowed = None
                self._announce_terminal(conn)
                self.ready.set()
            elif isinstance(event, Refused):
                refusal = event
            elif isinstance(event, Closed):
                if event.reason == DAEMON_UNPROVEN:
                    self.impostors += 1
                    log.warning("the process on %s:%d is not the gateway holding this token "
                                "(its proof is wrong): nothing was sent; retrying", self.host,
                                self.port)
                else:
                    log.info("bridge session closed: %s %s", event.reason, event.message)
        return refusal

    def _answer(self, conn: EAConnection, request_id: int, method: str,
                params: dict[str, Any]) -> None:
        entry = self._methods.get(method)
        try:
            if entry is None:
                raise EmulatorError(ErrorCode.METHOD_NOT_FOUND, f"unknown method {method!r}")
            fn, signature = entry
            try:
                result = fn(**params)
            except TypeError:
                # Bound only when the call failed (binding every call showed in the
                # terminal's turnaround, in the daemon's p50 at c=1): params that do not
                # fit never ran the method, and say so; a TypeError of the method's own
                # stays an internal error.
                try:
                    signature.bind(**params)
                except TypeError as exc:
                    raise EmulatorError(ErrorCode.INVALID_PARAMS, str(exc)) from None
                raise
        except EmulatorError as exc:
            conn.send_error(request_id, int(exc.code), exc.message)
        except Exception:
            log.exception("emulated terminal failed on %s", method)
            conn.send_error(request_id, int(ErrorCode.INTERNAL),
                            "internal error in the emulated terminal")
        else:
            conn.send_response(request_id, result)
        self._push_trade_events(conn)

    def _push_trade_events(self, conn: EAConnection) -> None:
        for event in self.broker.drain_events():
            conn.send_event(EVENT_TRADE, event)

    def _stream(self, conn: EAConnection) -> None:
        """Send every tick since the last one sent, then let the broker react to them."""
        now = self.server_time_ms()
        for spec in self.market.specs():
            last = self._last_sent_msc.get(spec.name, now)
            ticks = self.market.ticks_between(spec.name, last, now)
            if ticks:
                self._last_sent_msc[spec.name] = ticks[-1].time_msc
            # In events of at most _TICKS_PER_EVENT rows: after a long stall (or a clock jump)
            # one event could otherwise exceed the bridge's frame limit and end the session.
            for start in range(0, len(ticks), _TICKS_PER_EVENT):
                conn.send_event(EVENT_TICKS, {"symbol": spec.name, "rows": [
                    list(_tick_row(t)) for t in ticks[start:start + _TICKS_PER_EVENT]]})
            if ticks and self.market.book_subscribed(spec.name):
                # MT5 raises OnBookEvent when a subscribed book changes; here the book follows
                # the quote, so it changes with the newest tick of each batch.
                conn.send_event(EVENT_BOOK, {"symbol": spec.name,
                                             "book": self.market.market_book_get(spec.name)})
        self.broker.advance()
        self._push_trade_events(conn)
        self._announce_terminal(conn)

    def _announce_terminal(self, conn: EAConnection) -> None:
        """Send a ``terminal`` event when the Algo Trading state differs from the last one sent."""
        allowed = bool(self.broker.account_info()["trade_expert"])
        if allowed != self._announced_trade_allowed:
            self._announced_trade_allowed = allowed
            conn.send_event(EVENT_TERMINAL, {"connected": True, "trade_allowed": allowed})

    async def _timer_loop(self, conn: EAConnection, writer: asyncio.StreamWriter) -> None:
        while not conn.should_close:
            await asyncio.sleep(self.settings.timer_interval_s)
            conn.on_timer()
            # Only while READY: the timer may have just closed the session (a heartbeat judged
            # late under load), or close() said bye since the last turn; nothing more may be
            # sent then (InvalidState), only what is queued flushed.
            if self.ready.is_set() and conn.state is State.READY:
                self._stream(conn)
            self._process(conn)
            self._flush(conn, writer)

    @staticmethod
    def _flush(conn: EAConnection, writer: asyncio.StreamWriter) -> None:
        data = conn.data_to_send()
        if data and not writer.is_closing():
            writer.write(data)
        if conn.should_close and not writer.is_closing():
            writer.close()

    # -- terminal-level methods ------------------------------------------------------------

    def _method_table(self) -> dict[str, Callable[..., Any]]:
        m, b = self.market, self.broker
        return {
            "ping": lambda: {},
            "version": self.version,
            "terminal_info": self.terminal_info,
            "server_time": self.server_time,
            "account_info": b.account_info,
            "symbols_total": m.symbols_total,
            "symbols_get": m.symbols_get,
            "symbol_info": m.symbol_info,
            "symbol_info_tick": m.symbol_info_tick,
            "symbol_select": m.symbol_select,
            "market_book_add": m.market_book_add,
            "market_book_get": m.market_book_get,
            "market_book_release": m.market_book_release,
            "copy_rates_from": m.copy_rates_from,
            "copy_rates_from_pos": m.copy_rates_from_pos,
            "copy_rates_range": m.copy_rates_range,
            "copy_ticks_from": m.copy_ticks_from,
            "copy_ticks_range": m.copy_ticks_range,
            "orders_total": b.orders_total,
            "orders_get": b.orders_get,
            "positions_total": b.positions_total,
            "positions_get": b.positions_get,
            "history_orders_total": b.history_orders_total,
            "history_orders_get": b.history_orders_get,
            "history_deals_total": b.history_deals_total,
            "history_deals_get": b.history_deals_get,
            "order_calc_margin": b.order_calc_margin,
            "order_calc_profit": b.order_calc_profit,
            "order_check": b.order_check,
            "order_send": self.order_send,
            "trade_results": self.trade_results,
            "show_message": self.show_message,
        }

    def show_message(self, text: str, id: str = "") -> dict[str, Any]:  # noqa: A002 - wire name
        """Show the owner's message on the chart (the real EA writes it with ``Comment``):
        kept in :attr:`messages`."""
        if not isinstance(text, str) or not text:
            raise EmulatorError(ErrorCode.INVALID_PARAMS, "text: expected a non-empty string")
        self.messages.append(text)
        self.message_shown.set()
        if self._on_message is not None:
            self._on_message(text)
        return {}

    def answer_next(self, retcode: int) -> None:
        """Make the next ``order_send`` execute as usual but answer (and record) ``retcode``
        with the fill's ticket: a broker whose answer timed out (10012) after the deal was
        made. Each call arms one order; for fault tests and ``bench.chaos``."""
        self._answer_next.append(retcode)

    def paste_token(self, token: str) -> None:
        """The user pastes another token into the EA's inputs: the EA re-initialises (its
        in-memory order record survives, as an MQL program's globals do on an input change),
        drops its session and connects again with the new token."""
        self._keys = TokenKeys.of(token)
        conn, writer = self._conn, self._writer
        if conn is not None and writer is not None and not writer.is_closing():
            writer.close()

    def order_send(self, request: dict[str, Any], client_id: str | None = None,
                   order_key: str | None = None) -> Any:
        """The broker's ``order_send``, recording the answer under the daemon's key first
        (``order_key`` from protocol 1.2, ``client_id`` in 1.1)."""
        key = order_key if order_key is not None else client_id
        if key is not None and not isinstance(key, str):
            name = "order_key" if order_key is not None else "client_id"
            raise EmulatorError(ErrorCode.INVALID_PARAMS, f"{name}: expected a string")
        if key is not None and key in self._trade_results:
            # The same order delivered twice (a retransmission, a duplicated frame): the EA
            # answers what it did the first time and never executes it again.
            return self._trade_results[key]
        result = self.broker.order_send(request)
        if self._answer_next:
            result = {**result, "retcode": self._answer_next.pop(0)}
        if key is not None:
            self._trade_results[key] = result
            self._trade_results.move_to_end(key)
            while len(self._trade_results) > TRADE_RESULTS_KEPT:
                self._trade_results.popitem(last=False)
        return result

    def trade_results(self, client_ids: list[str] | None = None,
                      order_keys: list[str] | None = None) -> dict[str, Any]:
        """The recorded ``OrderSendResult`` of each known key (unknown ones absent): asked by
        ``order_keys`` (1.2), each with the ``request`` it answered; by ``client_ids`` (1.1),
        the result alone, as a 1.1 EA records it."""
        keys = order_keys if order_keys is not None else client_ids
        name = "order_keys" if order_keys is not None else "client_ids"
        if not isinstance(keys, list) or not all(isinstance(c, str) for c in keys):
            raise EmulatorError(ErrorCode.INVALID_PARAMS, f"{name}: expected a list of strings")
        found = {c: self._trade_results[c] for c in keys if c in self._trade_results}
        if order_keys is None:
            return {c: {k: v for k, v in r.items() if k != "request"} for c, r in found.items()}
        return found

    def version(self) -> list[Any]:
        """MT5 ``version()``: ``[terminal_version, build, build_date]``."""
        return [500, TERMINAL_BUILD, TERMINAL_BUILD_DATE]

    def server_time(self) -> dict[str, int]:
        """The trade server's clock: epoch seconds and ms, and its offset from UTC."""
        now = self.server_time_ms()
        return {"time": now // 1000, "time_msc": now, "tz_offset_s": self.settings.tz_offset_s}

    def terminal_info(self) -> dict[str, Any]:
        """MT5 ``terminal_info()`` for a connected, algo-trading-enabled terminal."""
        s = self.settings
        return {
            "community_account": False, "community_connection": False, "connected": True,
            "dlls_allowed": False,
            "trade_allowed": bool(self.broker.account_info()["trade_expert"]),
            "tradeapi_disabled": False, "email_enabled": False, "ftp_enabled": False,
            "notifications_enabled": False, "mqid": False, "build": TERMINAL_BUILD,
            "maxbars": 100000, "codepage": 0, "ping_last": 0, "community_balance": 0.0,
            "retransmission": 0.0, "company": s.company, "name": f"{s.company} MetaTrader 5",
            "language": "English", "path": "C:\\Program Files\\MetaTrader 5",
            "data_path": "C:\\Users\\trader\\AppData\\Roaming\\MetaQuotes\\Terminal\\EMULATED",
            "commondata_path":
                "C:\\Users\\trader\\AppData\\Roaming\\MetaQuotes\\Terminal\\Common",
        }
