"""MT5 semantics a ported bot relies on, through the real daemon and the emulated terminal.

The terminal's clock is a :class:`~tests.e2e.clocks.SteppedClock` starting on a Wednesday
(markets open whatever day the suite runs) that a test can jump across a rollover.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from ea_bridge.emulator.terminal import EmulatedTerminal
from mt5model.types import AccountMarginMode
from tests.e2e.clocks import WEDNESDAY_MS, SteppedClock
from tests.e2e.fixtures import Daemon, connected_terminal

BUY: dict[str, Any] = {"action": "TRADE_ACTION_DEAL", "type": "ORDER_TYPE_BUY",
                       "symbol": "EURUSD", "volume": 0.1}
SELL: dict[str, Any] = {**BUY, "type": "ORDER_TYPE_SELL"}


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock(WEDNESDAY_MS)


@pytest.fixture
async def hedging(daemon: Daemon, clock: SteppedClock) -> AsyncIterator[EmulatedTerminal]:
    async with connected_terminal(daemon, symbols=("EURUSD", "USDJPY"),
                                  utc_clock_ms=clock) as terminal:
        yield terminal


@pytest.fixture
async def netting(daemon: Daemon, clock: SteppedClock) -> AsyncIterator[EmulatedTerminal]:
    async with connected_terminal(daemon, symbols=("EURUSD",), utc_clock_ms=clock,
                                  margin_mode=AccountMarginMode.RETAIL_NETTING) as terminal:
        yield terminal


async def result(daemon: Daemon, method: str, params: Any) -> Any:
    response = await daemon.call(method, params)
    assert "result" in response, response
    return response["result"]


async def test_history_deals_get_by_ticket_selects_the_orders_deals(
        daemon: Daemon, hedging: EmulatedTerminal) -> None:
    """history_deals_get(ticket=result.order) finds the deal order_send made (MT5's meaning)."""
    sent = await result(daemon, "order_send", {"request": BUY})
    deals = await result(daemon, "history_deals_get", {"ticket": sent["order"]})
    assert [(d["ticket"], d["order"]) for d in deals] == [(sent["deal"], sent["order"])]
    assert await result(daemon, "history_deals_get", {"ticket": sent["deal"]}) == []


async def test_netting_reversal_gives_the_position_the_reversing_ticket(
        daemon: Daemon, netting: EmulatedTerminal) -> None:
    """Selling 0.2 against 0.1 long reverses: same identifier, the reversing order's ticket."""
    opened = await result(daemon, "order_send", {"request": BUY})
    reversed_ = await result(daemon, "order_send", {"request": {**SELL, "volume": 0.2}})
    [position] = await result(daemon, "positions_get", {})
    assert (position["ticket"], position["identifier"], position["type"], position["volume"]) \
        == (reversed_["order"], opened["order"], 1, 0.1)
    [deal] = await result(daemon, "history_deals_get", {"ticket": reversed_["order"]})
    assert (deal["entry"], deal["position_id"]) == (2, opened["order"])  # DEAL_ENTRY_INOUT


async def test_swap_is_charged_at_rollover_from_the_published_rates(
        daemon: Daemon, clock: SteppedClock) -> None:
    """A long held over Wednesday's rollover pays 3 nights of symbol_info's swap_long."""
    async with connected_terminal(daemon, symbols=("EURUSD",), utc_clock_ms=clock,
                                  tick_rate_hz=0.5):  # few ticks to walk over the jumps
        await _swap_over_rollover(daemon, clock)


async def _swap_over_rollover(daemon: Daemon, clock: SteppedClock) -> None:
    info = await result(daemon, "symbol_info", ["EURUSD"])
    assert (info["swap_mode"], info["swap_rollover3days"]) == (1, 3)  # POINTS, Wednesday
    clock.jump_to(WEDNESDAY_MS + 9 * 3_600_000 + 58 * 60_000)  # 23:58, two minutes before
    await result(daemon, "order_send", {"request": BUY})
    [before] = await result(daemon, "positions_get", {})
    assert before["swap"] == 0.0
    clock.jump_to(WEDNESDAY_MS + 10 * 3_600_000 + 5_000)  # Thursday 00:00:05
    [after] = await result(daemon, "positions_get", {})
    expected = round(3 * info["swap_long"] * info["point"] * info["trade_contract_size"] * 0.1, 2)
    assert after["swap"] == expected == -2.25
    closed = await result(daemon, "order_send", {"request": {**SELL, "position":
                                                            after["ticket"]}})
    [deal] = await result(daemon, "history_deals_get", {"ticket": closed["order"]})
    assert deal["swap"] == expected


async def test_margin_hedged_is_applied_to_hedged_legs(daemon: Daemon,
                                                      hedging: EmulatedTerminal) -> None:
    """A fully hedged pair holds margin at symbol_info's margin_hedged, not twice the full."""
    info = await result(daemon, "symbol_info", ["EURUSD"])
    ratio = info["margin_hedged"] / info["trade_contract_size"]
    await result(daemon, "order_send", {"request": BUY})
    one_leg = (await result(daemon, "account_info", []))["margin"]
    await result(daemon, "order_send", {"request": SELL})
    [buy, sell] = await result(daemon, "positions_get", {})
    full = [await result(daemon, "order_calc_margin", ["ORDER_TYPE_BUY", "EURUSD", 0.1, p])
            for p in (buy["price_open"], sell["price_open"])]
    margin = (await result(daemon, "account_info", []))["margin"]
    assert full[0] == one_leg
    assert margin == pytest.approx(sum(full) * ratio, abs=0.011) and margin < sum(full)


UNKNOWN = "NOPE"


@pytest.mark.parametrize(("method", "params"), [
    ("symbol_info", [UNKNOWN]),
    ("symbol_info_tick", [UNKNOWN]),
    ("symbol_select", [UNKNOWN, True]),
    ("copy_rates_from_pos", [UNKNOWN, "TIMEFRAME_M1", 0, 10]),
    ("copy_ticks_from", [UNKNOWN, 1_700_000_000, 10, "COPY_TICKS_ALL"]),
    ("order_calc_margin", ["ORDER_TYPE_BUY", UNKNOWN, 0.1, 1.1]),
    ("order_calc_profit", ["ORDER_TYPE_BUY", UNKNOWN, 0.1, 1.1, 1.2]),
    ("order_check", [{**BUY, "symbol": UNKNOWN}]),
    ("order_check", [{**BUY, "symbol": UNKNOWN, "type_filling": "ORDER_FILLING_IOC"}]),
    ("order_send", [{**BUY, "symbol": UNKNOWN}]),
    ("order_send", [{**BUY, "symbol": UNKNOWN, "type_filling": "ORDER_FILLING_IOC"}]),
    ("order_send", [{**BUY, "symbol": UNKNOWN, "type_filling": "ORDER_FILLING_IOC",
                     "client_id": "unknown-symbol"}]),
])
async def test_unknown_symbol_gets_the_same_answer_everywhere(
        daemon: Daemon, hedging: EmulatedTerminal, method: str, params: Any) -> None:
    """Every method naming an unknown symbol answers symbol_info's -32006, and trades nothing."""
    expected = (await daemon.call("symbol_info", [UNKNOWN]))["error"]
    error = (await daemon.call(method, params))["error"]
    assert (error["code"], error["message"]) == (expected["code"], expected["message"]) \
        == (-32006, expected["message"])
    assert hedging.broker.positions_total() == 0


async def test_copy_request_of_100k_rows_is_one_answer(daemon: Daemon,
                                                     clock: SteppedClock) -> None:
    """Without limit, 100 000 M1 bars come back whole although the EA caps answers at 30 000;
    beyond 100 000 the answer says so with a next_cursor."""
    async with connected_terminal(daemon, symbols=("EURUSD",), utc_clock_ms=clock,
                                  max_rows=30_000):
        whole = await result(daemon, "copy_rates_from_pos",
                             ["EURUSD", "TIMEFRAME_M1", 0, 100_000])
        assert (len(whole["rows"]), whole["next_cursor"]) == (100_000, None)
        times = [row[0] for row in whole["rows"]]
        assert times == sorted(set(times))
        ticks = await result(daemon, "copy_ticks_from",
                             ["EURUSD", times[0], 45_000, "COPY_TICKS_ALL"])
        assert (len(ticks["rows"]), ticks["next_cursor"]) == (45_000, None)
        more = await result(daemon, "copy_rates_from_pos", ["EURUSD", "TIMEFRAME_M1", 0, 100_001])
        assert len(more["rows"]) == 100_000 and more["next_cursor"] is not None
        paged = await result(daemon, "copy_rates_from_pos",
                             {"symbol": "EURUSD", "timeframe": "TIMEFRAME_M1", "start_pos": 0,
                              "count": 1_000, "limit": 400})
        assert len(paged["rows"]) == 400 and paged["next_cursor"] is not None
