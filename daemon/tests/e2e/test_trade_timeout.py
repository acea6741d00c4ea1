"""The trade-timeout path and the periodic reconciliation pass, end to end: a terminal that
executes an order but never answers (the EA stays connected, so no reconnect pass runs) gets
-32003 after trade_timeout_s, and the periodic pass -- every reconcile_interval_s while a row
is UNKNOWN -- identifies the order; a retry then returns it and nothing is sent twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ea_bridge.connection import EAConnection
from ea_bridge.emulator.terminal import EmulatedTerminal
from tests.e2e.clocks import WEDNESDAY_MS, SteppedClock
from tests.e2e.fixtures import WAIT_S, Daemon, connected_terminal, running_daemon
from tests.testkit import MS

BUY: dict[str, Any] = {"action": "TRADE_ACTION_DEAL", "type": "ORDER_TYPE_BUY",
                       "symbol": "EURUSD", "volume": 0.1}


class MuteTerminal(EmulatedTerminal):
    """Executes order_send but never answers it (the broker acted; the answer is lost)."""

    def _answer(self, conn: EAConnection, request_id: int, method: str,
                params: dict[str, Any]) -> None:
        if method == "order_send":
            self.order_send(**params)
            return
        super()._answer(conn, request_id, method, params)


class OldMuteTerminal(MuteTerminal):
    ea_version = "1.0.0"


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    async with running_daemon(tmp_path, trade_timeout_s=0.5,
                              trading={"reconcile_interval_s": 0.2}) as running:
        yield running


async def _settled(daemon: Daemon, client_id: str) -> dict[str, Any]:
    """order_status once the row has left UNKNOWN (the periodic pass settles it)."""
    async with asyncio.timeout(WAIT_S):
        while True:
            status: dict[str, Any] = (await daemon.call("order_status", [client_id]))["result"]
            if status["state"] != "UNKNOWN":
                return status
            await asyncio.sleep(50 * MS)


@pytest.mark.parametrize(("cls", "via"), [(MuteTerminal, "ea_map"), (OldMuteTerminal, "match")])
async def test_timeout_then_the_periodic_pass_finds_the_order(
        daemon: Daemon, cls: type[MuteTerminal], via: str) -> None:
    """-32003 after trade_timeout_s with the EA still connected; the periodic pass resolves
    the row with the ticket (by the EA's record; an EA 1.0 keeps none, so by the order's
    shape: the order went untagged, magic 0); the retry answers it; one position, one
    order_send."""
    async with connected_terminal(daemon, cls, symbols=("EURUSD",),
                                  utc_clock_ms=SteppedClock(WEDNESDAY_MS)) as terminal:
        error = (await daemon.call("order_send", {"request": {**BUY,
                                                              "client_id": "slow"}}))["error"]
        assert (error["code"], error["data"]) == (-32003, {"client_id": "slow",
                                                           "state": "UNKNOWN"})
        sessions_before = terminal.sessions  # the EA stays connected: no reconnect pass
        status = await _settled(daemon, "slow")
        [position] = terminal.broker.positions_get()
        assert (status["state"], status["ticket"], status["result"]["identified_by"]) == (
            "RESOLVED_ACCEPTED", position["ticket"], via)
        assert terminal.sessions == sessions_before
        again = (await daemon.call("order_send", {"request": {**BUY,
                                                              "client_id": "slow"}}))["result"]
        assert (again["order"], again["deduplicated"]) == (position["ticket"], True)
        assert terminal.broker.positions_total() == 1
