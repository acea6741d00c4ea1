"""Each book its own history on the console: a terminal's live account and its daemon's paper
book are kept apart (deals by book and ticket, equity points and snapshots marked with
their book), every record the console answers or shows says its book, the API answers the
current book unless asked for another (``book``: ``live``, ``paper`` or ``all``), and a
balance operation is not performance: the change and the drawdown leave it out, the chart
draws it as a step, and a switch of book breaks the line instead of drawing a cliff.

The console with its clock injected (``consolekit``); a daemon's device is played by reports
signed by hand from the documented format (``docs/console.md``): the first ones without a
``book`` (an older daemon: live), the paper ones with ``"book": "paper"``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from mtgateway_console.tables.equity import Point
from mtgateway_console.web.livechart import drawdown, live_chart
from tests.e2e.bookkit import LOGIN, SERVER, T0, approved_daemon, live_then_paper
from tests.e2e.consolekit import OWNER, Browser, Console, signed_in


async def _api(console: Console, browser: Browser, method: str, path: str,
               body: Any = None) -> tuple[int, Any]:
    async with browser.session.post(console.url + "/api/auth/login", data={
            "username": OWNER, "password": "correct horse battery"}) as r:
        assert r.status == 200, await r.text()
        token = (await r.json())["access_token"]
    async with browser.session.request(method, console.url + "/api" + path, json=body,
                                       headers={"Authorization": f"Bearer {token}"}) as r:
        return r.status, await r.json()


async def test_the_api_answers_the_current_book_and_each_record_says_its_book(
        console: Console, browser: Browser) -> None:
    """After the switch the history is the paper book's (its own opening deposit included),
    each record marked paper; ``book: all`` answers both books with no (book, ticket) twice
    while tickets 1000 and 1001 name one record in each; ``book: live`` the live account's;
    an unknown book is refused."""
    await live_then_paper(console)
    path = f"/trades/history/{LOGIN}"
    status, paper = await _api(console, browser, "POST", path, {})
    assert status == 200, paper
    assert [(t["book"], t["order"], t["state"]) for t in paper["trades"]] == [
        ("paper", 1000, "balance"), ("paper", 1001, "balance"), ("paper", 1002, "closed")]
    assert paper["trades"][0]["profit"] == 9_990.0
    status, both = await _api(console, browser, "POST", path, {"book": "all"})
    assert status == 200, both
    keys = [(t["book"], t["order"]) for t in both["trades"]]
    assert len(keys) == len(set(keys)) == 5
    assert {k for k in keys if k[1] in (1000, 1001)} == {
        ("live", 1000), ("live", 1001), ("paper", 1000), ("paper", 1001)}
    status, live = await _api(console, browser, "POST", path, {"book": "live"})
    assert [(t["book"], t["order"]) for t in live["trades"]] == [("live", 1000),
                                                                 ("live", 1001)]
    status, refused = await _api(console, browser, "POST", path, {"book": "demo"})
    assert status == 422, refused
    status, found = await _api(console, browser, "POST", "/admin/trades/lookup",
                               {"tickets": [1001]})
    assert [(t["book"], t["order"], t["state"]) for t in found["trades"]] == [
        ("paper", 1001, "balance")]
    status, found = await _api(console, browser, "POST", "/admin/trades/lookup",
                               {"tickets": [1001], "book": "all"})
    assert sorted((t["book"], t["order"], t["state"]) for t in found["trades"]) == [
        ("live", 1001, "closed"), ("paper", 1001, "balance")]
    status, margin = await _api(console, browser, "GET", f"/accounts/{LOGIN}/margin")
    assert (margin["book"], margin["balance"]) == ("paper", 12_480.0)


async def test_the_live_page_leaves_the_deposit_out_and_breaks_at_the_switch(
        console: Console, browser: Browser) -> None:
    """On paper: the badge, the paper book's history alone, the change -10.00 (the 2,500
    top-up is a step, not performance), the chart the paper book's three points; switched
    back to live, no badge and no cliff: the change and the drawdown are the live account's
    10, and its line breaks where the paper book was."""
    await signed_in(browser)
    daemon = await live_then_paper(console)
    page = (await browser.get("/live")).text
    assert '<span class="badge paper-book"' in page
    history = re.findall(r'<tr class="trade" data-ticket="(\d+)" data-state="(\w+)" '
                         r'data-book="(\w+)">', page)
    assert history == [("1002", "closed", "paper"), ("1001", "balance", "paper"),
                       ("1000", "balance", "paper")]
    assert 'data-change="-10.0"' in page
    assert 'data-drawdown="10.0"' in page
    assert '<g class="flow"' in page and "+2,500.00" in page
    assert "3 points" in page
    dashboard = (await browser.get("/dashboard/books")).text
    assert '<span class="badge paper-book"' in dashboard

    await daemon.report(T0 + 180, 9_990.0, 9_990.0, [], None)
    page = (await browser.get("/live")).text
    assert 'class="badge paper-book"' not in page
    assert 'data-change="-10.0"' in page and 'data-drawdown="10.0"' in page
    assert len(re.findall(r'<polyline class="line-equity"', page)) == 2
    dashboard = (await browser.get("/dashboard/books")).text
    assert 'class="badge paper-book"' not in dashboard
    assert len(re.findall(r'<polyline class="line-equity"', dashboard)) == 2


def test_a_deposit_is_a_step_not_performance() -> None:
    """10,000 → a 2,500 deposit → a 500 loss: the change is -500 in money and -4 % time-
    weighted (the loss on the 12,500 at work), the largest drawdown the same; without the
    deposit marked, the old reading (+2,000) is what the figures would say."""
    points = [Point(T0, 10_000.0, 10_000.0), Point(T0 + 30, 12_500.0, 12_500.0),
              Point(T0 + 60, 12_500.0, 12_000.0)]
    d = drawdown(points, [(T0 + 30, 2_500.0)])
    assert d is not None
    assert (d.change_money, d.change_pct) == (-500.0, -4.0)
    assert (d.max_money, d.max_pct, d.now_money, d.now_pct) == (500.0, 4.0, 500.0, 4.0)
    plain = drawdown(points)
    assert plain is not None and plain.change_money == 2_000.0


def test_a_withdrawal_is_not_a_drawdown() -> None:
    """10,000 → 4,000 withdrawn → 300 earned: no drawdown, +300 and +5 % (300 on the 6,000
    left at work)."""
    points = [Point(T0, 10_000.0, 10_000.0), Point(T0 + 30, 6_000.0, 6_000.0),
              Point(T0 + 60, 6_000.0, 6_300.0)]
    d = drawdown(points, [(T0 + 30, -4_000.0)])
    assert d is not None
    assert (d.change_money, d.change_pct, d.max_money, d.max_pct) == (300.0, 5.0, 0.0, 0.0)


def test_the_chart_draws_the_current_book_and_the_balance_as_steps() -> None:
    """A series of live then paper points: only the paper ones are drawn; a live point in
    between breaks the paper line; the balance moves in steps (a horizontal then a vertical
    segment), and a balance operation is marked where it happened."""
    series = [Point(T0, 100.0, 100.0, "paper"), Point(T0 + 30, 100.0, 101.0, "paper"),
              Point(T0 + 60, 50.0, 50.0, "live"),
              Point(T0 + 90, 120.0, 120.0, "paper"), Point(T0 + 120, 120.0, 121.0, "paper")]
    chart = live_chart(series, T0 + 150, 86_400, [(T0 + 90, 20.0)])
    assert chart is not None
    assert all(p.book == "paper" for p in chart.points) and len(chart.points) == 4
    # the live point's time is a switch of book, named so: not a gap in the reports
    assert len(chart.plot.equity) == 2 and chart.plot.gaps == 0
    assert (chart.plot.switches, chart.plot.other) == (((T0 + 60, T0 + 60),), "live")
    [first, second] = chart.plot.balance
    assert len(first.split()) == 2 and len(second.split()) == 2
    [(x, y, amount)] = chart.plot.flows
    assert amount == 20.0 and x > 0 and y > 0
    steps = live_chart([Point(T0, 100.0, 100.0), Point(T0 + 30, 100.0, 100.0),
                        Point(T0 + 60, 150.0, 150.0)], T0 + 90, 86_400)
    assert steps is not None
    pairs = [tuple(map(float, p.split(","))) for p in steps.plot.balance[0].split()]
    assert len(pairs) == 4 and pairs[2][0] == pairs[3][0] and pairs[1][1] == pairs[2][1]


@pytest.mark.parametrize("book", ["live", "paper"])
async def test_the_open_trades_say_their_book(console: Console, browser: Browser,
                                              book: str) -> None:
    """The open trades and margins answer the latest snapshot, marked with its book."""
    daemon = await approved_daemon(console)
    await daemon.report(T0, 10_000.0, 10_000.0, [], book if book == "paper" else None)
    status, margins = await _api(console, browser, "GET", "/accounts/margins")
    assert status == 200 and [m["book"] for m in margins["margins"]] == [book]


async def test_every_ticket_on_the_pages_says_its_book(console: Console,
                                                      browser: Browser) -> None:
    """A paper book whose position has the number of a live position at the broker (a paper
    book saved before paper took a range of its own): the dashboard and ``/live`` list the
    two under 1001 each, every row with its book beside the number (U8-M1: two positions
    numbered 1001 on one screen, nothing saying which was which); the open trades' API
    answers each with its book."""
    await signed_in(browser)
    daemon = await approved_daemon(console)
    account = {"login": LOGIN, "currency": "USD", "leverage": 100, "balance": 10_000.0,
               "equity": 10_000.0}
    position = {"ticket": 1001, "time": T0, "type": 0, "volume": 0.1, "price_open": 1.1,
                "price_current": 1.1, "profit": 0.0, "symbol": "EURUSD", "comment": ""}
    gold = {**position, "symbol": "XAUUSD", "price_open": 2000.0, "price_current": 2000.0}
    order = {"ticket": 1005, "time_setup": T0, "type": 2, "volume_current": 0.1,
             "price_open": 1.0, "symbol": "EURUSD", "comment": ""}
    console.clock.now = T0
    status, answer, _ = await console.device("POST", "/v1/terminals/report", {"terminals": [{
        "login": LOGIN, "server": SERVER, "state": "active", "token_id": daemon.token_id,
        "platform": "MT5", "ea_version": "1.3.0", "balance": 10_000.0, "equity": 10_000.0,
        "currency": "USD", "positions": 1, "as_of": T0 - 0.5, "book": "paper",
        "open_positions": [{"ticket": 1001, "symbol": "EURUSD", "type": "buy", "volume": 0.1,
                            "price_open": 1.1, "price_current": 1.1, "profit": 0.0}],
        "details": {"account": account, "positions": [position], "orders": [],
                    "positions_total": 1},
        "live": {"account": account, "positions": [gold], "orders": [order],
                 "positions_total": 1, "orders_total": 1}}]})
    assert status == 200, answer
    ticket_cell = (r'<td data-label="Ticket" class="ticket"><span class="ticket-number">1001'
                   r'</span> <span class="badge book-mark book-(\w+)" title="[^"]*">(\w+)'
                   r'</span></td>')
    for path in ("/dashboard/books", "/live"):
        page = (await browser.get(path)).text
        rows = re.findall(r'<tr class="position( live)?" data-ticket="1001" '
                          r'data-book="(\w+)">\s*' + ticket_cell, page)
        assert sorted((book, mark, word) for _, book, mark, word in rows) == [
            ("live", "live", "live"), ("paper", "paper", "paper")], (path, rows)
        assert re.search(r'<tr class="order live" data-ticket="1005" data-book="live">\s*'
                         r'<td data-label="Ticket" class="ticket"><span class="ticket-number">'
                         r'1005</span> <span class="badge book-mark book-live"', page), path
    status, trades = await _api(console, browser, "GET", f"/trades/open/{LOGIN}")
    assert status == 200, trades
    assert sorted((t["book"], t["order"], t["symbol"]) for t in trades["trades"]) == [
        ("live", 1001, "XAUUSD"), ("live", 1005, "EURUSD"), ("paper", 1001, "EURUSD")]
