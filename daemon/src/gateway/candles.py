"""The ``candles`` channel: bars of one symbol and timeframe, formed from the tick stream and
confirmed by the terminal at their close.

Why both: a charting client wants its newest bar to move with every tick, and it wants the bars
it keeps to be the terminal's own (``copy_rates_*``: the same tick volume, real volume and
spread a chart in the terminal shows). Forming a bar from the streamed ticks gives the first at
no cost; asking the terminal once per closed bar gives the second. So:

* **forming**: each tick batch the EA pushes updates the series' newest bar (open, high, low and
  close from the bid, or from ``last`` for a symbol quoted without a bid; ``tick_volume`` counts
  the ticks, ``real_volume`` sums the ``volume`` of trade ticks, ``spread`` is the narrowest in
  points) and the bar is announced once per batch (``candle`` with ``closed: false``; latest
  wins per subscription for a slow client, as books do).
* **closed**: the first tick of a later period closes the bar (as MT5 itself opens a bar only
  with a tick: a period without ticks has no bar). The daemon then asks the EA for
  ``copy_rates_range(symbol, timeframe, first unconfirmed bar, closed bar)`` and announces every
  bar the terminal has in that span, oldest first (``closed: true, confirmed: true``), before
  the forming bar moves on. Forming updates wait meanwhile (one loopback round trip), so a
  client always sees a bar closed before the next one forms. Closed bars are never dropped or
  merged: they queue like trade events (``hub.py``).
* **gap-free resume**: the span always starts right after the last bar announced closed, so bars
  of an EA outage (the EA reconnected, or a new one started) come with the first confirmation
  after it, and ``seq`` runs on (subscriptions hang off the stream key, not the EA session).
* **snapshot**: a subscription starts with ``candle_snapshot``, the last ``count`` closed bars
  (``copy_rates_from_pos``), then the forming bar.

When the terminal cannot confirm (its answer is an error :data:`CONFIRM_ATTEMPTS` times in a
row, with backoff) the bars formed from the stream are announced with ``confirmed: false``
rather than holding the stream forever; while the EA is away, confirmation waits for it.

Times are the broker server's (the ticks' ``time_msc``), bars open at multiples of their length
from midnight, W1 on Sunday, MN1 on the 1st, as MT5's do. MetaTrader 4 has only M1, M5, M15,
M30, H1, H4, D1, W1 and MN1: another timeframe is refused by name at ``subscribe``.

:class:`Series` is the sans-I/O state of one series; :class:`CandleDesk` the shell: the bridge
listener that feeds series their ticks, the confirmation tasks, and the hub it publishes to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from ea_bridge import SessionInfo, TerminalId
from ea_bridge.errors import BridgeError, TerminalDisconnected, TerminalNotConnected
from mt5model.mt5 import ENUM_PREFIXES, Timeframe, timeframe_seconds
from mtgateway.stream import Rate

from .errors import InvalidParams, Unsupported
from .hub import Hub, StreamKey
from .paging import MalformedAnswer, read_table
from .schemas import MAX_SYMBOL_LENGTH, SYMBOL_PATTERN

__all__ = ["CONFIRM_ATTEMPTS", "DEFAULT_COUNT", "MAX_COUNT", "MT4_TIMEFRAMES", "RATE_FIELDS",
           "Bar", "CandleDesk", "CandleSpec", "Opened", "Series", "bar_open", "check_spec",
           "timeframe_name"]

log = logging.getLogger(__name__)

#: A bar's fields, MT5's ``MqlRates`` (the columns ``copy_rates_*`` answer): the client's one
#: declaration of a bar (``mtgateway.stream.Rate``), which :class:`Bar` holds the same fields
#: as (``daemon/tests/gateway/test_candles.py``).
RATE_FIELDS: Final = Rate._fields
#: Closed bars in a snapshot when ``count`` is not given, and the most a snapshot may ask for.
DEFAULT_COUNT: Final = 100
MAX_COUNT: Final = 1000
#: The timeframes MetaTrader 4 has (its EA refuses the others, ``Methods4.mqh``).
MT4_TIMEFRAMES: Final = frozenset({Timeframe.M1, Timeframe.M5, Timeframe.M15, Timeframe.M30,
                                   Timeframe.H1, Timeframe.H4, Timeframe.D1, Timeframe.W1,
                                   Timeframe.MN1})
#: Failed confirmations of one span before its bars are announced as formed from the stream.
CONFIRM_ATTEMPTS: Final = 3
#: The first retry's delay; each next one doubles it.
_RETRY_S: Final = 0.5
_PREFIX: Final = ENUM_PREFIXES[Timeframe]
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
#: ``flags`` bit of a tick that carries a trade volume (MT5's TICK_FLAG_VOLUME).
_TICK_FLAG_VOLUME: Final = 16


def timeframe_name(tf: Timeframe) -> str:
    """``"TIMEFRAME_M1"``: the constant's name, as errors and docs say it."""
    return _PREFIX + tf.name


def bar_open(tf: Timeframe, t: int) -> int:
    """Open time (server epoch seconds) of the ``tf`` bar holding second ``t``."""
    if tf is Timeframe.MN1:
        first = date.fromordinal(_EPOCH_ORDINAL + t // 86_400).replace(day=1)
        return (first.toordinal() - _EPOCH_ORDINAL) * 86_400
    if tf is Timeframe.W1:
        day = t // 86_400
        return (day - (day + 4) % 7) * 86_400  # back to Sunday (1970-01-01 was a Thursday)
    length = timeframe_seconds(tf)
    assert length is not None
    return t - t % length


@dataclass(slots=True)
class Bar:
    """One bar (MT5's ``MqlRates``: :data:`RATE_FIELDS`), mutable while it forms."""

    time: int
    open: float
    high: float
    low: float
    close: float
    tick_volume: int
    spread: int
    real_volume: int

    def as_dict(self) -> dict[str, Any]:
        """The bar under MT5's field names."""
        return {"time": self.time, "open": self.open, "high": self.high, "low": self.low,
                "close": self.close, "tick_volume": self.tick_volume, "spread": self.spread,
                "real_volume": self.real_volume}

    @classmethod
    def from_row(cls, index: dict[str, int], row: Sequence[Any]) -> Bar:
        """A bar from one ``copy_rates_*`` row whose column positions are ``index``.

        Raises:
            MalformedAnswer: a field is missing or of the wrong type.
        """
        try:
            values = [row[index[name]] for name in RATE_FIELDS]
        except (KeyError, IndexError):
            raise MalformedAnswer("EA rates row lacks a MqlRates field") from None
        time, open_, high, low, close, ticks, spread, real = values
        numbers = (open_, high, low, close)
        if not all(isinstance(v, int) and not isinstance(v, bool)
                   for v in (time, ticks, spread, real)) or \
                not all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers):
            raise MalformedAnswer("EA rates row has a field of the wrong type")
        return cls(time, float(open_), float(high), float(low), float(close), ticks, spread,
                   real)


def read_bars(answer: Any) -> tuple[list[Bar], bool]:
    """The bars of a ``copy_rates_*`` answer, oldest first, and whether it was cut short.

    Raises:
        MalformedAnswer: not a rates table.
    """
    table = read_table(answer)
    index = {name: k for k, name in enumerate(table.columns)}
    return [Bar.from_row(index, row) for row in table.rows], table.truncated


@dataclass(frozen=True, slots=True)
class CandleSpec:
    """What one ``candles`` subscription asks for."""

    symbol: str
    timeframe: Timeframe
    count: int


def check_spec(symbol: Any, timeframe: Any, count: Any) -> CandleSpec:
    """Validate ``subscribe``'s candle params.

    Raises:
        InvalidParams: naming the param that is missing or malformed.
    """
    if not isinstance(symbol, str) or not 0 < len(symbol) <= MAX_SYMBOL_LENGTH \
            or SYMBOL_PATTERN.fullmatch(symbol) is None:
        raise InvalidParams(f"symbol: must be a symbol name of 1 to {MAX_SYMBOL_LENGTH} "
                            "characters (letters, digits and ._#+- only)")
    tf: Timeframe | None = None
    if isinstance(timeframe, str) and timeframe.startswith(_PREFIX):
        tf = Timeframe.__members__.get(timeframe[len(_PREFIX):])
    elif isinstance(timeframe, int) and not isinstance(timeframe, bool):
        tf = Timeframe._value2member_map_.get(timeframe)  # type: ignore[assignment]
    if tf is None:
        raise InvalidParams("timeframe: must be a TIMEFRAME_* value or name, e.g. 1 or "
                            "\"TIMEFRAME_M1\"")
    if count is None:
        count = DEFAULT_COUNT
    if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= MAX_COUNT:
        raise InvalidParams(f"count: must be an integer from 0 to {MAX_COUNT}")
    return CandleSpec(symbol, tf, count)


class Series:
    """One symbol and timeframe of one stream key: the forming bar and what awaits the
    terminal's confirmation (sans-I/O: :class:`CandleDesk` feeds it and asks the terminal).

    Args:
        symbol, timeframe: which bars.
        point: the symbol's point (spreads are counted in points).
        forming: the terminal's newest bar when the series started (None: it had none).
        closed_upto: open time of the newest bar known closed then (None: none).
    """

    def __init__(self, symbol: str, timeframe: Timeframe, point: float, forming: Bar | None,
                 closed_upto: int | None) -> None:
        self.symbol, self.timeframe = symbol, timeframe
        self._point = point if point > 0 else 0.0
        self.forming = forming
        #: Open time of the newest bar announced closed.
        self.closed_upto = closed_upto
        #: Open time of the newest bar closed by the stream and not yet confirmed.
        self.confirm_to: int | None = None
        #: The bars the stream closed that await confirmation, by open time.
        self.formed: dict[int, Bar] = {}
        #: Whether the forming bar changed since it was last announced.
        self.changed = forming is not None

    def add_ticks(self, rows: Sequence[Any]) -> bool:
        """Fold an EA ``ticks`` batch (``TICK_ROW`` rows, oldest first) into the bars; True
        when a bar closed (a confirmation is due)."""
        closed = False
        tf = self.timeframe
        for row in rows:
            if not isinstance(row, list) or len(row) != 7:
                continue
            time_msc, bid, ask, last, volume, flags = row[:6]
            if not isinstance(time_msc, int) or not isinstance(bid, int | float) \
                    or not isinstance(last, int | float):
                continue
            price = float(bid) if bid > 0 else float(last)
            if price <= 0:
                continue
            opened = bar_open(tf, time_msc // 1000)
            spread = self._spread(bid, ask)
            traded = volume if isinstance(flags, int) and flags & _TICK_FLAG_VOLUME \
                and isinstance(volume, int) else 0
            bar = self.forming
            if bar is None or opened > bar.time:
                if bar is not None:
                    self.formed[bar.time] = bar
                    self.confirm_to = bar.time
                    closed = True
                self.forming = Bar(opened, price, price, price, price, 1, spread, traded)
            elif opened == bar.time:
                bar.high = max(bar.high, price)
                bar.low = min(bar.low, price)
                bar.close = price
                bar.tick_volume += 1
                bar.real_volume += traded
                if spread < bar.spread:
                    bar.spread = spread
            else:
                continue  # a tick of a bar already closed: its confirmation carries it
            self.changed = True
        return closed

    def _spread(self, bid: Any, ask: Any) -> int:
        if self._point and isinstance(ask, int | float) and ask > 0 and bid > 0:
            return max(0, round((float(ask) - float(bid)) / self._point))
        return 0

    def span(self) -> tuple[int, int] | None:
        """The open times ``(from, to)`` the terminal must confirm next, or None."""
        if self.confirm_to is None:
            return None
        start = self.closed_upto + 1 if self.closed_upto is not None else min(self.formed,
                                                                              default=0)
        return start, self.confirm_to

    def confirmed(self, bars: Sequence[Bar], upto: int) -> list[Bar]:
        """Take the terminal's bars of the span up to ``upto``; the ones to announce closed."""
        after = self.closed_upto
        out = [b for b in bars if (after is None or b.time > after) and b.time <= upto]
        self._settle(upto)
        return out

    def unconfirmed(self, upto: int) -> list[Bar]:
        """Give up confirming up to ``upto``: the bars the stream formed, to announce as
        they are."""
        out = [bar for time, bar in sorted(self.formed.items()) if time <= upto]
        self._settle(upto)
        return out

    def _settle(self, upto: int) -> None:
        if self.closed_upto is None or upto > self.closed_upto:
            self.closed_upto = upto
        self.formed = {t: b for t, b in self.formed.items() if t > upto}
        if self.confirm_to is not None and self.confirm_to <= upto:
            self.confirm_to = None


@dataclass(frozen=True, slots=True)
class Opened:
    """What a new subscription starts with: the closed bars of its snapshot and the forming
    bar (None while a confirmation is due: the forming bar follows it)."""

    closed: list[Bar]
    forming: Bar | None


#: A call to the terminal: (method, params) -> the EA's answer.
Fetch = Callable[[str, dict[str, Any]], Awaitable[Any]]
#: The bridge's call: (terminal, method, params, timeout_s) -> the EA's answer.
BridgeCall = Callable[[TerminalId, str, dict[str, Any], float], Awaitable[Any]]


@dataclass(slots=True)
class _Live:
    """A series and its confirmation task."""

    series: Series
    task: asyncio.Task[None] | None = None
    attempts: int = 0


@dataclass(slots=True)
class _Session:
    key: StreamKey
    platform: str
    up: asyncio.Event = field(default_factory=asyncio.Event)


class CandleDesk:
    """Every live candle series of the daemon; a :class:`~ea_bridge.BridgeListener`.

    Args:
        hub: where candles are published (and whose clients say which series are wanted).
        call: the bridge's ``call``, for confirmations.
        timeout_s: the read deadline of one confirmation.
        sleep: the retry delay (injected by tests).
    """

    def __init__(self, hub: Hub, call: BridgeCall, *, timeout_s: float = 10.0,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._hub, self._call, self._timeout_s, self._sleep = hub, call, timeout_s, sleep
        self._series: dict[StreamKey, dict[tuple[str, Timeframe], _Live]] = {}
        self._sessions: dict[TerminalId, _Session] = {}
        self._waiting: dict[StreamKey, asyncio.Event] = {}

    def series_count(self) -> int:
        """Live series, all keys."""
        return sum(len(by) for by in self._series.values())

    # -- subscribing (called by the WebSocket layer) ---------------------------------------

    async def open(self, key: StreamKey, spec: CandleSpec, fetch: Fetch) -> Opened:
        """Start (or join) ``spec``'s series for ``key``; the new subscription's snapshot.

        The caller must register the subscription with the hub before it next awaits, so no
        publish falls between the snapshot and the subscription.

        Raises:
            Unsupported: an MT4 terminal and a timeframe MT4 does not have.
            InvalidParams, NotFound, ...: as ``copy_rates_from_pos`` raises them.
            BridgeError: the terminal cannot be asked (mapped by ``errors.py``).
        """
        session = self._sessions.get(key.terminal)
        if session is not None and session.platform == "MT4" \
                and spec.timeframe not in MT4_TIMEFRAMES:
            raise Unsupported(
                "timeframe", f"timeframe: {timeframe_name(spec.timeframe)} is not available on "
                "MetaTrader 4 (it has " + ", ".join(
                    tf.name for tf in sorted(MT4_TIMEFRAMES)) + ")", "candles")
        name = (spec.symbol, spec.timeframe)
        live = self._series.get(key, {}).get(name)
        point = 0.0
        if live is None:
            info = await fetch("symbol_info", {"symbol": spec.symbol})
            point = info.get("point", 0.0) if isinstance(info, dict) else 0.0
            point = float(point) if isinstance(point, int | float) else 0.0
        # Two more than asked: bars the series has not announced closed yet are left out.
        bars, _ = read_bars(await fetch("copy_rates_from_pos", {
            "symbol": spec.symbol, "timeframe": int(spec.timeframe), "start_pos": 0,
            "count": spec.count + 3}))
        live = self._series.setdefault(key, {}).get(name)  # another may have started it
        if live is None:
            series = Series(spec.symbol, spec.timeframe, point, bars[-1] if bars else None,
                            bars[-2].time if len(bars) > 1 else None)
            live = self._series[key][name] = _Live(series)
        series = live.series
        upto = series.closed_upto
        closed = [] if upto is None or not spec.count else \
            [b for b in bars if b.time <= upto][-spec.count:]
        return Opened(closed, series.forming if series.confirm_to is None else None)

    # -- BridgeListener ---------------------------------------------------------------------

    def session_up(self, info: SessionInfo) -> None:
        """Remember whose session it is; confirmations waiting for it go on."""
        key = StreamKey(info.terminal, info.token_id)
        old = self._sessions.get(info.terminal)
        if old is not None:
            old.up.clear()
        session = self._sessions[info.terminal] = _Session(key, info.hello.platform)
        session.up.set()
        waiting = self._waiting.pop(key, None)
        if waiting is not None:
            waiting.set()

    def session_down(self, info: SessionInfo, reason: str) -> None:
        """Forget the session (if it is still the terminal's)."""
        session = self._sessions.get(info.terminal)
        if session is not None and session.key == StreamKey(info.terminal, info.token_id):
            session.up.clear()
            del self._sessions[info.terminal]

    def ticks(self, terminal: TerminalId, symbol: str, rows: list[list[Any]]) -> None:
        """Fold a tick batch into the terminal's series of ``symbol``; announce what moved."""
        session = self._sessions.get(terminal)
        if session is None:
            return
        by_name = self._series.get(session.key)
        if not by_name:
            return
        for (name, tf), live in list(by_name.items()):
            if name != symbol:
                continue
            if not self._hub.wants_candles(session.key, symbol, tf):
                self._drop(session.key, (name, tf))
                continue
            if live.series.add_ticks(rows):
                self._start_confirming(session.key, live)
            self._announce_forming(session.key, live.series)

    def event(self, terminal: TerminalId, name: str, payload: dict[str, Any], missed: int) -> None:
        """Candles come from ticks only."""

    # -- confirming -------------------------------------------------------------------------

    def _start_confirming(self, key: StreamKey, live: _Live) -> None:
        if live.task is None or live.task.done():
            live.task = asyncio.get_running_loop().create_task(self._confirm(key, live))

    async def _confirm(self, key: StreamKey, live: _Live) -> None:
        series = live.series
        while (span := series.span()) is not None:
            start, upto = span
            try:
                bars, truncated = read_bars(await self._rates(key, series, start, upto))
            except (TerminalNotConnected, TerminalDisconnected):
                await self._session_of(key)  # a gap-free resume: the same span, later
                continue
            except (BridgeError, MalformedAnswer) as exc:
                live.attempts += 1
                if live.attempts < CONFIRM_ATTEMPTS:
                    await self._sleep(_RETRY_S * 2 ** (live.attempts - 1))
                    continue
                log.warning("%s %s %s: the terminal did not confirm the bars up to %d (%s); "
                            "announcing them as the stream formed them", key, series.symbol,
                            timeframe_name(series.timeframe), upto, exc)
                live.attempts = 0
                self._announce_closed(key, series, series.unconfirmed(upto), confirmed=False)
                continue
            live.attempts = 0
            if truncated and bars:
                upto = min(upto, bars[-1].time)
            self._announce_closed(key, series, series.confirmed(bars, upto), confirmed=True)
        self._announce_forming(key, series)

    async def _rates(self, key: StreamKey, series: Series, start: int, upto: int) -> Any:
        session = self._sessions.get(key.terminal)
        if session is None or session.key != key:  # the pairing rule: only this token's EA
            raise TerminalNotConnected(f"no EA of {key} is connected")
        return await self._call(key.terminal, "copy_rates_range", {
            "symbol": series.symbol, "timeframe": int(series.timeframe), "date_from": start,
            "date_to": upto}, self._timeout_s)

    async def _session_of(self, key: StreamKey) -> None:
        session = self._sessions.get(key.terminal)
        if session is not None and session.key == key:
            return
        await self._waiting.setdefault(key, asyncio.Event()).wait()

    # -- announcing -------------------------------------------------------------------------

    def _announce_closed(self, key: StreamKey, series: Series, bars: list[Bar], *,
                         confirmed: bool) -> None:
        for bar in bars:
            self._hub.publish_candle(key, series.symbol, int(series.timeframe),
                                     bar.as_dict(), closed=True, confirmed=confirmed)

    def _announce_forming(self, key: StreamKey, series: Series) -> None:
        if series.confirm_to is None and series.changed and series.forming is not None:
            series.changed = False
            self._hub.publish_candle(key, series.symbol, int(series.timeframe),
                                     series.forming.as_dict(), closed=False, confirmed=False)

    def prune(self, key: StreamKey) -> None:
        """Drop ``key``'s series no client subscribes to any more (a subscription ended)."""
        for symbol, tf in list(self._series.get(key, {})):
            if not self._hub.wants_candles(key, symbol, tf):
                self._drop(key, (symbol, tf))

    def _drop(self, key: StreamKey, name: tuple[str, Timeframe]) -> None:
        by_name = self._series.get(key)
        live = by_name.pop(name, None) if by_name is not None else None
        if live is not None and live.task is not None:
            live.task.cancel()
        if by_name is not None and not by_name:
            del self._series[key]

    async def close(self) -> None:
        """Stop every confirmation (the daemon is stopping)."""
        tasks = [live.task for by in self._series.values() for live in by.values()
                 if live.task is not None]
        self._series.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
