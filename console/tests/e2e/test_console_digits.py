"""The console writes prices at their symbol's digits, as the terminal shows them: XAUUSD (2
digits) ``3154.80``, USDJPY (3 digits) ``147.520``, on the dashboard's positions and on the live
page's positions, pending orders and history; a report without the digits (a daemon older than
the field) is shown as reported.

The real console with its clock injected (``consolekit``); a daemon's device is played by
signed reports over the device API, written from the documented format (``docs/console.md``).
"""

from __future__ import annotations

import re
from typing import Any

from tests.e2e.consolekit import Browser, Console, approved_token, signed_in

T0 = 1_763_650_000


def _position(ticket: int, symbol: str, price_open: float, price_current: float,
              sl: float) -> dict[str, Any]:
    return {"ticket": ticket, "time": T0 - 600, "type": 0, "magic": 0, "volume": 0.1,
            "price_open": price_open, "sl": sl, "tp": 0.0, "price_current": price_current,
            "swap": 0.0, "profit": 3.0, "symbol": symbol, "comment": ""}


def _deal(ticket: int, entry: int, price: float) -> dict[str, Any]:
    return {"ticket": ticket, "order": ticket, "time": T0 - 500 + entry, "type": entry,
            "entry": entry, "magic": 0, "position_id": 90, "volume": 1.0, "price": price,
            "commission": 0.0, "swap": 0.0, "profit": 1.0 * entry, "symbol": "USDJPY",
            "comment": ""}


def _report(token_id: str, digits: dict[str, int] | None) -> dict[str, Any]:
    """An active report: an XAUUSD and a USDJPY position, a USDJPY limit order and a closed
    USDJPY trade, with ``digits`` when given."""
    gold = _position(11, "XAUUSD", 3154.8, 3157.3, 3100.5)
    yen = _position(12, "USDJPY", 147.52, 147.6, 0.0)
    order = {"ticket": 13, "time_setup": T0 - 100, "type": 2, "magic": 0,
             "volume_current": 0.2, "price_open": 146.9, "sl": 0.0, "tp": 0.0,
             "price_current": 147.6, "time_expiration": 0, "symbol": "USDJPY", "comment": ""}
    body: dict[str, Any] = {
        "login": 5012345, "server": "MTG-Demo", "state": "active", "token_id": token_id,
        "platform": "MT5", "ea_version": "1.3.0", "balance": 10_000.0, "equity": 10_006.0,
        "currency": "USD", "positions": 2, "as_of": T0 - 0.5,
        "open_positions": [{k: p[k] for k in ("ticket", "symbol", "volume", "price_open",
                                              "price_current", "sl", "tp", "profit", "swap")}
                           | {"type": "buy"} for p in (gold, yen)],
        "details": {"account": {"login": 5012345, "currency": "USD", "leverage": 100,
                                "balance": 10_000.0, "credit": 0.0, "equity": 10_006.0,
                                "margin": 100.0, "margin_free": 9_906.0,
                                "margin_level": 10_006.0},
                    "positions": [gold, yen], "orders": [order],
                    "deals": [_deal(21, 0, 147.1), _deal(22, 1, 147.25)],
                    "positions_total": 2, "orders_total": 1}}
    if digits is not None:
        body["digits"] = digits
    return body


def _live(kind: str, ticket: int) -> str:
    """The start of a live book's ``kind`` row (position, order) of ``ticket``."""
    return f'<tr class="{kind}" data-ticket="{ticket}" data-book="live">'


def _cells(page: str, row: str) -> list[str]:
    """The price cells (open, current or close) of the table row starting with ``row``."""
    found = re.search(re.escape(row) + r"(.*?)</tr>", page, re.S)
    assert found is not None, row
    return re.findall(r'<td data-label="(?:Open|Current|Close|Price|S/L)">([^<]*)</td>',
                      found.group(1))


async def test_prices_are_shown_at_their_symbols_digits(console: Console,
                                                         browser: Browser) -> None:
    """With the report's digits: the dashboard's and the live page's positions, the pending
    order and the closed trade's prices are written at 2 (XAUUSD) and 3 (USDJPY) digits."""
    await signed_in(browser)
    token_id = await approved_token(console)
    console.clock.now = T0
    status, _, _ = await console.device("POST", "/v1/terminals/report", {
        "terminals": [_report(token_id, {"XAUUSD": 2, "USDJPY": 3})]})
    assert status == 200
    books = (await browser.get("/dashboard/books")).text
    assert _cells(books, _live("position", 11)) == [
        "3154.80", "3157.30", "3100.50"]
    assert _cells(books, _live("position", 12)) == [
        "147.520", "147.600", "—"]  # an unset stop stays a dash
    live = (await browser.get("/live/panels")).text
    assert _cells(live, _live("position", 11))[:2] == ["3154.80",
                                                                          "3157.30"]
    assert _cells(live, _live("position", 12))[:2] == ["147.520",
                                                                          "147.600"]
    assert _cells(live, _live("order", 13))[:2] == ["146.900", "147.600"]
    assert _cells(live, '<tr class="trade" data-ticket="90"')[:2] == ["147.100", "147.250"]


async def test_a_report_without_digits_is_shown_as_reported(console: Console,
                                                            browser: Browser) -> None:
    """A daemon older than the field sends no digits: prices are written as reported
    (``3154.8``, ``147.52``), and the report is taken as before."""
    await signed_in(browser)
    token_id = await approved_token(console)
    console.clock.now = T0
    status, _, _ = await console.device("POST", "/v1/terminals/report", {
        "terminals": [_report(token_id, None)]})
    assert status == 200
    books = (await browser.get("/dashboard/books")).text
    assert _cells(books, _live("position", 11)) == [
        "3154.8", "3157.3", "3100.5"]
    live = (await browser.get("/live/panels")).text
    assert _cells(live, _live("position", 12))[:2] == ["147.52", "147.6"]


async def test_bad_digits_are_refused(console: Console) -> None:
    """Digits that are no symbol's (negative, past 10, not a whole number, an empty name)
    refuse the report with 400, like any other malformed field."""
    token_id = await approved_token(console)
    console.clock.now = T0
    for bad in ({"XAUUSD": -1}, {"XAUUSD": 11}, {"XAUUSD": 2.5}, {"": 2},
                {"XAUUSD": "2"}):
        status, _, _ = await console.device("POST", "/v1/terminals/report", {
            "terminals": [_report(token_id, bad)]})
        assert status == 400, bad
