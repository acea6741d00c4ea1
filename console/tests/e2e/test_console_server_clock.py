"""The live page on a trade server whose clock is not UTC (ux round 8, u10 and u11).

MT5 dates a deal on the trade server's wall clock: UTC+2 or +3 at most brokers, and days off on
a terminal replaying another day (the demo's ``--start-time``). This release's daemon measures
that clock's offset when it reads deals and reports it beside them (``server_offset_s``, taken
by a console that names ``server_offset``); the console shows each deal at the time it was
made, in UTC like every other time on the page, and places a balance operation by the report
that first carried it (on the console's clock), whatever the deal's own date says:

* u10: a deposit made at 05:17 UTC on a UTC+2 broker read "07:17:13 UTC" under figures "as of
  05:17:13 UTC"; now it reads 05:17. A deal whose daemon did not say the offset (an older
  one) is written on the server's clock and said to be ("server time"), never labelled UTC;
* u11: on a server clock 4 days behind, the default 1d range left the deposit's deal out of
  its range, so "change" counted the 2,500 as performance (+24.96 %); now it is left out
  wherever the report that carried it falls in the range.

The console with its clock injected (``consolekit``); the daemon's device is played by reports
signed by hand (``bookkit``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from tests.e2e.bookkit import T0, approved_daemon, deal
from tests.e2e.consolekit import Browser, Console, signed_in

#: The trade server two hours east of UTC, as most brokers' are.
EAST_S = 2 * 3600
#: A terminal replaying a day four days (and a few minutes) back.
BEHIND_S = -(4 * 86_400 + 17 * 60)


def when(epoch: int) -> str:
    """A time in UTC as the history writes it."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def server_when(epoch: int) -> str:
    """A time on the trade server's clock as the history writes it, said to be."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S server time")


def _closed(page: str) -> list[tuple[str, str]]:
    """The trade history's rows: (ticket, the "Closed" cell's text), newest first."""
    return re.findall(r'<tr class="trade" data-ticket="(\d+)"[^>]*>\s*<td data-label="Closed"'
                      r'[^>]*>([^<]+)</td>', page)


async def test_a_deal_on_a_broker_east_of_utc_reads_in_utc(console: Console,
                                                           browser: Browser) -> None:
    """u10: deals dated on a UTC+2 server's clock read at the UTC time they were made, never
    after the "as of" of the report that carried them; one from a daemon that did not say
    the offset reads on the server's clock, said to be "server time"."""
    await signed_in(browser)
    daemon = await approved_daemon(console)
    await daemon.report(T0, 10_000.0, 10_000.0, [
        deal(1000, 2, 0, 0, 10_000.0, T0 - 5 + EAST_S, "Initial deposit")], "paper", EAST_S)
    await daemon.report(T0 + 30, 12_500.0, 12_500.0, [
        deal(1001, 2, 0, 0, 2_500.0, T0 + 25 + EAST_S, "top-up")], "paper", EAST_S)
    page = (await browser.get("/live")).text
    assert _closed(page) == [("1001", when(T0 + 25)), ("1000", when(T0 - 5))]
    assert "server time" not in page
    # the offset is measured to the second: a deal never reads after its report's "as of"
    await daemon.report(T0 + 60, 12_600.0, 12_600.0, [
        deal(1002, 2, 0, 0, 100.0, T0 + 60 + EAST_S, "bonus")], "paper", EAST_S)
    page = (await browser.get("/live")).text
    assert _closed(page)[0] == ("1002", when(T0 + 60 - 1))
    # a daemon older than the offset: the server's own clock, and said to be
    await daemon.report(T0 + 90, 12_700.0, 12_700.0, [
        deal(1003, 2, 0, 0, 100.0, T0 + 85 + EAST_S, "bonus")], "paper")
    page = (await browser.get("/live")).text
    assert _closed(page)[0] == ("1003", server_when(T0 + 85 + EAST_S))
    assert re.search(r'<td data-label="Closed" class="server-time" title="[^"]*offset from '
                     r'UTC">', page)


@pytest.mark.parametrize("offset", [BEHIND_S, None], ids=["measured", "older-daemon"])
async def test_a_deposit_on_a_clock_days_behind_is_left_out_at_the_default_range(
        console: Console, browser: Browser, offset: int | None) -> None:
    """u11: a paper book on a server clock four days behind: a 2,500 deposit among three
    minutes of flat trading is left out of the change and the drawdown at the default 1d
    range as at 7d (-4.50, not +2,495.50), placed by the report that carried it; with the
    offset measured, the history lists both deposits in the range, at their UTC times."""
    await signed_in(browser)
    daemon = await approved_daemon(console)
    await daemon.report(T0, 10_000.0, 10_000.0, [
        deal(1000, 2, 0, 0, 10_000.0, T0 - 1 + BEHIND_S, "Initial deposit")], "paper",
        offset)
    await daemon.report(T0 + 30, 10_000.0, 9_998.2, [], "paper", offset)
    await daemon.report(T0 + 60, 12_500.0, 12_498.2, [
        deal(1001, 2, 0, 0, 2_500.0, T0 + 55 + BEHIND_S, "paper top-up")], "paper", offset)
    await daemon.report(T0 + 90, 12_500.0, 12_495.5, [], "paper", offset)
    for path in ("/live", "/live?range=7d"):
        page = (await browser.get(path)).text
        assert 'data-change="-4.5"' in page, path
        assert 'data-drawdown="4.5"' in page, path
        assert '<g class="flow"' in page and "+2,500.00" in page, path
    page = (await browser.get("/live")).text
    if offset is not None:
        assert "(2 in the range)" in page
        assert _closed(page) == [("1001", when(T0 + 55)), ("1000", when(T0 - 1))]
    else:  # dated four days back on the server's clock: outside the day, and said to be
        assert "(0 in the range)" in page
        page = (await browser.get("/live?range=7d")).text
        assert _closed(page)[0] == ("1001", server_when(T0 + 55 + BEHIND_S))
