"""The streaming hub: EA pushes in, per-client JSON-RPC notification frames out.

It fans out five streams, one per subscription channel: ticks (``ticks``), trade
events (``trades``), the terminal's state changes (``terminal``), a symbol's depth of market
(``book``) and a symbol's bars on one timeframe (``candles``, formed and confirmed by
``gateway/candles.py``, which calls :meth:`Hub.publish_candle`). The hub sits between the
bridge listener (:class:`~gateway.terminals.TerminalDirectory` calls
:meth:`Hub.publish_ticks`, :meth:`Hub.publish_trade`, :meth:`Hub.publish_status` and
:meth:`Hub.publish_book`) and the WebSocket layer (``gateway/ws.py`` drains each
:class:`HubClient` with :meth:`HubClient.take` and writes the frames). It is plain state: no
sockets, no aiohttp, no tasks, so every policy below is unit-tested without a server.
Publishing is synchronous and never awaits a client.

Routing
    A client is bound to one :class:`StreamKey` when it connects: its token's terminal *and*
    its token record. The bridge listener publishes under the key of the EA session the data
    came from (the session's terminal and the token record the EA authenticated with), so a
    client sees only what the session its own token record opened sees: another token for the
    same login and server (another owner's, or a second one of the same owner) receives
    nothing of that session's ticks, trade events, terminal state or books, as ``/rpc`` refuses it
    the session's methods (``terminal_mismatch``). Subscriptions hang off the key, not the EA
    session, so they survive an EA reconnect with the same token: ticks simply resume.

Backpressure policy (the contract: a slow client never delays the others)
    Like ``websockets.broadcast()``, publishing hands a tick to every client in one
    synchronous pass and never waits for any of them (each client's sender in ``ws.py``
    does the writing, so only that client's pump ever waits on that client's socket).
    Unlike it, the hub does not let a slow client's backlog grow without bound; each client
    has two queues with different rules:

    * **ticks** are *conflated per symbol*. While a client keeps up, every tick is queued as a
      ready frame (FIFO, so a healthy client sees every tick, including every row of an EA
      batch). The client counts as *slow* when its transport's write buffer is above
      ``tick_high_water_bytes`` (``transport.get_write_buffer_size()``, read through the
      ``buffered`` callable the WebSocket layer passes in; it also caps the kernel send
      buffer so that backlog shows up there early) or it already has
      ``max_queued_ticks`` ready tick frames. Then a tick goes to a one-slot-per-symbol
      table instead, replacing any older tick of that symbol ("latest wins") and counting the
      replaced one. The slot's notification is built when the client's sender takes it and
      carries ``"conflated": k``, the ticks dropped for that symbol since the previous one
      delivered. Once a symbol has a slot, its newer ticks keep going there until it is
      taken, so per-symbol order is kept. Pending ticks per client are therefore at most
      ``max_queued_ticks + one per subscribed symbol``, whatever the tick rate.
    * **events** (``trade_event``, ``terminal_status``) are never dropped or merged: they go
      to a bounded FIFO of ``event_queue_max`` frames. An event that would overflow it marks
      the client :attr:`HubClient.overflowed`, frees its queues and detaches it from the hub;
      the WebSocket layer then closes the socket with 1013 and the client resyncs through
      RPC. Losing a fill silently is worse than a reconnect.
    * **books** (the ``book`` channel: a symbol's whole depth of market after each change the
      EA reports) are always *latest wins* per symbol: a book is a snapshot, so an older one
      still waiting is replaced, never queued behind. Pending books per client are at most
      one per subscribed symbol.
    * **candles**: a *closed* bar (and a subscription's snapshot) is an event: queued, never
      dropped, counted against ``event_queue_max``. The *forming* bar is latest wins per
      symbol and timeframe, like a book; a closed bar drops a forming one of the same or an
      older bar still waiting, so a client never sees a bar form after it closed.

    :meth:`HubClient.take` hands out events first, then ready ticks, then conflated slots,
    then books, then forming candles, so trade events are never stuck behind a burst of
    quotes. ``seq`` is assigned per
    subscription in the order the client is given frames: a gap in ``seq`` means loss.

Encode once
    A tick (or event, or book) is encoded with orjson **once per publish**, however many clients and
    subscriptions receive it, and only if at least one does. The per-subscription part,
    ``subscription`` and ``seq`` (plus ``conflated`` for ticks), cannot be shared, so each
    subscription has a pre-encoded prefix and its frame is spliced from bytes::

        prefix(sub) + b'%d,"conflated":%d' % (seq, k) + tail

    where ``tail`` is ``,"symbol":…,"time":…,…}}``: the body encoded once, its opening brace
    dropped and the two closing braces added, computed once per tick. The splice costs a
    fraction of encoding the whole notification for each subscriber, and the shared encode is
    paid once per tick, so a tick's cost grows with its subscribers by the splice alone (timed:
    ``docs/history/performance-notes.md``, "Measured costs by module"), and ``ws.py``
    writes the bytes unchanged, every ready frame of a client in one ``transport.write``.
    :attr:`Hub.stats` counts encodes so tests can check that a tick is encoded once for any
    number of subscribers.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import orjson

from ea_bridge import TICK_ROW, TerminalId

from .errors import InvalidParams
from .schemas import MAX_SYMBOL_LENGTH, SYMBOL_PATTERN

__all__ = ["CandleName", "Channel", "Hub", "HubClient", "HubLimits", "HubStats", "StreamKey",
           "tick_body"]

log = logging.getLogger(__name__)


class Channel(StrEnum):
    """What a subscription streams."""

    TICKS = "ticks"
    TRADES = "trades"
    TERMINAL = "terminal"
    BOOK = "book"
    CANDLES = "candles"


_NOTIFICATION = {Channel.TICKS: "tick", Channel.TRADES: "trade_event",
                 Channel.TERMINAL: "terminal_status", Channel.BOOK: "book",
                 Channel.CANDLES: "candle"}
#: A candle subscription's first notification: its last closed bars.
_CANDLE_SNAPSHOT: Final = "candle_snapshot"
#: A candle series: (symbol, timeframe value).
CandleName = tuple[str, int]
#: Channels whose subscriptions name symbols.
_BY_SYMBOL: Final = (Channel.TICKS, Channel.BOOK)


@dataclass(frozen=True, slots=True)
class StreamKey:
    """Whose streams: one terminal as seen through one token record (see "Routing")."""

    terminal: TerminalId
    token_id: str

    def __str__(self) -> str:
        return f"{self.terminal} ({self.token_id})"


@dataclass(frozen=True, slots=True)
class HubLimits:
    """Per-client bounds (security limits: they cap what one client can make the daemon hold)."""

    #: Queued trade/terminal notifications before the client is dropped (close 1013).
    event_queue_max: int = 1000
    #: Transport write-buffer size above which the client counts as slow (ticks conflate).
    tick_high_water_bytes: int = 256 * 1024
    #: Ready tick frames a client may have queued before ticks conflate regardless.
    max_queued_ticks: int = 256
    #: Live subscriptions per client.
    max_subscriptions: int = 64
    #: Symbols in one ``ticks`` subscription.
    max_symbols: int = 256


@dataclass(slots=True)
class HubStats:
    """Counters over the hub's life (read by tests and, later, metrics)."""

    ticks_published: int = 0
    tick_encodes: int = 0
    events_published: int = 0
    event_encodes: int = 0
    #: Books whose levels are not MT5's BookInfo objects (dropped).
    malformed_books: int = 0
    books_published: int = 0
    overflows: int = 0
    #: Ticks a slow client never saw, replaced by a newer one of the same symbol.
    ticks_conflated: int = 0
    candles_published: int = 0


@dataclass(slots=True)
class _Subscription:
    sid: str
    channel: Channel
    symbols: frozenset[str]
    prefix: bytes
    seq: int = 0
    #: The candle series of a ``candles`` subscription.
    candle: CandleName | None = None

    def frame(self, tail: bytes, conflated: int | None = None) -> bytes:
        """Splice this subscription's ``subscription``/``seq`` in front of a shared tail."""
        self.seq += 1
        if conflated is None:
            return self.prefix + b"%d" % self.seq + tail
        return self.prefix + b'%d,"conflated":%d' % (self.seq, conflated) + tail


def _tail(encoded: bytes) -> bytes:
    """The shared end of a notification: the body's members, closing params and envelope."""
    return b"," + encoded[1:] + b"}" if len(encoded) > 2 else b"}}"


@dataclass(slots=True)
class _Slot:
    """The one pending tick of a symbol for a slow client, and how many it replaced."""

    tail: bytes
    dropped: int = 0


def tick_body(symbol: str, row: list[Any]) -> dict[str, Any]:
    """The shared part of a ``tick`` notification from one EA row.

    Rows carry :data:`ea_bridge.TICK_ROW`'s fields in its order; ``time`` is derived in
    seconds as MT5's ``MqlTick.time`` is. A row is checked once, on its way in: the bridge
    drops a malformed one before any listener sees it (``ea_bridge.tick_row_problem``).
    """
    body: dict[str, Any] = {"symbol": symbol, "time": row[_TIME_MSC] // 1000}
    body.update(zip(TICK_ROW, row, strict=True))
    return body


#: The fields of one level of a ``book`` event (MT5's BookInfo, as ``market_book_get``).
_BOOK_LEVEL: Final = frozenset({"type", "price", "volume", "volume_dbl"})
_TIME_MSC: Final = TICK_ROW.index("time_msc")


def _prefix(method: str, sid: str) -> bytes:
    """A subscription's notifications up to the ``seq`` value."""
    return b"".join((b'{"jsonrpc":"2.0","method":', orjson.dumps(method),
                     b',"params":{"subscription":', orjson.dumps(sid), b',"seq":'))


def _nothing() -> None:
    return None


def _empty() -> int:
    return 0


class HubClient:
    """One streaming connection's subscriptions and pending notifications.

    Made by :meth:`Hub.connect`; the WebSocket layer drains it with :meth:`take` whenever
    ``wake`` fires, and closes the socket with 1013 once :attr:`overflowed` is set.
    """

    def __init__(self, hub: Hub, key: StreamKey, buffered: Callable[[], int],
                 wake: Callable[[], None]) -> None:
        self.key = key
        self._hub = hub
        self._limits = hub.limits
        self._buffered = buffered
        self._wake = wake
        self._subs: dict[str, _Subscription] = {}
        self._by_symbol: dict[str, list[_Subscription]] = {}
        self._events: deque[bytes] = deque()
        self._ticks: deque[bytes] = deque()
        self._slots: dict[str, _Slot] = {}
        self._book_subs: dict[str, list[_Subscription]] = {}
        self._books: dict[str, bytes] = {}
        self._candle_subs: dict[CandleName, list[_Subscription]] = {}
        #: The forming bar waiting per series: (its open time, its shared tail).
        self._forming: dict[CandleName, tuple[int, bytes]] = {}
        #: Set when an event would have overflowed the event queue; the socket must close.
        self.overflowed = False
        self.closed = False
        #: Ticks replaced by a newer one before delivery, over the connection's life.
        self.conflated_total = 0
        self.frames_taken = 0

    # -- what the WebSocket layer reads ---------------------------------------------------

    @property
    def pending_ticks(self) -> int:
        """Ticks waiting for this client: ready frames plus conflation slots."""
        return len(self._ticks) + len(self._slots)

    @property
    def conflation_slots(self) -> int:
        """Symbols with a conflated tick waiting (at most the subscribed symbols)."""
        return len(self._slots)

    @property
    def pending_events(self) -> int:
        """Trade and terminal notifications waiting for this client."""
        return len(self._events)

    @property
    def has_pending(self) -> bool:
        """Whether :meth:`take` would return anything."""
        return bool(self._events or self._ticks or self._slots or self._books or self._forming)

    def take(self, limit: int = 64) -> list[bytes]:
        """Up to about ``limit`` frames to send now, in send order (events, ticks, slots,
        books, forming candles).

        Frames from conflation slots are built here, so they carry the newest tick and the
        ``seq`` that follows every frame handed out before them.
        """
        out: list[bytes] = []
        while self._events and len(out) < limit:
            out.append(self._events.popleft())
        while self._ticks and len(out) < limit:
            out.append(self._ticks.popleft())
        while self._slots and len(out) < limit:
            symbol = next(iter(self._slots))
            slot = self._slots.pop(symbol)
            for sub in self._by_symbol.get(symbol, ()):
                out.append(sub.frame(slot.tail, slot.dropped))
        while self._books and len(out) < limit:
            symbol = next(iter(self._books))
            tail = self._books.pop(symbol)
            for sub in self._book_subs.get(symbol, ()):
                out.append(sub.frame(tail))
        while self._forming and len(out) < limit:
            name = next(iter(self._forming))
            _, tail = self._forming.pop(name)
            for sub in self._candle_subs.get(name, ()):
                out.append(sub.frame(tail))
        self.frames_taken += len(out)
        return out

    # -- subscriptions --------------------------------------------------------------------

    def subscribe(self, channel: Any, symbols: Any = None) -> str:
        """Start a subscription; its id.

        Raises:
            InvalidParams: unknown channel, ``symbols`` missing or malformed for ``ticks`` or
                ``book`` or given for another channel, or too many subscriptions.
        """
        if self.closed:
            raise InvalidParams("the connection is closing")
        try:
            chan = Channel(channel)
        except ValueError:
            raise InvalidParams(
                "channel: must be one of ticks, trades, terminal, book, candles") from None
        if chan is Channel.CANDLES:
            raise InvalidParams("channel: candles takes symbol and timeframe (and count), "
                                "not symbols")
        if chan in _BY_SYMBOL:
            wanted = self._check_symbols(symbols)
        elif symbols is not None:
            raise InvalidParams("symbols: only the ticks and book channels take symbols")
        else:
            wanted = frozenset()
        self.check_room()
        sid = self._hub.new_subscription_id()
        sub = _Subscription(sid, chan, wanted, _prefix(_NOTIFICATION[chan], sid))
        self._subs[sid] = sub
        table = self._book_subs if chan is Channel.BOOK else self._by_symbol
        for symbol in wanted:
            table.setdefault(symbol, []).append(sub)
        if chan is Channel.TERMINAL:
            snapshot = self._hub.status(self.key, "snapshot")
            self._push_event(sub.frame(_tail(orjson.dumps(snapshot))))
        return sid

    def check_room(self) -> None:
        """Raise unless one more subscription fits (and the connection is open).

        Raises:
            InvalidParams: the connection is closing or has ``max_subscriptions`` already.
        """
        if self.closed:
            raise InvalidParams("the connection is closing")
        if len(self._subs) >= self._limits.max_subscriptions:
            raise InvalidParams(
                f"subscription: at most {self._limits.max_subscriptions} per connection")

    def subscribe_candles(self, symbol: str, timeframe: int, snapshot: list[dict[str, Any]],
                          forming: dict[str, Any] | None) -> str:
        """Start a ``candles`` subscription whose snapshot (closed bars, oldest first) and
        forming bar (None: it follows a confirmation) the candle desk computed; its id.

        Raises:
            InvalidParams: as :meth:`check_room`.
        """
        self.check_room()
        sid = self._hub.new_subscription_id()
        name = (symbol, timeframe)
        sub = _Subscription(sid, Channel.CANDLES, frozenset(), _prefix("candle", sid),
                            candle=name)
        self._subs[sid] = sub
        self._candle_subs.setdefault(name, []).append(sub)
        head = {"symbol": symbol, "timeframe": timeframe}
        sub.seq += 1
        self._push_event(_prefix(_CANDLE_SNAPSHOT, sid) + b"%d" % sub.seq + _tail(
            self._hub.encode({**head, "bars": snapshot})))
        if forming is not None and not self.overflowed:
            self._push_event(sub.frame(_tail(self._hub.encode(
                {**head, "closed": False, "confirmed": False, **forming}))))
        return sid

    def _check_symbols(self, symbols: Any) -> frozenset[str]:
        limit = self._limits.max_symbols
        if not isinstance(symbols, list) or not 0 < len(symbols) <= limit:
            raise InvalidParams(f"symbols: must be a list of 1 to {limit} symbol names")
        for symbol in symbols:
            if not isinstance(symbol, str) or not 0 < len(symbol) <= MAX_SYMBOL_LENGTH:
                raise InvalidParams(
                    f"symbols: each must be a string of 1 to {MAX_SYMBOL_LENGTH} characters")
            if SYMBOL_PATTERN.fullmatch(symbol) is None:
                raise InvalidParams(f"symbols: {symbol[:MAX_SYMBOL_LENGTH]!r} is not a symbol "
                                    "name (letters, digits and ._#+- only)")
        return frozenset(symbols)

    def unsubscribe(self, subscription: Any) -> bool:
        """End a subscription (frames already queued for it may still be delivered).

        Raises:
            InvalidParams: ``subscription`` is not a live subscription id of this connection.
        """
        sub = self._subs.pop(subscription, None) if isinstance(subscription, str) else None
        if sub is None:
            raise InvalidParams("subscription: no such subscription on this connection")
        if sub.candle is not None:
            remaining = [s for s in self._candle_subs[sub.candle] if s is not sub]
            if remaining:
                self._candle_subs[sub.candle] = remaining
            else:
                del self._candle_subs[sub.candle]
                self._forming.pop(sub.candle, None)
            return True
        table, pending = ((self._book_subs, self._books) if sub.channel is Channel.BOOK
                          else (self._by_symbol, self._slots))
        for symbol in sub.symbols:
            remaining = [s for s in table[symbol] if s is not sub]
            if remaining:
                table[symbol] = remaining
            else:
                del table[symbol]
                pending.pop(symbol, None)
        return True

    def listens(self, channel: Channel) -> bool:
        """Whether any live subscription is on ``channel``."""
        return any(sub.channel is channel for sub in self._subs.values())

    # -- what the hub calls ---------------------------------------------------------------

    def wants_symbol(self, symbol: str) -> bool:
        """Whether any ticks subscription covers ``symbol``."""
        return symbol in self._by_symbol

    def wants_book(self, symbol: str) -> bool:
        """Whether any book subscription covers ``symbol``."""
        return symbol in self._book_subs

    def offer_book(self, symbol: str, tail: bytes) -> None:
        """Hold ``symbol``'s newest book, replacing one not yet taken; never blocks."""
        if symbol in self._book_subs:
            self._books[symbol] = tail
            self._wake()

    def wants_candles(self, name: CandleName) -> bool:
        """Whether any candles subscription is on the series ``name``."""
        return name in self._candle_subs

    def offer_candle(self, name: CandleName, time: int, tail: bytes, closed: bool) -> None:
        """A closed bar is queued as an event for every subscription on the series (and a
        forming bar of the same or an older bar still waiting is dropped); a forming bar
        replaces the one waiting."""
        subs = self._candle_subs.get(name)
        if not subs:
            return
        if closed:
            waiting = self._forming.get(name)
            if waiting is not None and waiting[0] <= time:
                del self._forming[name]
            for sub in subs:
                if not self.overflowed:
                    self._push_event(sub.frame(tail))
        else:
            self._forming[name] = (time, tail)
            self._wake()

    def offer_tick(self, symbol: str, tail: bytes) -> None:
        """Queue one tick (or conflate it if this client is slow); never blocks."""
        subs = self._by_symbol.get(symbol)
        if not subs:
            return
        slot = self._slots.get(symbol)
        if slot is not None:
            slot.tail = tail
            slot.dropped += 1
            self.conflated_total += 1
            self._hub.stats.ticks_conflated += 1
        elif (len(self._ticks) >= self._limits.max_queued_ticks
              or self._buffered() > self._limits.tick_high_water_bytes):
            self._slots[symbol] = _Slot(tail)
        else:
            for sub in subs:
                self._ticks.append(sub.frame(tail, 0))
        self._wake()

    def offer_event(self, channel: Channel, tail: bytes) -> None:
        """Queue one trade or terminal notification for every subscription on ``channel``."""
        for sub in self._subs.values():
            if sub.channel is channel and not self.overflowed:
                self._push_event(sub.frame(tail))

    def _push_event(self, frame: bytes) -> None:
        if len(self._events) >= self._limits.event_queue_max:
            self._overflow()
            return
        self._events.append(frame)
        self._wake()

    def _overflow(self) -> None:
        log.warning("streaming client on %s fell %d events behind; dropping it",
                    self.key, self._limits.event_queue_max)
        self.overflowed = True
        self._hub.stats.overflows += 1
        self._events.clear()
        self._ticks.clear()
        self._slots.clear()
        self._books.clear()
        self._forming.clear()
        self._hub.disconnect(self)
        self._wake()


class Hub:
    """Fans EA pushes out to streaming clients, per :class:`StreamKey`, never waiting on any
    client.

    Args:
        limits: the per-client bounds.
        dumps: the JSON encoder (orjson); injectable so tests can count encodes.
    """

    def __init__(self, limits: HubLimits | None = None, *,
                 dumps: Callable[[Any], bytes] = orjson.dumps) -> None:
        self.limits = limits or HubLimits()
        self.stats = HubStats()
        self._dumps = dumps
        self._clients: dict[StreamKey, set[HubClient]] = {}
        self._status: dict[StreamKey, dict[str, Any]] = {}
        self._ids = itertools.count(1)

    def encode(self, body: Any) -> bytes:
        """``body`` as JSON, with the hub's encoder."""
        return self._dumps(body)

    def new_subscription_id(self) -> str:
        """A subscription id unique within this hub."""
        return f"sub-{next(self._ids)}"

    def connect(self, key: StreamKey, *, buffered: Callable[[], int] = _empty,
                wake: Callable[[], None] = _nothing) -> HubClient:
        """Attach a streaming client bound to ``key``.

        Args:
            key: the caller's terminal and token record (from its token); it sees only what
                an EA session opened with that same token record publishes.
            buffered: bytes waiting in the client's transport write buffer.
            wake: called (synchronously, possibly often) when the client has frames to take.
        """
        client = HubClient(self, key, buffered, wake)
        self._clients.setdefault(key, set()).add(client)
        return client

    def disconnect(self, client: HubClient) -> None:
        """Detach a client; it receives nothing more."""
        client.closed = True
        clients = self._clients.get(client.key)
        if clients is not None:
            clients.discard(client)
            if not clients:
                del self._clients[client.key]

    def rebind(self, client: HubClient, key: StreamKey) -> None:
        """Move a live client (and its subscriptions) to another key: a socket that presents
        a renewed token sees the streams of the new token record's session from then on."""
        if client.closed or key == client.key:
            return
        self.disconnect(client)
        client.closed = False
        client.key = key
        self._clients.setdefault(key, set()).add(client)

    def client_count(self) -> int:
        """Streaming clients attached, all keys."""
        return sum(len(clients) for clients in self._clients.values())

    def clients(self, key: StreamKey) -> list[HubClient]:
        """The clients attached to ``key``."""
        return list(self._clients.get(key, ()))

    # -- publishing (called by the bridge listener) ---------------------------------------

    def publish_ticks(self, key: StreamKey, symbol: str, rows: Iterable[list[Any]]) -> None:
        """Fan out an EA ``ticks`` batch (rows the bridge checked), oldest first; each row
        encoded at most once."""
        clients = [c for c in self._clients.get(key, ()) if c.wants_symbol(symbol)]
        for row in rows:
            self.stats.ticks_published += 1
            if not clients:
                continue
            tail = _tail(self._dumps(tick_body(symbol, row)))
            self.stats.tick_encodes += 1
            for client in clients:
                client.offer_tick(symbol, tail)

    def wants_candles(self, key: StreamKey, symbol: str, timeframe: int) -> bool:
        """Whether any client of ``key`` subscribes to the series."""
        return any(c.wants_candles((symbol, timeframe)) for c in self._clients.get(key, ()))

    def publish_candle(self, key: StreamKey, symbol: str, timeframe: int, bar: dict[str, Any],
                       *, closed: bool, confirmed: bool) -> None:
        """Fan out one bar of a series (``bar``: MqlRates fields), encoded at most once."""
        self.stats.candles_published += 1
        name = (symbol, timeframe)
        clients = [c for c in self._clients.get(key, ()) if c.wants_candles(name)]
        if not clients:
            return
        tail = _tail(self._dumps({"symbol": symbol, "timeframe": timeframe, "closed": closed,
                                  "confirmed": confirmed, **bar}))
        for client in clients:
            client.offer_candle(name, bar["time"], tail, closed)

    def publish_book(self, key: StreamKey, symbol: str, levels: Any) -> None:
        """Fan out an EA ``book`` event (one symbol's whole book), encoded at most once.

        ``levels`` are BookInfo objects (``type``, ``price``, ``volume``, ``volume_dbl``) as
        ``market_book_get`` answers them; anything else is counted as malformed and dropped.
        """
        self.stats.books_published += 1
        clients = [c for c in self._clients.get(key, ()) if c.wants_book(symbol)]
        if not clients:
            return
        if not isinstance(levels, list) or not all(
                isinstance(level, dict) and set(level) == _BOOK_LEVEL for level in levels):
            self.stats.malformed_books += 1
            return
        tail = _tail(self._dumps({"symbol": symbol, "book": levels}))
        for client in clients:
            client.offer_book(symbol, tail)

    def publish_trade(self, key: StreamKey, payload: dict[str, Any],
                      missed: int = 0) -> None:
        """Fan out one EA trade event; ``missed`` > 0 (events lost upstream) is passed on so
        clients know to resync."""
        body = {k: v for k, v in payload.items() if k not in ("subscription", "seq")}
        if missed:
            body["missed"] = missed
        self._publish_event(key, Channel.TRADES, body)

    def publish_status(self, key: StreamKey, reason: str, *,
                       connected: bool | None = None, broker_connected: bool | None = None,
                       trade_allowed: bool | None = None) -> None:
        """Record a change of the terminal's state and announce it on the terminal channel.

        Args:
            reason: why: ``ea_connected``, the bridge's disconnect reason (``eof``,
                ``heartbeat_timeout``, ...), or ``terminal_state`` for the EA's own report.
            connected: whether an EA session is live (None: unchanged).
            broker_connected, trade_allowed: the EA's report (None: unchanged).
        """
        state = self._status.setdefault(key, {"connected": False, "broker_connected": None,
                                                   "trade_allowed": None})
        if connected is not None:
            state["connected"] = connected
            if not connected:  # what a gone EA said no longer holds
                state["broker_connected"] = state["trade_allowed"] = None
        if broker_connected is not None:
            state["broker_connected"] = broker_connected
        if trade_allowed is not None:
            state["trade_allowed"] = trade_allowed
        self._publish_event(key, Channel.TERMINAL, self.status(key, reason))

    def status(self, key: StreamKey, reason: str) -> dict[str, Any]:
        """The ``terminal_status`` payload (without subscription and seq) for ``key``: a token
        whose record opened no session sees its terminal as not connected."""
        state = self._status.get(key)
        if state is None:
            return {"connected": False, "reason": reason, "broker_connected": None,
                    "trade_allowed": None}
        return {"connected": state["connected"], "reason": reason,
                "broker_connected": state["broker_connected"],
                "trade_allowed": state["trade_allowed"]}

    def _publish_event(self, key: StreamKey, channel: Channel,
                       body: dict[str, Any]) -> None:
        self.stats.events_published += 1
        clients = [c for c in self._clients.get(key, ()) if c.listens(channel)]
        if not clients:
            return
        tail = _tail(self._dumps(body))
        self.stats.event_encodes += 1
        for client in clients:
            client.offer_event(channel, tail)

