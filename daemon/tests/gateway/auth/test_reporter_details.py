"""Issue 46 items 4 and 7, the daemon's side: an active terminal's report carries, for the
console's API and live page, the account's margin fields, its open positions and pending
orders, and the deals not reported before; a terminal holding positions is reported again
every few seconds (its P/L moves), without any change of state.

The reporter reads the emulator's real simulated broker (``mt5model``) through the call the
bridge answers, and reports to a real embedded authority (SQLite in ``tmp_path``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ea_bridge import TerminalId
from ea_bridge.emulator.terminal import EmulatedTerminal, EmulatorSettings
from gateway.auth.local import SelfApprovingAuthority
from gateway.auth.reporter import (
    TerminalReporter,
    account_details,
    account_figures,
    open_positions,
)
from tests.e2e.clocks import WEDNESDAY_MS
from tests.reporterkit import OWNER, TERMINAL, WAIT_S, embedded, reporting


class WatchedLink(SelfApprovingAuthority):
    """The embedded authority, and the console's request for live reports as
    ``RemoteAuthority.live_wanted`` gives it (after an answer saying ``"live": true``, while
    an owner watches the live page)."""

    watched = True

    def live_wanted(self) -> bool:
        return self.watched


async def test_details_go_with_the_book_and_a_holding_terminal_is_reported_live(
        tmp_path: Path) -> None:
    e = await embedded(tmp_path, WatchedLink)
    link = e.link
    assert isinstance(link, WatchedLink)
    broker = EmulatedTerminal(e.token, settings=EmulatorSettings(
        symbols=("BTCUSD",)), utc_clock_ms=lambda: WEDNESDAY_MS).broker
    bought = broker.order_send({"action": 1, "symbol": "BTCUSD", "volume": 0.01, "type": 0,
                                "type_filling": 1})
    assert bought["retcode"] == 10009
    placed = broker.order_send({"action": 5, "symbol": "BTCUSD", "volume": 0.01, "type": 2,
                                "price": round(bought["price"] * 0.9, 2)})
    assert placed["retcode"] == 10009, placed

    async def call(terminal: TerminalId, method: str, params: dict[str, Any],
                   timeout_s: float) -> Any:
        return getattr(broker, method)(**params)

    reporter = TerminalReporter(link, e.device, interval_s=3600, live_interval_s=0.01,
                                figures=account_figures(call), positions=open_positions(call),
                                details=account_details(call), clock=lambda: WEDNESDAY_MS / 1000)
    async with reporting(reporter, e.token, e.token_id):
        async with asyncio.timeout(WAIT_S):
            # no change of state, an interval of an hour: the open position brings the next
            await reporter.wait_sent(3)
        # nobody watching: the hour again, however many positions are open
        link.watched = False
        assert reporter.next_wait_s() == 3600
        link.watched = True
        assert reporter.next_wait_s() == 0.01
    [(key, snapshot)] = (await e.authority.live.snapshots(OWNER)).items()
    assert key[1:] == (TERMINAL.login, TERMINAL.server)
    info = broker.account_info()
    assert snapshot.account == {name: info[name] for name in (
        "login", "currency", "leverage", "balance", "credit", "equity", "margin",
        "margin_free", "margin_level")}
    assert [(t["order"], t["state"]) for t in snapshot.trades] == [
        (bought["order"], "open"), (placed["order"], "pending")]
    deals = await e.authority.live.deals(OWNER, [(TERMINAL.login, TERMINAL.server)])
    tickets = sorted(kept.deal["ticket"] for kept in deals)
    assert tickets == sorted(d["ticket"] for d in broker.history_deals_get(0, 2**40))


async def test_deals_go_with_the_trade_servers_clock_offset() -> None:
    """u10/u11 (ux round 8), the daemon's side: MT5 dates deals on the trade server's wall
    clock, so the details read with deals carry that clock less the daemon's, measured with
    ``server_time``: a UTC+2 server replaying a day four days back is 2 h less 4 days off.
    Without deals no ``server_time`` is read; a terminal that cannot answer it leaves the
    offset unsaid (``None``), never the deals."""
    replayed_ms = WEDNESDAY_MS - 4 * 86_400_000
    terminal = EmulatedTerminal("mtgw_unused", settings=EmulatorSettings(
        symbols=("BTCUSD",), tz_offset_s=7200), utc_clock_ms=lambda: replayed_ms)
    broker = terminal.broker
    asked: list[str] = []

    async def call(target: TerminalId, method: str, params: dict[str, Any],
                   timeout_s: float) -> Any:
        asked.append(method)
        if method == "server_time":
            return terminal.server_time()
        return getattr(broker, method)(**params)

    daemon_clock = WEDNESDAY_MS / 1000
    read = account_details(call, clock=lambda: daemon_clock)
    quiet = await read(TerminalId(1, "S"), 2**40)  # no deal since then
    assert quiet is not None and quiet.deals == () and quiet.server_offset_s is None
    assert "server_time" not in asked
    details = await read(TerminalId(1, "S"), 0)
    assert details is not None and details.deals  # the opening deposit at least
    assert details.server_offset_s == 7200 - 4 * 86_400

    async def no_clock(target: TerminalId, method: str, params: dict[str, Any],
                       timeout_s: float) -> Any:
        if method == "server_time":
            raise RuntimeError("an EA without server_time")
        return getattr(broker, method)(**params)

    unsaid = await account_details(no_clock)(TerminalId(1, "S"), 0)
    assert unsaid is not None and unsaid.deals and unsaid.server_offset_s is None
