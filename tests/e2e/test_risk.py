"""The account's risk policy, from the authority's account registration to -32012 on /rpc."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from ea_bridge.emulator.terminal import EmulatedTerminal
from mtgateway_console.service import AccountRegistration
from tests.e2e.conftest import LOGIN, OWNER, SERVER, Daemon


@pytest.fixture
async def limited(daemon: Daemon, emulator: EmulatedTerminal) -> AsyncIterator[EmulatedTerminal]:
    """The demo account registered with a policy: BTCUSD only, 0.05 lots, 2 % at risk."""
    await daemon.authority.accounts.register(OWNER, AccountRegistration(
        name="Risk test", broker="Sim", login=LOGIN, password="mt5-secret", server=SERVER,
        allowed_symbols=("BTCUSD",), max_lot_size=Decimal("0.05"), risk_pct=Decimal("0.02")))
    await daemon.cache.refresh_once()  # the record now carries the account's policy
    yield emulator


async def send(daemon: Daemon, **request: Any) -> dict[str, Any]:
    body = {"action": "TRADE_ACTION_DEAL", "symbol": "BTCUSD", "volume": 0.01,
            "type": "ORDER_TYPE_BUY", **request}
    return await daemon.call("order_send", {"request": body})


async def bid(daemon: Daemon) -> float:
    return float((await daemon.call("symbol_info_tick", ["BTCUSD"]))["result"]["bid"])


async def test_policy_refusals_name_the_rule_and_send_nothing(
        daemon: Daemon, limited: EmulatedTerminal) -> None:
    """Symbol, lot size and a missing stop are refused with -32012 before the terminal."""
    price = await bid(daemon)
    cases = [({"symbol": "USDJPY"}, "allowed_symbols"),
             ({"volume": 0.06, "sl": price - 100}, "max_lot_size"),
             ({}, "risk_pct")]
    for request, rule in cases:
        error = (await send(daemon, client_id="r1", **request))["error"]
        assert (error["code"], error["data"]["rule"]) == (-32012, rule)
    assert limited.broker.positions_total() == 0
    assert (await daemon.call("order_status", ["r1"]))["error"]["code"] == -32006


async def test_stop_within_the_risk_budget_trades(daemon: Daemon,
                                                  limited: EmulatedTerminal) -> None:
    """A stop whose loss fits 2 % of equity trades; one beyond it is refused."""
    price = await bid(daemon)
    too_far = (await send(daemon, sl=round(price - 30_000, 2)))["error"]  # 0.01 lot: ~300 USD
    assert too_far["data"]["rule"] == "risk_pct"
    ok = (await send(daemon, client_id="r2", sl=round(price - 1_000, 2)))["result"]
    assert ok["retcode_name"] == "TRADE_RETCODE_DONE" and limited.broker.positions_total() == 1


async def test_closing_is_allowed_whatever_the_policy(daemon: Daemon,
                                                      limited: EmulatedTerminal) -> None:
    """Closing a position is never refused by the policy, even above the lot limit."""
    price = await bid(daemon)
    opened = (await send(daemon, volume=0.05, sl=round(price - 1_000, 2)))["result"]
    closed = (await send(daemon, type="ORDER_TYPE_SELL", volume=0.05,
                         position=opened["order"]))["result"]
    assert closed["retcode_name"] == "TRADE_RETCODE_DONE"
    assert limited.broker.positions_total() == 0
