"""Issue 46 item 7: the live page (``/live``) -- P/L pushed as reports arrive (server-sent
events), pending orders, trade history, and the equity chart over a range with its drawdown,
gaps and a scale that does not turn a 33-cent move into a cliff; in headless Chromium at
desktop (1280 px) and phone (390 px) width.

The console with its clock injected (``consolekit``); a daemon's device is played by reports
signed by hand from the documented format (``docs/console.md``), carrying ``details``.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from mtgateway_console.tables.equity import Point
from mtgateway_console.web.chart import BOTTOM, HEIGHT, LEFT, RIGHT, TOP, WIDTH, time_axis
from mtgateway_console.web.livechart import GAP_S, drawdown, live_chart
from tests.e2e.chromium import Owner, chromium_at, paced
from tests.e2e.consolekit import (
    OWNER,
    PASSWORD,
    Browser,
    Console,
    approved_token,
    running_console,
    signed_in,
)

T0 = 1_763_650_000
PLOT_H = HEIGHT - TOP - BOTTOM


def test_a_small_move_is_drawn_small_and_a_large_one_fills_the_plot() -> None:
    """The axis spans at least 1 % of the account's level: 33 cents on 10,000 moves the line
    by under a pixel; a 5 % move spans the plot."""
    flat = [Point(T0 + 30 * i, 10_000.0, 10_000.0 + (0.33 if i == 5 else 0.0))
            for i in range(10)]
    small = live_chart(flat, T0 + 300, 86_400)
    assert small is not None and small.plot.high - small.plot.low >= 100.0
    ys = [float(pair.split(",")[1]) for pair in small.plot.equity[0].split()]
    assert max(ys) - min(ys) < 1.0
    big = [Point(T0 + 30 * i, 10_000.0, 10_000.0 - 100.0 * i) for i in range(6)]
    chart = live_chart(big, T0 + 150, 86_400)
    assert chart is not None
    ys = [float(pair.split(",")[1]) for pair in chart.plot.equity[0].split()]
    assert max(ys) - min(ys) == pytest.approx(PLOT_H, abs=0.2)


def test_an_outage_breaks_the_line_and_the_range_keeps_only_its_points() -> None:
    """No report for longer than the dashboard's "not heard from" is a gap in the line; a
    point older than the range is not drawn."""
    series = [Point(T0, 100.0, 100.0), Point(T0 + 30, 100.0, 101.0),
              Point(T0 + 30 + GAP_S + 1, 100.0, 99.0), Point(T0 + 60 + GAP_S + 1, 100.0, 98.0)]
    chart = live_chart(series, T0 + 600, 86_400)
    assert chart is not None and chart.plot.gaps == 1 and chart.plot.switches == ()
    assert [len(line.split()) for line in chart.plot.equity] == [2, 2]
    recent = live_chart(series, T0 + 86_400 + 40, 86_400)
    assert recent is not None and len(recent.points) == 2
    assert live_chart(series, T0 + 10 * 86_400, 86_400) is None


def test_drawdown_is_the_largest_fall_from_a_peak() -> None:
    """100 → 120 → 90 → 110: the largest drawdown 30 (25 % of 120), 10 below the peak now,
    +10 (+10 %) over the range."""
    d = drawdown([Point(T0 + i, 100.0, e) for i, e in enumerate((100.0, 120.0, 90.0, 110.0))])
    assert d is not None
    assert (d.max_money, d.max_pct, d.now_money, d.now_pct) == (30.0, 25.0, 10.0, 8.33)
    assert (d.change_money, d.change_pct) == (10.0, 10.0)


def test_the_time_axis_reads_seconds_under_a_minute_and_one_label_for_one_instant() -> None:
    """u14 (ux round 8): a chart of under a minute read "11-29 05:17" three times. Now: to
    the second when the labels are under a minute apart, a label that says what its
    neighbour says left out, one label for a single instant; a day reads to the minute."""
    def texts(start: int, end: int, count: int) -> list[tuple[str, str]]:
        return [(text, anchor) for _, text, anchor in time_axis(start, end, count)]

    # T0 is 2025-11-20 14:46:40 UTC
    assert texts(T0, T0 + 20, 3) == [("11-20 14:46:40", "start"), ("11-20 14:46:50", "middle"),
                                     ("11-20 14:47:00", "end")]
    assert texts(T0, T0, 3) == [("11-20 14:46", "middle")]
    assert texts(T0, T0 + 1, 3) == [("11-20 14:46:40", "start"), ("11-20 14:46:41", "end")]
    assert texts(T0 - 86_400, T0, 3) == [("11-19 14:46", "start"), ("11-20 02:46", "middle"),
                                         ("11-20 14:46", "end")]
    assert texts(T0, T0 + 20, 2) == [("11-20 14:46:40", "start"), ("11-20 14:47:00", "end")]
    assert texts(T0, T0 + 120, 3) == [("11-20 14:46", "start"), ("11-20 14:47", "middle"),
                                      ("11-20 14:48", "end")]
    [(x, _, _)] = time_axis(T0, T0, 2)
    assert x == (LEFT + WIDTH - RIGHT) / 2


async def test_charts_of_under_a_minute_label_their_times_apart(console: Console,
                                                               browser: Browser) -> None:
    """u14 on the pages: two reports 35 s apart within one minute (the console keeps a
    point per 30 s), on the dashboard and on ``/live``: every time label differs from the
    others, to the second; ``/live``'s axis then runs on to now."""
    await signed_in(browser)
    token_id = await approved_token(console)
    for at in (T0 - 40, T0 - 5):  # read at 14:45:59 and 14:46:34
        console.clock.now = at
        status, _, _ = await console.device("POST", "/v1/terminals/report", {
            "terminals": [report_body(token_id, 12.5, at - 0.5)]})
        assert status == 200
    for path, count in (("/dashboard/books", 2), ("/live", 3)):
        page = (await browser.get(path)).text
        times = re.findall(r'<text class="tick time"[^>]*>([^<]+)</text>', page)
        assert len(times) == count and len(set(times)) == count, (path, times)
        assert all(re.fullmatch(r"11-20 14:4[56]:\d\d", t) for t in times), (path, times)
    console.clock.now = T0 + 20  # /live's axis runs from its first point to now
    page = (await browser.get("/live")).text
    assert re.findall(r'<text class="tick time"[^>]*>([^<]+)</text>', page) == [
        "11-20 14:45:59", "11-20 14:46:29", "11-20 14:47:00"]


DEAL_IN = {"ticket": 501, "order": 401, "time": T0 - 600, "type": 0, "entry": 0, "magic": 0,
           "position_id": 301, "volume": 0.1, "price": 97_000.0, "commission": 0.0,
           "swap": 0.0, "profit": 0.0, "symbol": "BTCUSD", "comment": ""}
DEAL_OUT = {**DEAL_IN, "ticket": 502, "order": 402, "time": T0 - 300, "type": 1, "entry": 1,
            "price": 97_150.0, "profit": 15.0}
DEPOSIT = {**DEAL_IN, "ticket": 503, "order": 0, "time": T0 - 200, "type": 2,
           "position_id": 0, "volume": 0.0, "price": 0.0, "profit": 500.0, "symbol": "",
           "comment": "Top-up"}


async def _reporting(console: Console) -> dict[str, Any]:
    """A token, this test's device approved, and an active report with details: one open
    position, one pending order, a closed trade and a deposit. The report's body."""
    token_id = await approved_token(console)
    body: dict[str, Any] = {}
    for step in range(3):  # a line of three points, 30 s apart
        console.clock.now = T0 + 30 * step
        body = report_body(token_id, 12.5 + step, console.clock.now - 0.5)
        status, _, _ = await console.device("POST", "/v1/terminals/report",
                                            {"terminals": [body]})
        assert status == 200
    return body


def report_body(token_id: str, profit: float, as_of: float) -> dict[str, Any]:
    position = {"ticket": 301, "time": T0 - 600, "type": 0, "magic": 7, "volume": 0.1,
                "price_open": 97_000.0, "sl": 96_000.0, "tp": 0.0,
                "price_current": 97_125.0, "swap": -0.4, "profit": profit,
                "symbol": "BTCUSD", "comment": "bot"}
    order = {"ticket": 302, "time_setup": T0 - 100, "type": 2, "magic": 7,
             "volume_current": 0.2, "price_open": 95_000.0, "sl": 0.0, "tp": 0.0,
             "price_current": 97_125.0, "time_expiration": 0, "symbol": "BTCUSD",
             "comment": ""}
    equity = 10_500.0 + profit
    return {"login": 5012345, "server": "MTG-Demo", "state": "active", "token_id": token_id,
            "platform": "MT5", "ea_version": "1.3.0", "balance": 10_500.0, "equity": equity,
            "currency": "USD", "positions": 1, "as_of": as_of, "open_positions": [{
                "ticket": 301, "symbol": "BTCUSD", "type": "buy", "volume": 0.1,
                "price_open": 97_000.0, "price_current": 97_125.0, "sl": 96_000.0,
                "tp": 0.0, "profit": profit, "swap": -0.4}],
            "details": {"account": {"login": 5012345, "currency": "USD", "leverage": 100,
                                    "balance": 10_500.0, "credit": 0.0, "equity": equity,
                                    "margin": 97.0, "margin_free": equity - 97.0,
                                    "margin_level": equity / 97.0 * 100},
                        "positions": [position], "orders": [order],
                        "deals": [DEAL_IN, DEAL_OUT, DEPOSIT],
                        "positions_total": 1, "orders_total": 1}}


async def test_the_live_page_shows_positions_orders_history_and_drawdown(
        console: Console, browser: Browser) -> None:
    await signed_in(browser)
    await _reporting(console)
    page = await browser.get("/live")
    assert page.status == 200
    assert '<tr class="position" data-ticket="301" data-book="live">' in page.text
    assert '<td data-label="Profit" class="pl pl-pos" data-pl="+14.50">+14.50</td>' in page.text
    assert '<tr class="order" data-ticket="302" data-book="live">' in page.text
    assert '<td data-label="Type">buy limit</td>' in page.text
    history = re.findall(r'<tr class="trade" data-ticket="(\d+)" data-state="(\w+)" '
                         r'data-book="live">', page.text)
    assert history == [("503", "balance"), ("301", "closed")]  # newest first
    assert 'data-drawdown="0.0"' in page.text  # equity only rose
    assert "change <b class=\"pl pl-pos\" data-change=\"2.0\">+2.00" in page.text
    assert 'href="/live?range=7d"' in page.text
    fragment = (await browser.get("/live/panels?range=7d")).text
    assert fragment.strip() in (await browser.get("/live?range=7d")).text
    # signed out: the fragment and the stream say so, the page sends to sign-in
    signed_out = Browser(console.url)
    try:
        assert (await signed_out.get("/live/panels")).status == 401
        assert (await signed_out.get("/live/stream")).status == 401
        assert (await signed_out.get("/live")).status == 303
    finally:
        await signed_out.close()


async def test_no_margin_in_use_is_a_dash_and_so_is_a_balance_rows_volume(
        console: Console, browser: Browser) -> None:
    """With no margin in use MT5 answers a margin level of 0, which means none: the page says
    "—", not "0.0 %"; a balance operation moved money, not lots: its Volume is "—" as its
    prices are, not "0.00"."""
    await signed_in(browser)
    token_id = await approved_token(console)
    console.clock.now = T0
    body = report_body(token_id, 0.0, T0 - 0.5)
    body["details"]["account"].update(margin=0.0, margin_free=10_500.0, margin_level=0.0)
    status, _, _ = await console.device("POST", "/v1/terminals/report", {"terminals": [body]})
    assert status == 200
    page = (await browser.get("/live")).text
    assert '<b class="margin-level">—</b>' in page and "0.0 %" not in page
    balance = re.search(r'<tr class="trade" data-ticket="503" data-state="balance".*?</tr>',
                        page, re.S)
    assert balance is not None
    assert '<td data-label="Volume">—</td>' in balance.group(0), balance.group(0)
    closed = re.search(r'<tr class="trade" data-ticket="301" data-state="closed".*?</tr>',
                       page, re.S)
    assert closed is not None and '<td data-label="Volume">0.10</td>' in closed.group(0)


async def test_each_stored_report_is_pushed_to_the_stream(console: Console,
                                                          browser: Browser) -> None:
    """The server-sent event stream answers ``report`` when a report of the owner's
    terminals is stored (not at the beat)."""
    await signed_in(browser)
    body = await _reporting(console)
    async with browser.session.get(console.url + "/live/stream") as stream:
        assert stream.status == 200
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        assert await stream.content.readline() == b"retry: 3000\n"
        await stream.content.readline()
        body["details"]["positions"][0]["profit"] = 99.0
        status, _, _ = await console.device("POST", "/v1/terminals/report",
                                            {"terminals": [body]})
        assert status == 200
        async with asyncio.timeout(10):
            assert await stream.content.readline() == b"event: report\n"
    page = await browser.get("/live/panels")
    assert 'data-pl="+99.00"' in page.text


@pytest.mark.parametrize("width", [1280, 390])
async def test_the_live_page_in_a_real_browser(console: Console, shots: Path,
                                              width: int) -> None:
    """At desktop and phone width: nothing wider than the window, the chart and the tables
    on screen, a new report's P/L brought by the push without a reload, every request to
    the console's own origin."""
    body = await _reporting(console)
    out = shots / f"live-{width}"
    out.mkdir(parents=True, exist_ok=True)
    with chromium_at(width) as driver:
        b = Owner(driver, console.url, out)
        await b.sign_in(OWNER, PASSWORD)
        await b.wait_for("#terminal-rows")
        await b.open("/live")
        await b.wait_for("#live-panels svg.equity-chart")
        await b.fits("live page")
        await b.shot("01-live")
        assert await b.do(lambda: b.text('tr.position[data-ticket="301"] td.pl')) == "+14.50"
        assert "buy limit" in await b.do(lambda: b.text('tr.order[data-ticket="302"]'))
        marker = await b.do(lambda: driver.execute_script(
            "window.__same_page = true; return true;"))
        assert marker is True
        console.clock.now += 30
        body["details"]["positions"][0]["profit"] = -3.25
        status, _, _ = await console.device("POST", "/v1/terminals/report",
                                            {"terminals": [body]})
        assert status == 200
        await b.wait_for('tr.position[data-ticket="301"] td.pl[data-pl="-3.25"]')
        assert await b.do(lambda: driver.execute_script("return window.__same_page === true;"))
        await b.fits("pushed")
        await b.do(lambda: driver.execute_script(
            "document.querySelector('table.trade-history').scrollIntoView();"))
        await b.shot("02-history")
        urls = await b.do(lambda: driver.execute_script(
            "return performance.getEntries().filter(e => e.name && e.name.includes('://'))"
            ".map(e => e.name);"))
        assert any("/live/panels" in u for u in urls), urls
        assert [u for u in urls if not str(u).startswith(console.url + "/")] == []


async def test_a_page_whose_stream_is_refused_fetches_its_panels_by_itself(
        tmp_path: Path, shots: Path) -> None:
    """With this address's streams all held (``max_streams_per_peer = 1``, held by another
    session), the page's stream is refused 429 and its script fetches the panels every few
    seconds instead (the browser never reopens a refused stream). The page's timers run ten
    times as fast (:func:`paced`, its clock injected): two of its 5 s ticks in 1 s, not 10."""
    out = shots / "live-refused"
    out.mkdir(parents=True, exist_ok=True)
    async with running_console(tmp_path, max_streams_per_peer=1) as console:
        holder = Browser(console.url)
        try:
            await signed_in(holder)
            async with holder.session.get(console.url + "/live/stream") as held:
                assert held.status == 200
                assert await held.content.readline() == b"retry: 3000\n"
                with chromium_at(1280) as driver, paced(driver, 10):
                    b = Owner(driver, console.url, out)
                    await b.sign_in(OWNER, PASSWORD)
                    await b.wait_for("#terminal-rows")
                    await b.open("/live")
                    await b.wait_for('#live-panels[data-refreshed="2"]')
                held.close()
        finally:
            await holder.close()
