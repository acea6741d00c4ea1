"""Market orders (TRADE_ACTION_DEAL): fills, hedging, netting, close by, history, rejections."""

from __future__ import annotations

from typing import Any

import pytest

from daemon.tests.mt5model.broker_env import BUY, BUY_LIMIT, CLOSE_BY, DEAL, S0, SELL, T0, Env
from mt5model.types import (
    SYMBOL_ORDER_CLOSEBY,
    SYMBOL_ORDER_LIMIT,
    SYMBOL_TRADE_EXECUTION_INSTANT,
    SYMBOL_TRADE_EXECUTION_REQUEST,
    SYMBOL_TRADE_MODE_CLOSEONLY,
    SYMBOL_TRADE_MODE_DISABLED,
    SYMBOL_TRADE_MODE_LONGONLY,
    SYMBOL_TRADE_MODE_SHORTONLY,
    AccountMarginMode,
    EmulatorError,
    ErrorCode,
)

NETTING = AccountMarginMode.RETAIL_NETTING


@pytest.fixture
def env() -> Env:
    return Env()


@pytest.fixture
def netting() -> Env:
    return Env(margin_mode=NETTING)


def test_market_buy_result(env: Env) -> None:
    """A market buy fills at Ask and answers every OrderSendResult field."""
    result = env.deal(BUY, 1.0, magic=77, comment="hello")
    assert result == {
        "retcode": 10009, "deal": 1002, "order": 1001, "volume": 1.0, "price": 1.1001,
        "bid": 1.1, "ask": 1.1001, "comment": "Request executed", "request_id": 1,
        "retcode_external": 0,
        "request": {"action": 1, "magic": 77, "order": 0, "symbol": "EURUSD", "volume": 1.0,
                    "price": 0.0, "stoplimit": 0.0, "sl": 0.0, "tp": 0.0, "deviation": 0,
                    "type": 0, "type_filling": 1, "type_time": 0, "expiration": 0,
                    "comment": "hello", "position": 0, "position_by": 0},
    }


def test_market_sell_opens_a_position_with_live_fields(env: Env) -> None:
    """A market sell fills at Bid; the position's ticket and identifier are the order ticket."""
    env.deal(SELL, 0.5, magic=9, sl=1.103, tp=1.09, comment="x" * 40)
    env.quote("EURUSD", 1.0995, 1.0996)
    assert env.broker.positions_get() == [{
        "ticket": 1001, "time": S0, "time_msc": T0, "time_update": S0,
        "time_update_msc": T0, "type": 1, "magic": 9, "identifier": 1001, "reason": 3,
        "volume": 0.5, "price_open": 1.1, "sl": 1.103, "tp": 1.09, "price_current": 1.0996,
        "swap": 0.0, "profit": 20.0, "symbol": "EURUSD", "comment": "x" * 31,
        "external_id": "",
    }]
    assert env.broker.positions_total() == 1


def test_market_order_and_deal_enter_the_history(env: Env) -> None:
    """The executed market order is a FILLED history order with an IN deal."""
    env.deal(BUY, 1.0, magic=5, comment="open")
    assert env.broker.history_orders_get(ticket=1001) == [{
        "ticket": 1001, "time_setup": S0, "time_setup_msc": T0, "time_done": S0,
        "time_done_msc": T0, "time_expiration": 0, "type": 0, "type_time": 0,
        "type_filling": 1, "state": 4, "magic": 5, "position_id": 1001, "position_by_id": 0,
        "reason": 3, "volume_initial": 1.0, "volume_current": 0.0, "price_open": 1.1001,
        "sl": 0.0, "tp": 0.0, "price_current": 1.1001, "price_stoplimit": 0.0,
        "symbol": "EURUSD", "comment": "open", "external_id": "",
    }]
    # MT5: ticket= selects the deals of ORDER 1001 (DEAL_ORDER), not deal ticket 1002.
    assert env.broker.history_deals_get(ticket=1002) == []
    assert env.broker.history_deals_get(ticket=1001) == [{
        "ticket": 1002, "order": 1001, "time": S0, "time_msc": T0, "type": 0, "entry": 0,
        "magic": 5, "position_id": 1001, "reason": 3, "volume": 1.0, "price": 1.1001,
        "commission": 0.0, "swap": 0.0, "profit": 0.0, "fee": 0.0, "symbol": "EURUSD",
        "comment": "open", "external_id": "",
    }]


def test_hedging_opens_one_position_per_deal(env: Env) -> None:
    """On a hedging account a buy and a sell on one symbol are two positions."""
    env.deal(BUY, 1.0)
    env.deal(SELL, 0.3)
    env.deal(BUY, 0.2)
    positions = env.broker.positions_get(symbol="EURUSD")
    assert [(p["ticket"], p["type"], p["volume"]) for p in positions] == [
        (1001, 0, 1.0), (1003, 1, 0.3), (1005, 0, 0.2)]
    # 0.3 of the 1.2 buy lots and all 0.3 sell lots are covered; covered lots hold margin at
    # margin_hedged (half the contract): (1100.10 + 220.02) * (0.75 + 0.25 * 0.5)
    # + 330.00 * 0.5 = 1155.105 + 165.00.
    assert env.broker.account_info()["margin"] == 1320.11


def test_margin_hedged_is_applied_to_hedged_legs(env: Env) -> None:
    """A fully hedged pair holds one leg's margin (margin_hedged = half the contract, as
    symbol_info publishes); with margin_hedged 0 it holds none, and order_check agrees."""
    env.deal(BUY, 1.0)
    assert env.broker.account_info()["margin"] == 1100.10
    check = env.broker.order_check({"action": DEAL, "symbol": "EURUSD", "volume": 1.0,
                                    "type": SELL, "type_filling": 1})
    env.deal(SELL, 1.0)
    info = env.broker.account_info()
    assert info["margin"] == check["margin"] == 1100.05  # (1100.10 + 1100.00) / 2
    env.with_spec(margin_hedged_share=0.0)
    assert env.broker.account_info()["margin"] == 0.0


def test_hedging_close_with_position(env: Env) -> None:
    """An opposite deal naming `position` closes it: OUT deal, realized profit in balance."""
    env.deal(BUY, 1.0)
    env.quote("EURUSD", 1.1021, 1.1022)
    result = env.deal(SELL, 1.0, position=1001, magic=3)
    assert (result["retcode"], result["price"], result["order"], result["deal"]) == (
        10009, 1.1021, 1003, 1004)
    assert env.broker.positions_total() == 0
    (deal,) = env.broker.history_deals_get(ticket=result["order"])
    assert (deal["entry"], deal["type"], deal["position_id"], deal["profit"],
            deal["reason"]) == (1, 1, 1001, 200.0, 3)
    info = env.broker.account_info()
    assert (info["balance"], info["equity"], info["margin"]) == (10200.0, 10200.0, 0.0)
    (order,) = env.broker.history_orders_get(ticket=1003)
    assert (order["type"], order["position_id"], order["state"]) == (1, 1001, 4)


def test_hedging_partial_close(env: Env) -> None:
    """Closing 0.4 of a 1.0 lot position leaves 0.6 open and realizes 0.4 lot of profit."""
    env.deal(BUY, 1.0)
    env.quote("EURUSD", 1.1021, 1.1022)
    assert env.deal(SELL, 0.4, position=1001)["retcode"] == 10009
    (position,) = env.broker.positions_get()
    assert (position["ticket"], position["volume"], position["price_open"],
            position["profit"]) == (1001, 0.6, 1.1001, 120.0)
    (deal,) = env.broker.history_deals_get(position=1001)[1:]
    assert (deal["entry"], deal["volume"], deal["profit"]) == (1, 0.4, 80.0)
    assert env.broker.account_info()["balance"] == 10080.0


def test_close_volume_above_position_volume(env: Env) -> None:
    """Closing more than the position's volume answers 10038 INVALID_CLOSE_VOLUME."""
    env.deal(BUY, 0.5)
    result = env.deal(SELL, 0.6, position=1001)
    assert (result["retcode"], result["comment"]) == (10038, "Invalid close volume")
    assert env.broker.positions_get()[0]["volume"] == 0.5


def test_close_of_unknown_position(env: Env) -> None:
    """A deal naming a closed or unknown position answers 10036 POSITION_CLOSED."""
    env.deal(BUY, 0.5)
    env.deal(SELL, 0.5, position=1001)
    assert env.deal(SELL, 0.5, position=1001)["retcode"] == 10036
    assert env.deal(SELL, 0.5, position=424242)["retcode"] == 10036


def test_close_in_the_same_direction_is_invalid(env: Env) -> None:
    """A deal naming a position of the same direction (or another symbol) answers 10013."""
    env.deal(BUY, 0.5)
    assert env.deal(BUY, 0.5, position=1001)["retcode"] == 10013
    assert env.deal(SELL, 0.5, "USDJPY", position=1001)["retcode"] == 10013


def test_netting_adds_to_the_position(netting: Env) -> None:
    """Netting: a second buy adds to the one position (weighted price, same identifier)."""
    netting.deal(BUY, 1.0)
    netting.quote("EURUSD", 1.1030, 1.1031)
    result = netting.deal(BUY, 0.5, sl=1.09)
    assert result["retcode"] == 10009
    (position,) = netting.broker.positions_get()
    assert (position["ticket"], position["identifier"], position["volume"],
            position["sl"]) == (1001, 1001, 1.5, 1.09)
    assert position["price_open"] == pytest.approx((1.1001 * 1.0 + 1.1031 * 0.5) / 1.5)
    deals = netting.broker.history_deals_get(position=1001)
    assert [(d["entry"], d["volume"], d["position_id"]) for d in deals] == [
        (0, 1.0, 1001), (0, 0.5, 1001)]
    (order,) = netting.broker.history_orders_get(ticket=result["order"])
    assert order["position_id"] == 1001


def test_netting_reduces_and_closes(netting: Env) -> None:
    """Netting: opposite deals reduce (OUT) and then close the position (OUT)."""
    netting.deal(BUY, 1.0)
    netting.quote("EURUSD", 1.1021, 1.1022)
    netting.deal(SELL, 0.4)
    (position,) = netting.broker.positions_get()
    assert (position["ticket"], position["volume"], position["type"]) == (1001, 0.6, 0)
    netting.deal(SELL, 0.6)
    assert netting.broker.positions_total() == 0
    deals = netting.broker.history_deals_get(position=1001)
    assert [(d["entry"], d["volume"], d["profit"]) for d in deals] == [
        (0, 1.0, 0.0), (1, 0.4, 80.0), (1, 0.6, 120.0)]
    assert netting.broker.account_info()["balance"] == 10200.0


def test_netting_reversal_is_one_inout_deal(netting: Env) -> None:
    """Netting: selling 2 lots against 1 long is an INOUT deal; the position turns short."""
    netting.deal(BUY, 1.0, sl=1.09)
    netting.quote("EURUSD", 1.1021, 1.1022)
    result = netting.deal(SELL, 2.0, tp=1.09)
    assert result["retcode"] == 10009
    (position,) = netting.broker.positions_get()
    # MT5: the identifier stays, the ticket becomes the reversing order's.
    assert (position["ticket"], position["identifier"], position["type"], position["volume"],
            position["price_open"], position["sl"], position["tp"]) == (
        result["order"], 1001, 1, 1.0, 1.1021, 0.0, 1.09)
    assert netting.broker.positions_get(ticket=result["order"]) == [position]
    assert netting.broker.order_send({"action": 6, "position": result["order"], "sl": 1.2,
                                      "tp": 0})["retcode"] == 10009
    (deal,) = netting.broker.history_deals_get(ticket=result["order"])
    assert (deal["entry"], deal["volume"], deal["profit"], deal["position_id"]) == (
        2, 2.0, 200.0, 1001)


def test_netting_sltp_by_symbol(netting: Env) -> None:
    """Netting: TRADE_ACTION_SLTP may name the symbol instead of the position."""
    netting.deal(BUY, 1.0)
    result = netting.broker.order_send({"action": 6, "symbol": "EURUSD", "sl": 1.09,
                                        "tp": 1.11})
    assert result["retcode"] == 10009
    assert netting.broker.positions_get()[0]["sl"] == 1.09


def test_close_by_with_different_volumes(env: Env) -> None:
    """Close by: one CLOSE_BY order, two OUT_BY deals for the smaller volume, remainder open."""
    env.deal(BUY, 1.0)  # order 1001 at 1.10010
    env.quote("EURUSD", 1.105, 1.1051)
    env.deal(SELL, 0.6)  # order 1003 at 1.10500
    env.broker.drain_events()
    result = env.broker.order_send({"action": CLOSE_BY, "position": 1001,
                                    "position_by": 1003, "magic": 4})
    assert (result["retcode"], result["order"], result["deal"], result["volume"]) == (
        10009, 1005, 1006, 0.6)
    (position,) = env.broker.positions_get()
    assert (position["ticket"], position["volume"]) == (1001, 0.4)
    (order,) = env.broker.history_orders_get(ticket=1005)
    assert (order["type"], order["state"], order["position_id"], order["position_by_id"],
            order["volume_initial"]) == (8, 4, 1001, 1003, 0.6)
    deals = env.broker.history_deals_get(S0, S0 + 10, group="EURUSD")[-2:]
    assert [(d["ticket"], d["order"], d["type"], d["entry"], d["position_id"], d["volume"],
             d["price"], d["profit"]) for d in deals] == [
        (1006, 1005, 1, 3, 1001, 0.6, 1.105, 294.0),
        (1007, 1005, 0, 3, 1003, 0.6, 1.105, 0.0)]
    assert env.broker.account_info()["balance"] == 10294.0
    kinds = [e["type"] for e in env.broker.drain_events()]
    assert kinds == ["deal_added", "position_updated", "deal_added", "position_closed",
                     "account_updated"]


def test_close_by_rejections(env: Env) -> None:
    """Close by needs two existing opposite positions on one symbol and the CLOSEBY mode."""
    env.deal(BUY, 1.0)
    env.deal(BUY, 1.0)
    env.deal(SELL, 1.0, "USDJPY")
    env.deal(SELL, 1.0)
    send = env.broker.order_send
    assert send({"action": CLOSE_BY, "position": 1001, "position_by": 1003})["retcode"] == 10013
    assert send({"action": CLOSE_BY, "position": 1001, "position_by": 1005})["retcode"] == 10013
    assert send({"action": CLOSE_BY, "position": 1001, "position_by": 99})["retcode"] == 10036
    assert send({"action": CLOSE_BY, "position": 1001})["retcode"] == 10013
    env.with_spec(order_mode=env.market.spec("EURUSD").order_mode & ~SYMBOL_ORDER_CLOSEBY)
    assert send({"action": CLOSE_BY, "position": 1001, "position_by": 1007})["retcode"] == 10035


def test_close_by_needs_hedging(netting: Env) -> None:
    """A netting account refuses TRADE_ACTION_CLOSE_BY with 10013."""
    netting.deal(BUY, 1.0)
    result = netting.broker.order_send({"action": CLOSE_BY, "position": 1001,
                                        "position_by": 1001})
    assert result["retcode"] == 10013


def test_market_events(env: Env) -> None:
    """Opening and closing emit deal_added, position_opened/closed and account_updated."""
    env.deal(BUY, 1.0)
    events = env.broker.drain_events()
    assert [e["type"] for e in events] == ["deal_added", "position_opened", "account_updated"]
    assert all(e["time_msc"] == T0 for e in events)
    assert events[0]["deal"]["ticket"] == 1002
    assert events[1]["position"]["ticket"] == 1001
    assert events[2]["account"]["margin"] == 1100.1
    assert env.broker.drain_events() == []
    now = env.quote("EURUSD", 1.1021, 1.1022)
    env.deal(SELL, 1.0, position=1001)
    events = env.broker.drain_events()
    assert [e["type"] for e in events] == ["deal_added", "position_closed", "account_updated"]
    assert events[1]["time_msc"] == now
    assert (events[1]["position"]["profit"], events[1]["position"]["price_current"]) == (
        200.0, 1.1021)
    assert events[2]["account"]["balance"] == 10200.0


def test_request_ids_increase_with_every_send(env: Env) -> None:
    """request_id counts every order_send, rejected or not."""
    ids = [env.deal(BUY, 0.001)["request_id"], env.deal(BUY, 0.1)["request_id"],
           env.broker.order_send({})["request_id"]]
    assert ids == [1, 2, 3]


def test_volume_step_tolerance(env: Env) -> None:
    """0.07 lot is a whole number of 0.01 steps despite binary floating point."""
    assert env.deal(BUY, 0.07)["retcode"] == 10009
    assert env.deal(BUY, 0.3 - 0.1)["retcode"] == 10009


@pytest.mark.parametrize(("extra", "retcode"), [
    ({"volume": 0.001}, 10014),
    ({"volume": 100.01}, 10014),
    ({"volume": 0.015}, 10014),
    ({"volume": -1.0}, 10014),
    ({"volume": 0.0}, 10014),
    ({"type": 2}, 10035),
    ({"type": 8}, 10035),
    ({"type_filling": 2}, 10030),
    ({"type_filling": 3}, 10030),
    ({"type_filling": 7}, 10030),
    ({"price": -1.0}, 10015),
    ({"sl": 1.1005}, 10016),
    ({"sl": 1.09991}, 10016),
    ({"tp": 1.10009}, 10016),
    ({"tp": 1.105005}, 10016),
    ({"sl": -0.1}, 10016),
])
def test_market_order_rejections(env: Env, extra: dict[str, Any], retcode: int) -> None:
    """Bad volume, type, filling, price or stops are rejected with the MT5 retcode."""
    request = {"action": DEAL, "symbol": "EURUSD", "volume": 1.0, "type": BUY,
               "type_filling": 1, **extra}
    result = env.broker.order_send(request)
    assert result["retcode"] == retcode
    assert (result["order"], result["deal"], result["volume"]) == (0, 0, 0.0)
    assert env.broker.positions_total() == 0
    assert env.broker.drain_events() == []


def test_stops_at_exactly_the_stops_level_are_accepted(env: Env) -> None:
    """SL/TP exactly trade_stops_level (10) points from Bid are accepted for a buy."""
    assert env.deal(BUY, 1.0, sl=1.0999, tp=1.1001)["retcode"] == 10009
    assert env.deal(SELL, 1.0, sl=1.1002, tp=1.1)["retcode"] == 10009


@pytest.mark.parametrize(("request_", "comment"), [
    ({"symbol": "EURUSD", "volume": 1.0, "type": 0}, "Invalid request: no action"),
    ({"action": 99, "symbol": "EURUSD", "volume": 1.0}, "Invalid request: unknown action"),
    ({"action": 1, "volume": 1.0, "type": 0}, "Invalid request: no symbol"),
    ({"action": 1, "symbol": "EURUSD", "type": 0}, "Invalid request: no volume"),
])
def test_incomplete_requests_are_invalid(env: Env, request_: dict[str, Any],
                                         comment: str) -> None:
    """Missing action, symbol or volume, or an unknown action, answer 10013."""
    result = env.broker.order_send({**request_, "type_filling": 1})
    assert (result["retcode"], result["comment"]) == (10013, comment)


@pytest.mark.parametrize("filling", [{}, {"type_filling": 1}])
def test_unknown_symbol_is_not_found_like_symbol_info(env: Env,
                                                      filling: dict[str, Any]) -> None:
    """order_send/order_check of an unknown symbol raise NOT_FOUND, as symbol_info does."""
    request = {"action": DEAL, "symbol": "NOPE", "volume": 1.0, "type": BUY, **filling}
    for call in (env.broker.order_send, env.broker.order_check):
        with pytest.raises(EmulatorError) as caught:
            call(request)
        assert caught.value.code == ErrorCode.NOT_FOUND
    assert env.broker.positions_total() == 0


def test_fok_needs_the_symbol_filling_flag(env: Env) -> None:
    """USDJPY allows only IOC: FOK (the default 0) answers 10030, IOC is filled."""
    request = {"action": DEAL, "symbol": "USDJPY", "volume": 0.1, "type": BUY}
    result = env.broker.order_send(request)
    assert (result["retcode"], result["comment"]) == (10030, "Unsupported filling mode")
    assert env.broker.order_send({**request, "type_filling": 1})["retcode"] == 10009
    assert env.deal(BUY, 0.1, type_filling=0)["retcode"] == 10009  # EURUSD allows FOK


def test_return_filling_allowed_outside_market_execution(env: Env) -> None:
    """RETURN is refused for market orders in market execution but allowed in instant."""
    assert env.deal(BUY, 0.1, type_filling=2)["retcode"] == 10030
    env.with_spec(trade_exemode=SYMBOL_TRADE_EXECUTION_INSTANT)
    assert env.deal(BUY, 0.1, type_filling=2, price=1.1001)["retcode"] == 10009


@pytest.mark.parametrize("mode", [SYMBOL_TRADE_EXECUTION_REQUEST, SYMBOL_TRADE_EXECUTION_INSTANT])
def test_request_and_instant_execution_take_any_filling_for_market_orders(env: Env,
                                                                         mode: int) -> None:
    """D6-3: "In the Request and Instant execution modes the Fill or Kill policy is always used
    for market orders ... there is no need to specify a fill policy" (SYMBOL_FILLING_MODE):
    on a symbol that allows IOC only, a market order's FOK, IOC or RETURN fills (FOK answered
    10030 before); a pending order's FOK is still refused, and BOC never fits a market order."""
    env.with_spec(trade_exemode=mode, filling_mode=2)
    for filling in (0, 1, 2):
        assert env.deal(BUY, 0.1, type_filling=filling, price=1.1001)["retcode"] == 10009
    assert env.deal(BUY, 0.1, type_filling=3, price=1.1001)["retcode"] == 10030
    assert env.pending(BUY_LIMIT, 1.0, 0.1, type_filling=0)["retcode"] == 10030


@pytest.mark.parametrize("mode", [SYMBOL_TRADE_EXECUTION_REQUEST, SYMBOL_TRADE_EXECUTION_INSTANT])
def test_request_and_instant_execution_need_the_price(env: Env, mode: int) -> None:
    """CS-1/D-5: only market (and exchange) execution takes a market order without ``price``;
    in request and instant execution the order and its close without one answer 10015, with
    one they fill."""
    env.with_spec(trade_exemode=mode)
    request = {"action": DEAL, "symbol": "EURUSD", "volume": 0.1, "type": BUY,
               "type_filling": 1}
    assert env.broker.order_check(request)["retcode"] == 10015
    result = env.broker.order_send(request)
    assert (result["retcode"], result["comment"]) == (10015, "Invalid price")
    opened = env.deal(BUY, 0.1, price=1.1001)
    assert opened["retcode"] == 10009
    assert env.deal(SELL, 0.1, position=opened["order"])["retcode"] == 10015
    assert env.deal(SELL, 0.1, position=opened["order"], price=1.1)["retcode"] == 10009


def test_instant_execution_requotes_beyond_deviation(env: Env) -> None:
    """Instant execution: a price more than `deviation` points off the market is requoted."""
    env.with_spec(trade_exemode=SYMBOL_TRADE_EXECUTION_INSTANT)
    result = env.deal(BUY, 0.1, price=1.1005, deviation=30)
    assert (result["retcode"], result["comment"]) == (10004, "Requote")
    result = env.deal(BUY, 0.1, price=1.1005, deviation=40)
    assert (result["retcode"], result["price"]) == (10009, 1.1001)


def test_market_execution_ignores_the_price(env: Env) -> None:
    """Market execution fills at Ask whatever non-negative price the request carries."""
    assert env.deal(BUY, 0.1, price=1.3)["price"] == 1.1001


def test_trade_disabled(env: Env) -> None:
    """A symbol with SYMBOL_TRADE_MODE_DISABLED answers 10017, even for closing."""
    env.deal(BUY, 0.1)
    env.with_spec(trade_mode=SYMBOL_TRADE_MODE_DISABLED)
    assert env.deal(BUY, 0.1)["retcode"] == 10017
    assert env.deal(SELL, 0.1, position=1001)["retcode"] == 10017


def test_long_short_and_close_only(env: Env) -> None:
    """LONGONLY refuses opening sells (10042), SHORTONLY buys (10043), CLOSEONLY both (10044)."""
    env.deal(BUY, 0.1)
    env.with_spec(trade_mode=SYMBOL_TRADE_MODE_LONGONLY)
    assert env.deal(SELL, 0.1)["retcode"] == 10042
    assert env.deal(BUY, 0.1)["retcode"] == 10009
    env.with_spec(trade_mode=SYMBOL_TRADE_MODE_SHORTONLY)
    assert env.deal(BUY, 0.1)["retcode"] == 10043
    env.with_spec(trade_mode=SYMBOL_TRADE_MODE_CLOSEONLY)
    assert env.deal(BUY, 0.1)["retcode"] == 10044
    assert env.deal(SELL, 0.1)["retcode"] == 10044
    assert env.deal(SELL, 0.1, position=1001)["retcode"] == 10009


def test_netting_reversal_in_long_only_mode(netting: Env) -> None:
    """Netting LONGONLY: reducing a long is allowed, reversing it into a short is 10042."""
    netting.deal(BUY, 1.0)
    netting.with_spec(trade_mode=SYMBOL_TRADE_MODE_LONGONLY)
    assert netting.deal(SELL, 2.0)["retcode"] == 10042
    assert netting.deal(SELL, 0.5)["retcode"] == 10009


def test_market_closed(env: Env) -> None:
    """Outside the trading sessions a market order answers 10018."""
    env.market.set_trading("EURUSD", False)
    result = env.deal(BUY, 0.1)
    assert (result["retcode"], result["comment"]) == (10018, "Market closed")


def test_no_quote_answers_price_off(env: Env) -> None:
    """A symbol without any tick yet answers 10021 (no prices)."""
    assert env.deal(BUY, 0.1, "XAUUSD")["retcode"] == 10021


def test_order_mode_without_market_orders(env: Env) -> None:
    """A symbol whose order_mode lacks SYMBOL_ORDER_MARKET answers 10035."""
    env.with_spec(order_mode=SYMBOL_ORDER_LIMIT)
    assert env.deal(BUY, 0.1)["retcode"] == 10035


def test_sl_not_allowed_by_order_mode(env: Env) -> None:
    """A symbol whose order_mode lacks SYMBOL_ORDER_SL refuses a stop loss with 10016."""
    env.with_spec(order_mode=1)  # market orders only
    assert env.deal(BUY, 0.1, sl=1.09)["retcode"] == 10016
    assert env.deal(BUY, 0.1)["retcode"] == 10009


def test_volume_limit(env: Env) -> None:
    """volume_limit caps the open volume in one direction (10034 LIMIT_VOLUME)."""
    env.with_spec(volume_limit=1.0)
    assert env.deal(BUY, 0.6)["retcode"] == 10009
    assert env.deal(BUY, 0.5)["retcode"] == 10034
    assert env.deal(SELL, 1.0)["retcode"] == 10009


def test_history_selection_by_dates_group_and_position(env: Env) -> None:
    """History selects by inclusive dates and group; ticket/position ignore the dates."""
    env.deal(BUY, 1.0)  # T0: order 1001, deal 1002
    env.quote("USDJPY", 150.0, 150.02, after_ms=10_000)
    env.deal(BUY, 0.1, "USDJPY")  # T0+10 s: order 1003, deal 1004
    env.quote("EURUSD", 1.1, 1.1001, after_ms=10_000)
    env.deal(SELL, 1.0, position=1001)  # T0+20 s: order 1005, deal 1006
    broker = env.broker
    assert [o["ticket"] for o in broker.history_orders_get(S0, S0 + 10)] == [1001, 1003]
    assert [o["ticket"] for o in broker.history_orders_get(S0 + 1, S0 + 20)] == [1003, 1005]
    assert broker.history_orders_total(S0, S0 + 20) == 3
    assert [o["ticket"] for o in broker.history_orders_get(S0, S0 + 20, group="*JPY*")] == [
        1003]
    assert [o["ticket"] for o in broker.history_orders_get(position=1001)] == [1001, 1005]
    assert [d["ticket"] for d in broker.history_deals_get(position=1001)] == [1002, 1006]
    assert [d["ticket"] for d in broker.history_deals_get(S0 + 5, S0 + 5)] == []
    assert broker.history_deals_total(S0, S0 + 20) == 4
    assert [d["ticket"] for d in broker.history_deals_get(S0, S0 + 20, group="!EUR*")] == [
        1000, 1004]
    assert broker.history_orders_get(ticket=1003)[0]["symbol"] == "USDJPY"


def test_positions_get_filters(env: Env) -> None:
    """positions_get selects by symbol, group and ticket."""
    env.deal(BUY, 0.1)
    env.deal(BUY, 0.1, "USDJPY")
    broker = env.broker
    assert [p["ticket"] for p in broker.positions_get(symbol="USDJPY")] == [1003]
    assert [p["ticket"] for p in broker.positions_get(group="EUR*")] == [1001]
    assert [p["ticket"] for p in broker.positions_get(ticket=1003)] == [1003]
    assert broker.positions_get(ticket=1) == []
