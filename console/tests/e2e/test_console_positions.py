"""Issue 35 item 3: per terminal its open positions with P/L and an equity and balance chart,
every figure with its "as of" time (review round 4: "no positions or P/L, only a count; no
equity history; figures without an 'as of' time").

Over the console's wire (reports signed by hand from the documented format, ``consolekit``)
and its pages (``/`` and ``/dashboard/books``) with the console's clock injected. The daemon's
side runs the real daemon and emulator (``world.py``) at the end; the page in Chromium is in
``test_console_browser.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings, TerminalRefused
from gateway.keys import REPORTER
from mtgateway.credential import token_hint
from mtgateway_console.console import AUTHORITY
from mtgateway_console.tables.equity import Point
from mtgateway_console.web.chart import BOTTOM, HEIGHT, LEFT, RIGHT, TOP, WIDTH, chart
from tests.e2e.consolekit import OWNER, Browser, Console, create_token, signed_in
from tests.e2e.world import PASSWORD, world
from tests.reporterkit import until_reported

T0 = 1_800_000_000


async def _active(console: Console, browser: Browser) -> dict[str, Any]:
    """A token made on the page, this test's device approved for it: an active report body
    (an older daemon's: no positions, no "as of")."""
    await signed_in(browser)
    _, token, _ = await create_token(browser)
    status, _, _ = await console.device("POST", "/v1/records/lookup", {
        "token_hint": token_hint(token), "device_name": "desk-pc", "os": "Windows 11"})
    assert status == 200
    await console.sink.wait_for(1)
    assert (await console.device("POST", "/v1/device/verify",
                                 {"code": console.sink.code()}))[0] == 200
    [row] = await console.app[AUTHORITY].tokens.of(OWNER)
    return {"login": 5012345, "server": "MTG-Demo", "state": "active",
            "token_id": row["token_id"], "platform": "MT5", "ea_version": "1.2.0",
            "balance": 10_000.0, "equity": 10_013.7, "currency": "USD", "positions": 2}


def _position(ticket: int, profit: float, **extra: Any) -> dict[str, Any]:
    return {"ticket": ticket, "symbol": "BTCUSD", "type": "buy", "volume": 0.1,
            "price_open": 97_000.0, "price_current": 97_100.25, "sl": 96_500.0, "tp": 0.0,
            "profit": profit, "swap": -0.35, **extra}


async def _report(console: Console, body: dict[str, Any]) -> int:
    status, _, _ = await console.device("POST", "/v1/terminals/report", {"terminals": [body]})
    return status


async def test_an_older_daemons_report_without_positions_is_kept_as_of_its_receipt(
        console: Console, browser: Browser) -> None:
    old = await _active(console, browser)
    assert await _report(console, old) == 200
    books = (await browser.get("/dashboard/books")).text
    clock = re.search(r"as of (\d\d:\d\d:\d\d) UTC", books)
    assert clock is not None
    assert clock.group(1) == _hms(console.clock.now)
    assert '<b class="balance">10,000.00</b>' in books
    assert '<b class="pl pl-pos" data-pl="+13.70">+13.70</b>' in books
    assert "does not report the positions themselves" in books
    assert "stale" not in books
    # the table above keeps the figures as before
    rows = (await browser.get("/dashboard/rows")).text
    assert '<span class="equity">10,013.70</span> USD' in rows
    # figures stored before the upgrade (no book row yet): shown, without an "as of"
    authority = console.app[AUTHORITY]
    await authority.run(lambda tx: tx.execute("DELETE FROM terminal_books"))
    page = await browser.get("/dashboard/books")
    assert page.status == 200 and '<b class="balance">10,000.00</b>' in page.text
    assert "as of" not in page.text.split("<svg")[0]
    assert await _report(console, old) == 200
    # 40 s without a report (the interval is 30 s): marked stale in words
    console.clock.now += 40
    books = (await browser.get("/dashboard/books")).text
    assert '<span class="badge stale-mark">stale: read 40 s ago</span>' in books


async def test_positions_are_shown_with_their_signed_p_l_as_of_the_daemons_read(
        console: Console, browser: Browser) -> None:
    body = await _active(console, browser)
    read_at = console.clock.now - 1.5
    positions = [_position(11, 10.05), _position(12, -4.2, type="sell", symbol="ETHUSD")]
    for bad in ({"open_positions": [_position(1, 1.0, type="2")]},
                {"open_positions": [_position(1, float("nan"))]},
                {"open_positions": [_position(i, 1.0) for i in range(51)]},
                {"open_positions": [{**_position(1, 1.0), "comment": "x"}]},
                {"as_of": -5}):
        assert await _report(console, {**body, **bad}) == 400, bad
    assert await _report(console, {**body, "as_of": read_at,
                                   "open_positions": positions}) == 200
    page = await browser.get("/")
    assert page.status == 200
    books = (await browser.get("/dashboard/books")).text
    assert books.strip() in page.text  # the page carries what the refresh replaces
    assert f"as of {_hms(read_at)} UTC" in books
    tickets = re.findall(r'<tr class="position" data-ticket="(\d+)" data-book="live">', books)
    assert tickets == ["11", "12"]  # by symbol (BTCUSD, ETHUSD), then ticket; each says live
    assert '<td data-label="Profit" class="pl pl-pos" data-pl="+10.05">+10.05</td>' in books
    assert '<td data-label="Profit" class="pl pl-neg" data-pl="-4.20">-4.20</td>' in books
    assert '<td data-label="Type">sell</td>' in books
    assert '<td data-label="Current">97100.25</td>' in books
    assert '<td data-label="T/P">—</td>' in books  # no take profit
    assert "largest of" not in books
    # more positions than the report carries: the caption says which are shown
    assert await _report(console, {**body, "positions": 75, "as_of": read_at,
                                   "open_positions": positions}) == 200
    books = (await browser.get("/dashboard/books")).text
    assert "Open positions: the 2 largest of 75 by profit or loss" in books
    # the terminal goes down: no positions are shown as if current, its chart stays
    assert await _report(console, {**body, "state": "disconnected",
                                   "reason": "ea_closed"}) == 200
    books = (await browser.get("/dashboard/books")).text
    assert 'class="position"' not in books and "Not active now" in books
    assert "<svg" in books


async def test_as_of_is_moved_to_the_consoles_clock_by_the_proofs_own_time(
        console: Console, browser: Browser) -> None:
    """A daemon whose clock is 2 min behind (the proof allows 300 s): figures it read 1.5 s
    before it signed are 1.5 s old on the console's clock, not 121.5 s and "stale"."""
    body = await _active(console, browser)
    behind = -120.0
    daemon_now = console.clock.now + behind
    status, _, _ = await console.device("POST", "/v1/terminals/report", {"terminals": [{
        **body, "as_of": daemon_now - 1.5, "open_positions": []}]}, skew_s=behind)
    assert status == 200
    books = (await browser.get("/dashboard/books")).text
    assert f"as of {_hms(console.clock.now - 1.5)} UTC" in books
    assert "stale" not in books
    [(_, book)] = (await console.app[AUTHORITY].terminals.books_of(OWNER)).items()
    assert abs(book.as_of - (console.clock.now - 1.5)) < 0.1  # the proof's time is in ms


async def test_the_charts_points_are_the_stored_series(
        console: Console, browser: Browser) -> None:
    body = await _active(console, browser)
    start = console.clock.now
    figures = [(10_000.0, 10_000.0), (10_000.0, 10_020.5), (10_050.0, 10_041.0),
               (10_050.0, 9_990.25), (10_050.0, 10_050.0)]
    for i, (balance_at, equity_at) in enumerate(figures):
        console.clock.now = start + 30 * i
        assert await _report(console, {**body, "balance": balance_at, "equity": equity_at,
                                        "as_of": console.clock.now - 0.5,
                                        "open_positions": []}) == 200
    [series] = (await console.app[AUTHORITY].terminals.history_of(OWNER)).values()
    assert [(p.balance, p.equity) for p in series] == figures
    books = (await browser.get("/dashboard/books")).text
    svg = books[books.index("<svg"):books.index("</svg>")]
    equity = _points(svg, "line-equity")
    balance = _points(svg, "line-balance")
    # recomputed from the stored series with the documented geometry (web/chart.py): the
    # axis is the values' range widened to 1 % of their level around its middle
    values = [v for p in series for v in (p.balance, p.equity)]
    level = sum(values) / len(values)
    span = max(max(values) - min(values), level / 100)
    middle = (max(values) + min(values)) / 2
    low, high = middle - span / 2, middle + span / 2
    first, last = series[0].at, series[-1].at

    def at(t: int, v: float) -> tuple[float, float]:
        x = LEFT + (t - first) / (last - first) * (WIDTH - LEFT - RIGHT)
        y = TOP + (high - v) / (high - low) * (HEIGHT - TOP - BOTTOM)
        return round(x, 1), round(y, 1)

    assert equity == [at(p.at, p.equity) for p in series]
    # the balance as steps: across at the old balance, then up to the new (10,000 to 10,050
    # at the third report), not a slope that was never the balance
    assert balance == [at(p.at, p.balance) for p in series[:2]] + [
        at(series[2].at, series[1].balance)] + [at(p.at, p.balance) for p in series[2:]]
    assert equity[3][1] == max(y for _, y in equity + balance)  # the lowest equity is lowest
    assert TOP < equity[3][1] < HEIGHT - BOTTOM  # a 0.6 % move does not fill the plot
    # accessible: named and described, and the same points as a table
    assert 'role="img"' in svg and "<title" in svg and "5 points from" in svg
    table = re.findall(r'<tr data-at="(\d+)"><td data-label="Time">[^<]+</td>'
                       r'<td data-label="Balance">([\d,.]+)</td>'
                       r'<td data-label="Equity">([\d,.]+)</td>', books)
    assert [(int(t), float(b.replace(",", "")), float(e.replace(",", "")))
            for t, b, e in reversed(table)] == [(p.at, p.balance, p.equity) for p in series]


def _points(svg: str, kind: str) -> list[tuple[float, float]]:
    match = re.search(rf'<polyline class="{kind}" fill="none" points="([^"]*)"', svg)
    assert match is not None, kind
    return [(float(x), float(y)) for x, y in
            (pair.split(",") for pair in html.unescape(match.group(1)).split())]


def _hms(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S")


# -- through the real daemon and emulator ---------------------------------------------------

async def test_a_position_opened_in_the_terminal_reaches_the_dashboard_with_its_p_l(
        tmp_path: Path) -> None:
    """The daemon reads the emulator's positions (``positions_get``) and reports them with
    the figures; the dashboard shows the ticket with its signed P/L, as of the daemon's read.
    BTCUSD trades around the clock in the emulator, so this holds on any weekday."""
    async with world(tmp_path) as w:
        browser = Browser(w.console_url)
        assert (await browser.sign_in(OWNER, PASSWORD)).status == 303
        terminal: EmulatedTerminal | None = None
        task: asyncio.Task[None] | None = None
        try:
            token, _ = await w.issue()
            await w.approve_device(token)
            terminal = EmulatedTerminal(token, port=w.bridge_port,
                                        settings=EmulatorSettings(symbols=("BTCUSD",)))
            # placed by hand in the terminal before the EA connects: the first report of the
            # active terminal carries it (the periodic re-report is 30 s away)
            sent = terminal.broker.order_send({"action": 1, "symbol": "BTCUSD", "volume": 0.05,
                                               "type": 1, "type_filling": 1, "sl": 0.0})
            assert sent["retcode"] == 10009, sent
            task = asyncio.create_task(terminal.run())

            async def book() -> str:
                return (await browser.get("/dashboard/books")).text

            books = await until_reported(w.daemon[REPORTER], book,
                                         lambda text: 'class="position"' in text)
            [held] = terminal.broker.positions_get()
            assert held["ticket"] == sent["order"]
            row = re.search(rf'<tr class="position" data-ticket="{held["ticket"]}" '
                            r'data-book="live">(.*?)</tr>', books, re.S)
            assert row is not None, books
            cells = dict(re.findall(r'<td data-label="([^"]+)"[^>]*>([^<]*)</td>', row.group(1)))
            assert (cells["Symbol"], cells["Type"], cells["Volume"]) == ("BTCUSD", "sell", "0.05")
            assert float(cells["Open"]) == held["price_open"]
            assert re.fullmatch(r"[+-][\d,]+\.\d\d|0\.00", cells["Profit"]), cells["Profit"]
            assert re.search(r"as of \d\d:\d\d:\d\d UTC", books)
            [point] = (await w.authority.terminals.history_of(OWNER)).values()
            assert len(point) >= 1 and "<svg" in books
        finally:
            await browser.close()
            if terminal is not None:
                await terminal.close()
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, TerminalRefused):
                    await task


async def test_a_switch_of_book_is_named_and_money_moved_keeps_the_trading_in_scale(
        console: Console, browser: Browser) -> None:
    """Live reports, paper ones, live again: the dashboard's chart names the paper time as
    such ("on paper from ... to ..."), not as a gap in the reports. Then a 2,500 deposit
    and a 50 drawdown: the deposit is a step mark with its amount, the equity does not climb
    across the interval it fell in, and the axis spans the trading, not the deposit."""
    body = await _active(console, browser)
    start = console.clock.now
    books = ["live", "live", "paper", "paper", "live", "live"]
    for i, book in enumerate(books):
        console.clock.now = start + 30 * i
        assert await _report(console, {**body, "book": book, "as_of": console.clock.now - 0.5,
                                        "open_positions": []}) == 200
    page = (await browser.get("/dashboard/books")).text
    assert "gap" not in page, page[page.find("gap") - 200:page.find("gap") + 100]
    # thirty seconds on paper: to the second (to the minute, both ends read the same)
    assert re.search(r'<span class="switches">on paper from \d\d-\d\d \d\d:\d\d:\d\d to '
                     r'\d\d-\d\d \d\d:\d\d:\d\d', page), page

    deposit = {"ticket": 901, "order": 0, "time": int(console.clock.now), "type": 2,
               "entry": 0, "magic": 0, "position_id": 0, "volume": 0.0, "price": 0.0,
               "commission": 0.0, "swap": 0.0, "profit": 2_500.0, "symbol": "",
               "comment": "top-up"}
    account = {"login": 5012345, "currency": "USD", "leverage": 100, "balance": 12_500.0,
               "credit": 0.0, "equity": 12_500.0, "margin": 0.0, "margin_free": 12_500.0,
               "margin_level": 0.0}
    figures = [(12_500.0, 12_500.0, [deposit]), (12_500.0, 12_470.0, []),
               (12_500.0, 12_450.0, []), (12_500.0, 12_480.0, [])]
    for i, (balance, equity, deals) in enumerate(figures, start=len(books)):
        console.clock.now = start + 30 * i
        assert await _report(console, {
            **body, "balance": balance, "equity": equity, "as_of": console.clock.now - 0.5,
            "open_positions": [], "details": {
                "account": {**account, "equity": equity}, "deals": deals}}) == 200
    page = (await browser.get("/dashboard/books")).text
    svg = page[page.index("<svg"):page.index("</svg>")]
    assert '<text class="tick flow-amount"' in svg and "+2,500.00</text>" in svg
    assert '<line class="flow-step"' in svg
    ticks = [float(v.replace(",", "")) for v in
             re.findall(r'<text class="tick value[^"]*"[^>]*>([\d,.]+)</text>', svg)]
    # the axis spans the last hour's trading at today's money, not 10,000 to 12,500
    assert max(ticks) - min(ticks) < 500, ticks
    assert min(ticks) > 12_000, ticks
    lines = re.findall(r'<polyline class="line-equity" fill="none" points="([^"]*)"', svg)
    last = [float(xy.split(",")[1]) for xy in html.unescape(lines[-1]).split()]
    assert len(last) == 6  # live again: two reports, then the deposit's and three more
    # no climb: across the interval that held the deposit the line moves as the trading
    # did (13.70 down), where a straight line to the new equity rose 2,486.30
    assert last[2] > last[1]


def test_the_value_labels_sit_where_no_line_runs() -> None:
    """A line at the top of the plot on the left and crossing the middle line there: the
    top and middle labels move to where no segment crosses their box (measured at the
    phone's font); the lowest stays under the plot."""
    top_left = [Point(T0 + 30 * i, 100.0 if i < 3 else 50.0, 100.0 if i < 3 else 50.0 + i)
                for i in range(8)]
    drawn = chart(top_left)
    assert drawn is not None
    p = drawn.plot
    lines = [[tuple(map(float, xy.split(","))) for xy in line.split()]
             for line in (*p.equity, *p.balance)]
    [high, middle, low] = p.labels
    assert low.below and low.y > HEIGHT - BOTTOM
    for label in (high, middle):
        width = len(f"{label.value:,.2f}") * 22 * 0.62
        left = label.x if label.anchor == "start" else label.x - width
        top = label.y if label.below else label.y - 22
        box = (left - 1, top, left + width + 1, top + 22)
        for line in lines:
            for (ax, ay), (bx, by) in zip(line, line[1:], strict=False):
                assert not _segment_meets(box, (ax, ay), (bx, by)), (label, (ax, ay, bx, by))


def _segment_meets(box: tuple[float, float, float, float], a: tuple[float, float],
                   b: tuple[float, float]) -> bool:
    """Whether the segment a-b meets the box, sampled finely (an independent check of the
    chart's own test)."""
    x0, y0, x1, y1 = box
    for i in range(201):
        t = i / 200
        x, y = a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t
        if x0 <= x <= x1 and y0 <= y <= y1:
            return True
    return False
