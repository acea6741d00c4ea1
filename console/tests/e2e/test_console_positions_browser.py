"""Issue 35 item 3 in headless Chromium: the dashboard's positions and equity chart at desktop
(1280 px) and phone (390 px) width, with nothing fetched from any host but the console.

The real console with its SMTP sink and injected clock (``consolekit``); a daemon's device is
played by signed reports over the device API (the real protocol and an Ed25519 key), five of
them 30 s apart on the console's clock so the chart has a line. The page is checked to be no
wider than the window, the chart and the positions to be on screen, the page's own refresh to
bring a new P/L without a reload, and every request the page made (the Resource Timing
entries: the document, its style sheets and script, the refreshes) to go to the console's
origin. Screenshots: ``$MTGATEWAY_SCREENSHOTS/positions-<width>/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By

from tests.e2e import chromium
from tests.e2e.chromium import chromium_at, paced
from tests.e2e.consolekit import OWNER, PASSWORD, Console, approved_token


async def _reporting(console: Console) -> dict[str, Any]:
    """A token, this test's device approved for it, and five reports of an active terminal
    with two positions: the last report's body."""
    token_id = await approved_token(console)
    body: dict[str, Any] = {}
    for i, equity in enumerate((10_000.0, 10_012.4, 9_987.1, 10_004.9, 10_013.7)):
        console.clock.now += 30
        body = {"login": 5012345, "server": "MTG-Demo", "state": "active",
                "token_id": token_id, "platform": "MT5", "ea_version": "1.2.0",
                "balance": 10_000.0, "equity": equity, "currency": "USD", "positions": 2,
                "as_of": console.clock.now - 0.4, "open_positions": [
                    {"ticket": 101, "symbol": "BTCUSD", "type": "buy", "volume": 0.1,
                     "price_open": 97_000.0, "price_current": 97_137.0 + i, "sl": 96_000.0,
                     "tp": 99_000.0, "profit": 13.7 + i, "swap": 0.0},
                    {"ticket": 102, "symbol": "EURUSD", "type": "sell", "volume": 1.0,
                     "price_open": 1.0842, "price_current": 1.0846, "sl": 0.0, "tp": 0.0,
                     "profit": -40.0, "swap": -1.2}]}
        status, _, _ = await console.device("POST", "/v1/terminals/report",
                                            {"terminals": [body]})
        assert status == 200
    return body


class Owner(chromium.Owner):
    """The owner's walk, plus where an element is drawn."""

    async def box(self, css: str) -> dict[str, float]:
        found = await self.do(lambda: self.driver.execute_script(
            "const r = document.querySelector(arguments[0]).getBoundingClientRect();"
            "return {left: r.left, right: r.right, width: r.width, height: r.height,"
            " inner: window.innerWidth};", css))
        return {k: float(v) for k, v in found.items()}


@pytest.mark.parametrize("width", [1280, 390])
async def test_positions_and_the_equity_chart_in_a_real_browser(
        console: Console, shots: Path, width: int) -> None:
    body = await _reporting(console)
    out = shots / f"positions-{width}"
    out.mkdir(parents=True, exist_ok=True)
    with chromium_at(width) as driver:
        b = Owner(driver, console.url, out)
        await b.sign_in(OWNER, PASSWORD)
        await b.wait_for("#terminal-books svg.equity-chart")
        await b.fits("dashboard")
        await b.shot("01-dashboard")

        # the chart is drawn, inside the window, named for assistive technology
        chart = await b.box("#terminal-books svg.equity-chart")
        assert chart["width"] > 200 and chart["height"] > 60, chart
        assert chart["left"] >= 0 and chart["right"] <= chart["inner"] + 1, chart
        label = await b.do(lambda: driver.execute_script(
            "const s = document.querySelector('#terminal-books svg.equity-chart');"
            "return s.getAttribute('aria-labelledby').split(' ')"
            ".map(id => document.getElementById(id).textContent).join(' | ');"))
        assert "Equity and balance of 5012345@MTG-Demo" in label and "5 points" in label
        lines = await b.do(lambda: [
            len(str(e.get_attribute("points")).split()) for e in driver.find_elements(
                By.CSS_SELECTOR, "#terminal-books polyline")])
        assert lines == [5, 5]

        # the positions: P/L in words with its sign, the "as of" time beside the figures
        await b.do(lambda: driver.execute_script(
            "document.querySelector('tr.position[data-ticket=\"102\"]').scrollIntoView();"))
        loss = await b.do(lambda: b.text('tr.position[data-ticket="102"] td.pl'))
        assert loss == "-40.00"
        gain = await b.do(lambda: b.text('tr.position[data-ticket="101"] td.pl'))
        assert gain == "+17.70"
        assert "as of" in await b.do(lambda: b.text("#terminal-books .as-of"))
        profit = await b.box('tr.position[data-ticket="102"] td.pl')
        assert profit["right"] <= profit["inner"] + 1, profit
        await b.shot("02-positions")

        # a new report: the page's own refresh brings the new P/L, no reload. The page is
        # opened again with its timers paced (its 2 s refresh every 0.2 s), and marked: the
        # mark is still there once the new figure is, so no reload brought it.
        with paced(driver, 10):
            await b.open("/")
            await b.wait_for('tr.position[data-ticket="101"] td.pl[data-pl="+17.70"]')
            marker = await b.do(lambda: driver.execute_script(
                "window.__same_page = true; return true;"))
            assert marker is True
            console.clock.now += 30
            body["as_of"] = console.clock.now
            body["open_positions"][0]["profit"] = 25.5
            status, _, _ = await console.device("POST", "/v1/terminals/report",
                                                {"terminals": [body]})
            assert status == 200
            await b.wait_for('tr.position[data-ticket="101"] td.pl[data-pl="+25.50"]')
            assert await b.do(lambda: driver.execute_script(
                "return window.__same_page === true;"))
            await b.fits("refreshed")

        # nothing was asked of any host but the console
        urls = await b.do(lambda: driver.execute_script(
            "return performance.getEntries().filter(e => e.name && e.name.includes('://'))"
            ".map(e => e.name);"))
        assert urls and any("/dashboard/books" in u for u in urls), urls
        assert [u for u in urls if not str(u).startswith(console.url + "/")] == []
