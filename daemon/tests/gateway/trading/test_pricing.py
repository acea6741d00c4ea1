"""The price the desk names for a market deal on a symbol in Instant or Request execution
(``pricing.py``): which requests it prices, from which side of the quote, with which deviation,
and the quotes it refuses (10021 PRICE_OFF, retryable). End to end, through the daemon and the
emulated terminal: ``daemon/tests/e2e/test_market_price.py``."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import TradeRejected, to_rpc_error
from gateway.trading.pricing import DEVIATION_POINTS, QUOTE_MAX_AGE_MS, needs_price, priced
from mt5model.mt5 import OrderType, TradeAction
from mt5model.types import (
    SYMBOL_TRADE_EXECUTION_EXCHANGE,
    SYMBOL_TRADE_EXECUTION_INSTANT,
    SYMBOL_TRADE_EXECUTION_MARKET,
    SYMBOL_TRADE_EXECUTION_REQUEST,
)

NOW_MS = 1_800_000_000_000
POINT = 0.00001
BUY: dict[str, Any] = {"action": TradeAction.DEAL, "symbol": "EURUSD", "type": OrderType.BUY,
                       "volume": 0.1}
SELL = {**BUY, "type": OrderType.SELL}
QUOTE = {"time": NOW_MS // 1000, "time_msc": NOW_MS - 1500, "bid": 1.08500, "ask": 1.08510}


@pytest.mark.parametrize("request_, execution, wanted", [
    (BUY, SYMBOL_TRADE_EXECUTION_INSTANT, True),
    (SELL, SYMBOL_TRADE_EXECUTION_REQUEST, True),
    ({**BUY, "position": 7}, SYMBOL_TRADE_EXECUTION_INSTANT, True),  # a close
    ({**BUY, "price": 0.0}, SYMBOL_TRADE_EXECUTION_INSTANT, True),  # the package's "none"
    ({**BUY, "price": 1.2}, SYMBOL_TRADE_EXECUTION_INSTANT, False),  # the caller's own
    (BUY, SYMBOL_TRADE_EXECUTION_MARKET, False),
    (BUY, SYMBOL_TRADE_EXECUTION_EXCHANGE, False),
    ({**BUY, "action": TradeAction.PENDING, "type": OrderType.BUY_LIMIT},
     SYMBOL_TRADE_EXECUTION_INSTANT, False),
    ({**BUY, "type": OrderType.BUY_LIMIT}, SYMBOL_TRADE_EXECUTION_INSTANT, False),
])
def test_only_market_deals_of_priced_executions_without_a_price_are_priced(
        request_: dict[str, Any], execution: int, wanted: bool) -> None:
    """Deals (closes too) without a price, in Instant or Request execution; nothing else."""
    assert needs_price(request_, execution) is wanted


def test_a_buy_takes_the_ask_and_a_sell_the_bid_with_the_default_deviation() -> None:
    """Ask to buy, bid to sell; no deviation given: 20 points (the spread is 10)."""
    buy = priced(BUY, QUOTE, point=POINT, server_now_ms=NOW_MS)
    sell = priced(SELL, QUOTE, point=POINT, server_now_ms=NOW_MS)
    assert (buy["price"], buy["deviation"]) == (1.08510, DEVIATION_POINTS)
    assert (sell["price"], sell["deviation"]) == (1.08500, DEVIATION_POINTS)
    assert {k: v for k, v in buy.items() if k not in ("price", "deviation")} == BUY


def test_a_wide_spread_widens_the_default_and_a_given_deviation_stays() -> None:
    """A 2500-point spread (the emulator's BTCUSD) gets 5000 points; a deviation the caller
    gave, 0 included (MetaApi's "no slippage allowed"), is kept."""
    btc = {"time_msc": NOW_MS, "bid": 95000.00, "ask": 95025.00}
    assert priced({**BUY, "symbol": "BTCUSD"}, btc, point=0.01,
                  server_now_ms=NOW_MS)["deviation"] == 5000
    for given in (0, 7):
        assert priced({**BUY, "deviation": given}, QUOTE, point=POINT,
                      server_now_ms=NOW_MS)["deviation"] == given
    assert priced(BUY, QUOTE, point=0.0, server_now_ms=NOW_MS)["deviation"] == \
        DEVIATION_POINTS  # a point the symbol did not report: no spread to scale by


@pytest.mark.parametrize("quote", [
    {**QUOTE, "bid": 0.0, "ask": 0.0},
    {**QUOTE, "time_msc": 0},
    {**QUOTE, "time_msc": True},
    {**QUOTE, "ask": float("nan")},
    {**QUOTE, "ask": "1.0851"},
    {k: v for k, v in QUOTE.items() if k != "time_msc"},
    None,
], ids=["zeros", "no_time", "bool_time", "nan", "string", "time_absent", "not_a_tick"])
def test_a_missing_quote_is_price_off(quote: Any) -> None:
    """A quote without the side's price or a time prices nothing: 10021, retryable."""
    with pytest.raises(TradeRejected) as refused:
        priced(BUY, quote, point=POINT, server_now_ms=NOW_MS, client_id="c-1")
    error = to_rpc_error(refused.value)
    assert error is not None and error.code == -32010
    assert (error.data["retcode"], error.data["retryable"], error.data["client_id"]) == (
        10021, True, "c-1")
    assert "EURUSD has no quote" in error.message


def test_a_quote_is_stale_past_the_limit_on_the_servers_clock() -> None:
    """Exactly QUOTE_MAX_AGE_MS old still prices; a millisecond more is refused, saying how
    old the quote is."""
    at_limit = {**QUOTE, "time_msc": NOW_MS - QUOTE_MAX_AGE_MS}
    assert priced(BUY, at_limit, point=POINT, server_now_ms=NOW_MS)["price"] == 1.08510
    with pytest.raises(TradeRejected) as refused:
        priced(SELL, {**QUOTE, "time_msc": NOW_MS - QUOTE_MAX_AGE_MS - 1}, point=POINT,
               server_now_ms=NOW_MS)
    assert refused.value.retcode == 10021 and refused.value.retryable
    assert "last quote is 10 min old" in str(refused.value)
    with pytest.raises(TradeRejected) as hours:
        priced(SELL, {**QUOTE, "time_msc": NOW_MS - (12 * 60 + 5) * 60_000}, point=POINT,
               server_now_ms=NOW_MS)
    assert "12 h 5 min old" in str(hours.value)


def test_without_the_servers_clock_the_age_is_not_judged() -> None:
    """A terminal whose server_time carried no time: a day-old quote still prices (the
    broker has the last word: 10018, 10004), a missing one is still refused."""
    old = {**QUOTE, "time_msc": NOW_MS - 86_400_000}
    assert priced(BUY, old, point=POINT, server_now_ms=None)["price"] == 1.08510
    with pytest.raises(TradeRejected):
        priced(BUY, {**QUOTE, "ask": 0.0}, point=POINT, server_now_ms=None)
