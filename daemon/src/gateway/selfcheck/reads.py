"""The read-only checks of ``mtgateway check``: what any terminal must answer, whatever its
account, symbols and history hold (what the conformance suite asserts of the emulator and of
both EAs, without the test fixture's numbers). Each returns ``(outcome, evidence)``; a failed
expectation raises :class:`~gateway.selfcheck.probe.Mismatch` (the runner reports it).

Where a terminal cannot apply a check, the outcome is N/A with the reason (a symbol with no
depth of market, no tick in the window). Where MetaTrader 4 has no equivalent, the check
asserts the answer docs/terminal.md declares (``-32009`` naming MetaTrader 4).
"""

from __future__ import annotations

import asyncio
import datetime
import time
from typing import Any, Final

from mtgateway.errors import MtGatewayError
from mtgateway.records import Tick
from mtgateway.stream import Gap, Rate, StreamTick

from .probe import UNKNOWN_SYMBOL, UNSUPPORTED, Mismatch, Probe, expect, gateway_code
from .report import ACCOUNT_KINDS, NA, PASS

__all__ = ["READ_CHECKS", "RATE_COLUMNS", "TICK_COLUMNS"]

#: The columns ``copy_ticks_*`` and ``copy_rates_*`` answer: MT5's Tick and MqlRates, as the
#: client declares them.
TICK_COLUMNS: Final = list(Tick.__match_args__)
RATE_COLUMNS: Final = list(Rate._fields)
#: A quote asked while history loads is answered within this (an EA that copies history not on
#: disk waits up to 45 s, answering nothing; one that holds the call answers at once).
HELD_QUOTE_MAX_MS: Final = 10_000
#: The rows of the large answer, and the time it may take (loading excluded, the retries
#: of -32008 included).
LARGE_ROWS: Final = 20_000
LARGE_ANSWER_MAX_S: Final = 30.0
#: Quotes read in the ``quotes`` check, and symbols streamed in ``tick_stream``, at most.
QUOTED_MAX: Final = 50
STREAMED_MAX: Final = 20

Outcome = tuple[str, str]


def _n(x: int) -> str:
    return f"{x:,}"


async def session(p: Probe) -> Outcome:
    term = p.status["terminal"]
    expect(term.get("connected"), "gateway_status: no EA is connected for this token's terminal")
    version = await p.call("version")
    expect(isinstance(version, list) and len(version) == 3, f"version() answered {version!r}")
    info = await p.call("terminal_info")
    expect(info.get("connected") is True,
           "terminal_info.connected is false: the terminal is not connected to its broker")
    expect(info.get("build") == version[1] == term.get("build"),
           f"builds differ: terminal_info {info.get('build')}, version() {version[1]}, "
           f"hello {term.get('build')}")
    clock = await p.call("server_time")
    expect({"time", "time_msc", "tz_offset_s"} <= set(clock)
           and clock["time"] == clock["time_msc"] // 1000, f"server_time answered {clock!r}")
    when = datetime.datetime.fromtimestamp(clock["time"], datetime.UTC).strftime("%Y-%m-%d %H:%M")
    return PASS, (f"{p.platform} build {version[1]}, EA {term.get('ea_version')}; version() "
                  f"{version}; server time {when} (UTC{clock['tz_offset_s'] / 3600:+g} h)")


async def account(p: Probe) -> Outcome:
    term = p.status["terminal"]
    acc = await p.call("account_info")
    expect(acc.get("login") == term.get("login") and acc.get("server") == term.get("server"),
           f"account_info is {acc.get('login')} @ {acc.get('server')}, the token's terminal "
           f"{term.get('login')} @ {term.get('server')}")
    expect(isinstance(acc.get("balance"), float) and isinstance(acc.get("currency"), str)
           and acc["currency"], f"account_info: balance {acc.get('balance')!r}, currency "
           f"{acc.get('currency')!r}")
    kind = ACCOUNT_KINDS.get(acc.get("trade_mode", -1))
    expect(kind is not None, f"account_info.trade_mode {acc.get('trade_mode')!r} is no "
           "ACCOUNT_TRADE_MODE_*")
    if acc.get("paper") is True:
        kind = f"paper account (the daemon's paper book, trade_mode {kind}):"
    else:
        kind = f"{kind} account,"
    return PASS, (f"{acc['login']} @ {acc['server']}, {kind} {acc['currency']}, balance "
                  f"{acc['balance']:,.2f}, leverage 1:{acc.get('leverage')}, Algo Trading for "
                  f"EAs {'on' if acc.get('trade_expert') else 'OFF'}")


async def symbols(p: Probe) -> Outcome:
    total = await p.call("symbols_total")
    every = await p.call("symbols_get")
    names = [s["name"] for s in every]
    expect(len(every) == total and len(set(names)) == total,
           f"symbols_total {total}, symbols_get {len(every)} ({len(set(names))} distinct)")
    expect(p.market_watch, "no symbol is in Market Watch")
    others = await p.call("symbols_get", {"group": f"*,!{p.symbol}"})
    expect(len(others) == total - 1 and p.symbol not in [s["name"] for s in others],
           f"symbols_get(group='*,!{p.symbol}') answered {len(others)} of {total}")
    info = p.info
    expect(info.get("name") == p.symbol and isinstance(info.get("digits"), int)
           and info["digits"] >= 0 and info.get("point", 0) > 0,
           f"symbol_info({p.symbol!r}): name {info.get('name')!r}, digits "
           f"{info.get('digits')!r}, point {info.get('point')!r}")
    try:
        await p.call("symbol_info", ["NO.SUCH.SYMBOL.MTGW"])
    except MtGatewayError as exc:
        expect(gateway_code(exc) == UNKNOWN_SYMBOL, f"an unknown symbol answered {exc}")
    else:
        raise Mismatch("symbol_info of an unknown symbol answered a symbol")
    return PASS, (f"{_n(total)} symbols, {len(p.market_watch)} in Market Watch; {p.symbol}: "
                  f"{info['digits']} digits, point {info['point']:g}; group filters and "
                  "-32006 for an unknown symbol as documented")


async def quotes(p: Probe) -> Outcome:
    clock = await p.call("server_time")
    newest: tuple[int, str] = (0, "")
    quoted = 0
    for name in p.market_watch[:QUOTED_MAX]:
        tick = await p.call("symbol_info_tick", [name])
        if tick["bid"] > 0 and tick["ask"] > 0:
            expect(tick["ask"] >= tick["bid"], f"{name}: ask {tick['ask']} below bid {tick['bid']}")
        same = (tick["time_msc"] == tick["time"] * 1000 if p.mt4  # MT4: seconds only
                else tick["time_msc"] // 1000 == tick["time"])
        expect(same, f"{name}: time {tick['time']} and time_msc {tick['time_msc']} disagree")
        quoted += tick["time_msc"] > 0
        newest = max(newest, (tick["time_msc"], name))
    if quoted == 0:
        return NA, "no Market Watch symbol has a quote yet"
    age = (clock["time_msc"] - newest[0]) / 1000
    return PASS, (f"{quoted} of {min(len(p.market_watch), QUOTED_MAX)} Market Watch symbols "
                  f"quoted, ask >= bid; the newest quote {age:.1f} s old ({newest[1]})")


async def _pages(p: Probe, method: str, query: dict[str, Any], limit: int) -> tuple[list[Any], int]:
    rows: list[Any] = []
    call: dict[str, Any] = {**query, "limit": limit}
    pages = 0
    while True:
        got, _ = await p.settled(method, call)
        rows.extend(got["rows"])
        pages += 1
        if got["next_cursor"] is None:
            return rows, pages
        call = {"cursor": got["next_cursor"], "limit": limit}


async def tick_history(p: Probe) -> Outcome:
    end = p.tick["time"]
    query = {"symbol": p.symbol, "date_from": end - 600, "date_to": end - 60, "flags": -1}
    if p.mt4:
        try:
            await p.call("copy_ticks_range", query)
        except MtGatewayError as exc:
            expect(gateway_code(exc) == UNSUPPORTED and "MetaTrader 4" in str(exc),
                   f"copy_ticks_range answered {exc}")
            return PASS, "copy_ticks_* answer -32009 on MT4 (no tick history), as documented"
        raise Mismatch("copy_ticks_range answered rows on MetaTrader 4")
    whole, retries = await p.settled("copy_ticks_range", {**query, "limit": 100_000})
    rows = whole["rows"]
    expect(whole["columns"] == TICK_COLUMNS, f"copy_ticks_range columns {whole['columns']}")
    if not rows:
        return NA, f"{p.symbol} had no tick in the 9 minutes before its last one"
    times = [r[5] for r in rows]
    expect(times == sorted(times) and query["date_from"] * 1000 <= times[0]
           and times[-1] < (query["date_to"] + 1) * 1000, "ticks out of order or out of range")
    limit = max(200, len(rows) // 8)
    paged, pages = await _pages(p, "copy_ticks_range", query, limit)
    expect(paged == rows, f"{pages} pages of {limit} differ from one answer of {len(rows)}")
    counted, _ = await p.settled("copy_ticks_from", {"symbol": p.symbol, "count": 50,
                                                     "date_from": query["date_from"],
                                                     "flags": -1})
    expect(counted["rows"] == rows[:50], "copy_ticks_from differs from copy_ticks_range")
    return PASS, (f"{p.symbol}, 9 minutes: {_n(len(rows))} ticks"
                  f"{f' (after {retries} x -32008: loading)' if retries else ''}, the same in "
                  f"{pages} pages; copy_ticks_from agrees")


async def rates(p: Probe) -> Outcome:
    end = p.tick["time"]
    query = {"symbol": p.symbol, "timeframe": 1, "date_from": end - 3 * 3600,
             "date_to": end - 600}
    whole, retries = await p.settled("copy_rates_range", {**query, "limit": 100_000})
    rows = whole["rows"]
    expect(whole["columns"] == RATE_COLUMNS, f"copy_rates_range columns {whole['columns']}")
    for r in rows:
        expect(r[0] % 60 == 0 and r[2] >= max(r[1], r[4]) and r[3] <= min(r[1], r[4]),
               f"a bar that is no M1 bar: {r}")
    expect([r[0] for r in rows] == sorted({r[0] for r in rows}), "bars out of order or twice")
    paged, pages = await _pages(p, "copy_rates_range", query, 50)
    expect(paged == rows, f"{pages} pages of 50 differ from one answer of {len(rows)}")
    back, _ = await p.settled("copy_rates_from_pos", {"symbol": p.symbol, "timeframe": 1,
                                                      "start_pos": 1, "count": 40})
    expect(not rows or not back["rows"] or back["rows"][-1][0] > rows[-1][0],
           "copy_rates_from_pos(1, 40) ends before the range's last bar")
    hours, _ = await p.settled("copy_rates_from", {"symbol": p.symbol, "timeframe": 16385,
                                                   "date_from": end, "count": 3})
    expect(all(r[0] % 3600 == 0 for r in hours["rows"]), "H1 bars not on the hour")
    return PASS, (f"{p.symbol} M1, 3 hours: {_n(len(rows))} bars"
                  f"{f' (after {retries} x -32008: loading)' if retries else ''}, the same in "
                  f"{pages} pages; {len(back['rows'])} by position, {len(hours['rows'])} H1")


async def large_answer(p: Probe) -> Outcome:
    """The EA builds each answer's JSON itself (MQL has no JSON library): one of 20,000 rows,
    the most it puts in one answer by default, must come in seconds, not block it."""
    started = p.monotonic_ns()
    got, retries = await p.settled("copy_rates_from_pos", {"symbol": p.symbol, "timeframe": 1,
                                                           "start_pos": 0, "count": LARGE_ROWS,
                                                           "limit": LARGE_ROWS})
    took = (p.monotonic_ns() - started) / 1e9
    quote_at = p.monotonic_ns()
    await p.call("symbol_info_tick", [p.symbol])
    expect(took < LARGE_ANSWER_MAX_S, f"{_n(len(got['rows']))} M1 bars took {took:.1f} s")
    return PASS, (f"{_n(len(got['rows']))} M1 bars of {p.symbol} in {took:.2f} s"
                  f"{f' (after {retries} x -32008: loading)' if retries else ''}; the next "
                  f"call in {(p.monotonic_ns() - quote_at) / 1e6:.1f} ms")


async def _held(p: Probe, method: str, params: dict[str, Any]) -> str:
    """Ask for history the terminal may not have, and meanwhile a quote: the EA must answer the
    quote at once (it holds a history call rather than wait for the terminal to load it)."""
    started = p.monotonic_ns()
    task = asyncio.ensure_future(p.call(method, params))
    await asyncio.sleep(0)
    quote_at = p.monotonic_ns()
    await p.call("symbol_info_tick", [p.symbol])
    quote_ms = (p.monotonic_ns() - quote_at) / 1e6
    retries = 0
    try:
        first = await task
    except MtGatewayError as exc:
        if gateway_code(exc) != -32008:
            raise
        first = None
    first_s = (p.monotonic_ns() - started) / 1e9
    expect(quote_ms < HELD_QUOTE_MAX_MS, f"a quote asked meanwhile took {quote_ms:,.0f} ms: "
           "the EA waited for the history instead of answering")
    got = first
    if got is None:
        got, retries = await p.settled(method, params)
        retries += 1
    total_s = (p.monotonic_ns() - started) / 1e9
    how = f"{_n(len(got['rows']))} rows in {first_s:.1f} s" if first is not None else (
        f"-32008 after {first_s:.1f} s, then {_n(len(got['rows']))} rows after {retries} "
        f"retries ({total_s:.1f} s)")
    return f"{how}, a quote meanwhile in {quote_ms:.1f} ms"


async def deep_history(p: Probe) -> Outcome:
    end = p.tick["time"]
    bars = await _held(p, "copy_rates_range", {"symbol": p.symbol, "timeframe": 16388,
                                               "date_from": end - 90 * 86400,
                                               "date_to": end - 60 * 86400})
    evidence = f"H4 of 90-60 days ago: {bars}"
    if not p.mt4:
        ticks = await _held(p, "copy_ticks_range", {"symbol": p.symbol, "flags": -1,
                                                    "date_from": end - 3 * 86400,
                                                    "date_to": end - 3 * 86400 + 60})
        evidence += f"; a minute of ticks 3 days ago: {ticks}"
    return PASS, evidence


async def trading_reads(p: Probe) -> Outcome:
    orders, positions = await p.call("orders_get"), await p.call("positions_get")
    expect(await p.call("orders_total") == len(orders), "orders_total != len(orders_get())")
    expect(await p.call("positions_total") == len(positions),
           "positions_total != len(positions_get())")
    now = (await p.call("server_time"))["time"]
    week = [now - 7 * 86400, now + 60]
    deals = await p.call("history_deals_get", week)
    expect(await p.call("history_deals_total", week) == len(deals),
           "history_deals_total != len(history_deals_get()) over the last week")
    done = await p.call("history_orders_get", week)
    expect(await p.call("history_orders_total", week) == len(done),
           "history_orders_total != len(history_orders_get()) over the last week")
    vmin, ask, point = p.info["volume_min"], p.tick["ask"], p.info["point"]
    margin = await p.call("order_calc_margin", [0, p.symbol, vmin, ask])
    profit = await p.call("order_calc_profit", [0, p.symbol, vmin, ask, ask + 100 * point])
    expect(isinstance(margin, float) and margin >= 0 and isinstance(profit, float)
           and profit > 0, f"order_calc_margin {margin!r}, order_calc_profit {profit!r}")
    return PASS, (f"{len(orders)} orders, {len(positions)} positions open; last week "
                  f"{len(done)} orders and {len(deals)} deals in history; {vmin:g} lot of "
                  f"{p.symbol}: margin {margin:,.2f}, +100 points {profit:,.2f}")


async def market_depth(p: Probe) -> Outcome:
    try:
        added = await p.call("market_book_add", {"symbol": p.symbol})
    except MtGatewayError as exc:
        if p.mt4:
            expect(gateway_code(exc) == UNSUPPORTED, f"market_book_add answered {exc}")
            return PASS, "market_book_* answer -32009 on MT4 (no depth of market), as documented"
        return NA, f"market_book_add({p.symbol!r}) failed: {exc}"
    expect(not p.mt4, "market_book_add answered on MetaTrader 4")
    expect(added is True, f"market_book_add answered {added!r}")
    try:
        try:
            book = await p.call("market_book_get", {"symbol": p.symbol})
        except MtGatewayError as exc:
            return NA, f"{p.symbol} has no depth of market ({exc})"
        if not book:
            return NA, f"{p.symbol} has no depth of market (an empty book)"
        prices = [level["price"] for level in book]
        expect(prices == sorted(prices, reverse=True)
               and all(level["type"] in (1, 2, 3, 4) for level in book),
               "the book's levels are not sorted by price or have unknown types")
    finally:
        released = await p.call("market_book_release", {"symbol": p.symbol})
    expect(released is True, f"market_book_release answered {released!r}")
    return PASS, f"{p.symbol}: {len(book)} levels, prices descending; released"


async def tick_stream(p: Probe) -> Outcome:
    names = p.market_watch[:STREAMED_MAX]
    got: list[StreamTick] = []
    gaps: list[Gap] = []
    ages_ns: list[int] = []
    offset_ms = (await p.call("server_time"))["tz_offset_s"] * 1000
    stream = p.client.ticks(names)
    try:
        async with asyncio.timeout(p.stream_s):
            async for item in stream:
                if isinstance(item, Gap):
                    gaps.append(item)
                    continue
                got.append(item)
                ages_ns.append(int((time.time() * 1000 + offset_ms - item.time_msc) * 1e6))
    except TimeoutError:
        pass
    finally:
        await stream.aclose()  # type: ignore[attr-defined]  # an async generator
    expect(not gaps, f"ticks lost: {gaps[0].detail}" if gaps else "")
    p.tick_ages_ns = [] if p.mt4 else ages_ns
    if not got:
        return NA, f"no tick of {len(names)} Market Watch symbols in {p.stream_s:g} s " \
                   "(are the markets open?)"
    seen = len({t.symbol for t in got})
    return PASS, (f"{_n(len(got))} ticks of {seen} of {len(names)} Market Watch symbols in "
                  f"{p.stream_s:g} s, in order, none missing")


async def events(p: Probe) -> Outcome:
    status = await p.call("gateway_status")
    missed = status["terminal"].get("events_missed", 0)
    expect(missed == 0, f"the EA lost {missed} events this daemon run (gateway_status)")
    return PASS, (f"{_n(status['terminal'].get('ticks_received', 0))} ticks and "
                  f"{_n(status['terminal'].get('events_received', 0))} events received this "
                  "daemon run, none missed")


#: The read-only checks in the report's order.
READ_CHECKS: Final = (("session", session), ("account", account), ("symbols", symbols),
                      ("quotes", quotes), ("tick_history", tick_history), ("rates", rates),
                      ("large_answer", large_answer), ("deep_history", deep_history),
                      ("trading_reads", trading_reads),
                      ("market_depth", market_depth), ("tick_stream", tick_stream),
                      ("events", events))
