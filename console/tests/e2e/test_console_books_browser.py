"""A paper account in headless Chromium, at desktop (1280 px) and phone (390 px) width: the
dashboard and ``/live`` wear a paper badge beside the terminal, the badge is on screen and
no wider than the window, and ``/live``'s change leaves the paper top-up out (the 2,500
deposit is drawn as a step and marked, not counted).

The real console with its SMTP sink and injected clock (``consolekit``); the daemon's device is
played by signed reports (``bookkit``): live from an older daemon, then the paper book.
Screenshots: ``$MTGATEWAY_SCREENSHOTS/paper-<width>/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.bookkit import live_then_paper
from tests.e2e.chromium import Owner, chromium_at
from tests.e2e.consolekit import OWNER, PASSWORD, Console


@pytest.mark.parametrize("width", [1280, 390])
async def test_the_paper_badge_and_the_change_without_the_deposit(
        console: Console, shots: Path, width: int) -> None:
    """Signed in: the dashboard's panel and the live page's say "paper" in a badge on
    screen; the live page's change is the trade's -10.00, not the deposit's +2,490.00."""
    await live_then_paper(console)
    out = shots / f"paper-{width}"
    out.mkdir(parents=True, exist_ok=True)
    with chromium_at(width) as driver:
        b = Owner(driver, console.url, out)
        await b.sign_in(OWNER, PASSWORD)
        await b.wait_for("#terminal-books .badge.paper-book")
        assert await b.do(lambda: b.text("#terminal-books .badge.paper-book")) == "paper"
        await b.fits("dashboard")
        await b.shot("01-dashboard")
        await b.open("/live")
        await b.wait_for("#live-panels .badge.paper-book")
        assert await b.do(lambda: b.text("#live-panels .badge.paper-book")) == "paper"
        badge = await b.do(lambda: driver.execute_script(
            "const r = document.querySelector('#live-panels .badge.paper-book')"
            ".getBoundingClientRect(); return [r.width, r.right, window.innerWidth];"))
        assert 0 < float(badge[0]) and float(badge[1]) <= float(badge[2]) + 1, badge
        change = await b.do(lambda: b.text("#live-panels .drawdown [data-change]"))
        assert change.startswith("-10.00"), change
        await b.wait_for("#live-panels svg.equity-chart g.flow")
        await b.fits("live page")
        await b.shot("02-live")
