"""The candles channel without sockets: bar times, forming from ticks, the hub's queueing of
closed and forming bars, and what the desk does when the terminal cannot confirm."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from ea_bridge import Hello, SessionInfo, TerminalId
from ea_bridge.errors import EAError
from gateway.candles import (
    RATE_FIELDS,
    Bar,
    CandleDesk,
    CandleSpec,
    Series,
    bar_open,
    check_spec,
)
from gateway.errors import InvalidParams
from gateway.hub import Hub, HubClient, HubLimits, StreamKey
from mt5model.mt5 import Timeframe
from mtgateway.stream import Rate

KEY = StreamKey(TerminalId(5012345, "MTG-Demo"), "tok_a")
#: Wednesday 2026-11-18 14:00:00 (server time).
T0 = int(datetime(2026, 11, 18, 14, 0, tzinfo=UTC).timestamp())
COLUMNS = ["time", "open", "high", "low", "close", "tick_volume", "spread", "real_volume"]


def tick(t_ms: int, bid: float, ask: float | None = None) -> list[Any]:
    return [t_ms, bid, ask if ask is not None else bid + 0.0002, 0.0, 0, 6, 0.0]


def drain(client: HubClient) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while frames := client.take():
        out += [orjson.loads(frame) for frame in frames]
    return out


def test_bars_open_where_mt5_opens_them() -> None:
    """Intraday bars at multiples of their length from midnight, W1 on Sunday, MN1 on the 1st."""
    t = T0 + 17 * 60 + 5  # Wednesday 14:17:05
    assert bar_open(Timeframe.M1, t) == T0 + 17 * 60
    assert bar_open(Timeframe.M15, t) == T0 + 15 * 60
    assert bar_open(Timeframe.H4, t) == T0 - 2 * 3600  # 12:00
    assert bar_open(Timeframe.D1, t) == T0 - 14 * 3600
    sunday = int(datetime(2026, 11, 15, tzinfo=UTC).timestamp())
    assert bar_open(Timeframe.W1, t) == sunday
    assert bar_open(Timeframe.W1, sunday) == sunday
    assert bar_open(Timeframe.MN1, t) == int(datetime(2026, 11, 1, tzinfo=UTC).timestamp())


def test_a_series_forms_from_ticks_and_asks_for_confirmation_at_a_close() -> None:
    """OHLC from the bid, ticks counted, spread the narrowest in points; the first tick of a
    later minute closes the bar and names the span to confirm."""
    series = Series("EURUSD", Timeframe.M1, 0.00001, None, T0 - 60)
    ms = T0 * 1000
    assert not series.add_ticks([tick(ms + 100, 1.1), tick(ms + 200, 1.2, 1.20005),
                                 tick(ms + 300, 1.05), tick(ms + 59_999, 1.15)])
    assert series.forming == Bar(T0, 1.1, 1.2, 1.05, 1.15, 4, 5, 0)
    assert series.span() is None
    assert series.add_ticks([tick(ms + 60_000, 1.16), tick(ms + 185_000, 1.17)])
    assert series.span() == (T0 - 59, T0 + 60)  # after the last bar closed, to the newest
    assert series.forming is not None and series.forming.time == T0 + 180
    terminal = [Bar(T0, 1.1, 1.2, 1.05, 1.15, 9, 3, 0), Bar(T0 + 60, 1.16, 1.16, 1.16, 1.16,
                                                             1, 20, 0)]
    assert series.confirmed(terminal, T0 + 60) == terminal
    assert series.span() is None and series.closed_upto == T0 + 60
    series.add_ticks([tick(ms + 1000, 1.3)])  # late: a bar already closed
    assert series.forming.high == 1.17


def test_unconfirmed_bars_are_the_streams_own() -> None:
    series = Series("EURUSD", Timeframe.M1, 0.0, None, None)
    series.add_ticks([tick(T0 * 1000, 1.1), tick(T0 * 1000 + 60_000, 1.2)])
    assert series.span() == (T0, T0)
    assert series.unconfirmed(T0) == [Bar(T0, 1.1, 1.1, 1.1, 1.1, 1, 0, 0)]
    assert series.span() is None


def test_candle_params_are_checked_by_name() -> None:
    assert check_spec("EURUSD", "TIMEFRAME_H1", None) == CandleSpec("EURUSD", Timeframe.H1, 100)
    assert check_spec("EURUSD", 16385, 0).count == 0
    for symbol, tf, count, word in (("", 1, 1, "symbol"), ("EUR USD", 1, 1, "symbol"),
                                    ("EURUSD", 7, 1, "timeframe"), ("EURUSD", "H1", 1,
                                                                    "timeframe"),
                                    ("EURUSD", 1.0, 1, "timeframe"),
                                    ("EURUSD", 1, -1, "count"), ("EURUSD", 1, 1001, "count"),
                                    ("EURUSD", 1, True, "count")):
        with pytest.raises(InvalidParams, match=f"^{word}"):
            check_spec(symbol, tf, count)


def test_the_hub_queues_closed_bars_and_keeps_the_newest_forming_one() -> None:
    """A slow client gets only the newest forming bar, every closed bar, in seq order, and
    never a bar forming after it closed."""
    hub = Hub()
    client = hub.connect(KEY)
    sid = client.subscribe_candles("EURUSD", 1, [{"time": T0 - 60}], None)
    bar = {"time": T0, "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "tick_volume": 1,
           "spread": 0, "real_volume": 0}
    for k in range(5):
        hub.publish_candle(KEY, "EURUSD", 1, {**bar, "close": 1.0 + k}, closed=False,
                           confirmed=False)
    hub.publish_candle(KEY, "EURUSD", 1, bar, closed=True, confirmed=True)
    hub.publish_candle(KEY, "EURUSD", 1, {**bar, "time": T0 + 60}, closed=False,
                       confirmed=False)
    hub.publish_candle(KEY, "EURUSD", 5, bar, closed=True, confirmed=True)  # not subscribed
    got = drain(client)
    assert [(m["method"], m["params"]["seq"]) for m in got] == [
        ("candle_snapshot", 1), ("candle", 2), ("candle", 3)]
    assert all(m["params"]["subscription"] == sid for m in got)
    assert (got[1]["params"]["closed"], got[1]["params"]["time"]) == (True, T0)
    assert (got[2]["params"]["closed"], got[2]["params"]["time"]) == (False, T0 + 60)
    assert client.unsubscribe(sid) and not hub.wants_candles(KEY, "EURUSD", 1)


def test_closed_bars_count_against_the_event_queue() -> None:
    """Closed bars are never dropped: a client that would hold more than event_queue_max is
    dropped (1013) instead."""
    hub = Hub(HubLimits(event_queue_max=3))
    client = hub.connect(KEY)
    client.subscribe_candles("EURUSD", 1, [], None)
    for k in range(3):
        hub.publish_candle(KEY, "EURUSD", 1, {"time": T0 + 60 * k}, closed=True,
                           confirmed=True)
    assert client.overflowed and not client.has_pending


class Terminal:
    """The bridge's ``call`` as the desk uses it, answering from a list of bars or failing
    with the EA's error a given number of times."""

    def __init__(self, bars: list[Bar], failures: int = 0) -> None:
        self.bars, self.failures = bars, failures
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, terminal: TerminalId, method: str, params: dict[str, Any],
                       timeout_s: float) -> Any:
        self.calls.append((method, params))
        if self.failures:
            self.failures -= 1
            raise EAError(-32008, "history not ready")
        if method == "symbol_info":
            return {"point": 0.00001}
        if method == "copy_rates_from_pos":
            rows = self.bars[-params["count"]:]
        else:
            rows = [b for b in self.bars if params["date_from"] <= b.time <= params["date_to"]]
        return {"columns": COLUMNS, "rows": [list(b.as_dict().values()) for b in rows],
                "truncated": False}


def session(platform: str = "MT5") -> SessionInfo:
    hello = Hello(2, platform, 4000, "1.3.0", KEY.terminal.login, KEY.terminal.server, "Co",
                  "Co MetaTrader 5")
    return SessionInfo(KEY.terminal, "s1", KEY.token_id, hello, 0.0)


async def open_series(desk: CandleDesk, terminal: Terminal, client: HubClient) -> None:
    async def fetch(method: str, params: dict[str, Any]) -> Any:
        return await terminal(KEY.terminal, method, params, 1.0)

    opened = await desk.open(KEY, CandleSpec("EURUSD", Timeframe.M1, 2), fetch)
    client.subscribe_candles("EURUSD", 1, [b.as_dict() for b in opened.closed],
                             opened.forming.as_dict() if opened.forming else None)


async def test_bars_the_terminal_cannot_confirm_come_as_formed() -> None:
    """Three errors in a row (with backoff between them) and the stream's own bar is
    announced, confirmed false; the next close is confirmed again."""
    hub = Hub()
    client = hub.connect(KEY)
    history = [Bar(T0 - 120 + 60 * k, 1.0, 1.0, 1.0, 1.0, 5, 1, 0) for k in range(3)]
    terminal = Terminal(history)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    desk = CandleDesk(hub, terminal, sleep=sleep)
    desk.session_up(session())
    await open_series(desk, terminal, client)
    terminal.failures = 3
    desk.ticks(KEY.terminal, "EURUSD", [tick(T0 * 1000 + 60_000, 1.5)])
    for _ in range(20):
        await asyncio.sleep(0)
    got = [m["params"] for m in drain(client)]
    assert slept == [0.5, 1.0]
    closed = [p for p in got if p.get("closed")]
    assert [(p["time"], p["confirmed"]) for p in closed] == [(T0, False)]
    assert got[-1]["closed"] is False and got[-1]["time"] == T0 + 60
    terminal.bars.append(Bar(T0 + 60, 1.5, 1.6, 1.5, 1.6, 7, 2, 0))
    desk.ticks(KEY.terminal, "EURUSD", [tick(T0 * 1000 + 120_000, 1.7)])
    for _ in range(20):
        await asyncio.sleep(0)
    closed = [p for p in (m["params"] for m in drain(client)) if p.get("closed")]
    assert [(p["time"], p["confirmed"], p["tick_volume"]) for p in closed] == [
        (T0 + 60, True, 7)]
    await desk.close()


async def test_confirmation_waits_for_the_ea_to_come_back() -> None:
    """A bar closed just before the EA left is confirmed once it is back, not given up."""
    hub = Hub()
    client = hub.connect(KEY)
    history = [Bar(T0 - 60, 1.0, 1.0, 1.0, 1.0, 5, 1, 0), Bar(T0, 1.1, 1.1, 1.1, 1.1, 2, 1, 0)]
    terminal = Terminal(history)
    desk = CandleDesk(hub, terminal)
    desk.session_up(session())
    await open_series(desk, terminal, client)
    drain(client)
    desk.session_down(session(), "eof")
    desk.ticks(KEY.terminal, "EURUSD", [tick(T0 * 1000 + 60_000, 1.5)])  # no session: nothing
    assert desk.series_count() == 1 and not client.has_pending
    desk.session_up(session())
    desk.ticks(KEY.terminal, "EURUSD", [tick(T0 * 1000 + 60_000, 1.5)])
    desk.session_down(session(), "eof")
    for _ in range(10):
        await asyncio.sleep(0)
    assert not [m for m in drain(client) if m["params"].get("closed")]
    desk.session_up(session())
    for _ in range(10):
        await asyncio.sleep(0)
    closed = [m["params"] for m in drain(client) if m["params"].get("closed")]
    assert [(p["time"], p["confirmed"], p["tick_volume"]) for p in closed] == [(T0, True, 2)]
    await desk.close()


def test_a_bar_holds_the_one_declaration_of_mqlrates() -> None:
    """The daemon's working bar has the fields of the client's one declaration of a bar
    (``mtgateway.stream.Rate``), in its order, and says them under those names."""
    assert tuple(f.name for f in dataclasses.fields(Bar)) == RATE_FIELDS == Rate._fields
    bar = Bar(1, 1.0, 2.0, 0.5, 1.5, 10, 2, 0)
    assert Rate._make(bar.as_dict()[name] for name in Rate._fields) == Rate(*(
        getattr(bar, name) for name in RATE_FIELDS))
