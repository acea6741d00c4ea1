"""Pending orders, modifications, SL/TP, triggers, expiry and stop out as the price moves."""

from __future__ import annotations

from typing import Any

import pytest

from daemon.tests.mt5model.broker_env import (
    BUY,
    BUY_LIMIT,
    BUY_STOP,
    BUY_STOP_LIMIT,
    MODIFY,
    PENDING,
    REMOVE,
    S0,
    SELL,
    SELL_LIMIT,
    SELL_STOP,
    SELL_STOP_LIMIT,
    SLTP,
    T0,
    Env,
)
from mt5model.types import (
    SYMBOL_EXPIRATION_GTC,
    SYMBOL_ORDER_LIMIT,
    SYMBOL_ORDER_MARKET,
    SYMBOL_TRADE_MODE_CLOSEONLY,
)

END_OF_DAY = 1_704_153_600_000  # 2024-01-02 00:00:00


@pytest.fixture
def env() -> Env:
    return Env()


# ------------------------------------------------------------------------------- placement


def test_buy_limit_is_placed(env: Env) -> None:
    """A valid Buy Limit answers as a terminal's OrderSend does -- 10009 DONE with the order,
    its volume and the quote it was placed at (no deal, price 0) -- and is listed with every
    TradeOrder field."""
    result = env.pending(BUY_LIMIT, 1.098, sl=1.095, tp=1.105, magic=8, comment="dip")
    assert {k: result[k] for k in ("retcode", "order", "deal", "volume", "price", "bid", "ask",
                                   "comment")} \
        == {"retcode": 10009, "order": 1001, "deal": 0, "volume": 1.0, "price": 0.0,
            "bid": 1.1, "ask": 1.1001, "comment": "Request executed"}
    assert env.broker.orders_total() == 1
    assert env.broker.orders_get() == [{
        "ticket": 1001, "time_setup": S0, "time_setup_msc": T0, "time_done": 0,
        "time_done_msc": 0, "time_expiration": 0, "type": 2, "type_time": 0,
        "type_filling": 2, "state": 1, "magic": 8, "position_id": 0, "position_by_id": 0,
        "reason": 3, "volume_initial": 1.0, "volume_current": 1.0, "price_open": 1.098,
        "sl": 1.095, "tp": 1.105, "price_current": 1.1001, "price_stoplimit": 0.0,
        "symbol": "EURUSD", "comment": "dip", "external_id": "",
    }]
    (event,) = env.broker.drain_events()
    assert (event["type"], event["time_msc"], event["order"]["ticket"]) == (
        "order_added", T0, 1001)
    assert env.broker.account_info()["margin"] == 0.0


def test_sell_order_price_current_is_bid(env: Env) -> None:
    """A sell-side pending order reports the Bid as price_current; filters select it."""
    env.pending(SELL_LIMIT, 1.102)
    env.pending(BUY_LIMIT, 149.0, 0.1, "USDJPY", type_filling=1)
    (order,) = env.broker.orders_get(symbol="EURUSD")
    assert order["price_current"] == 1.1
    assert [o["ticket"] for o in env.broker.orders_get(group="USD*")] == [1002]
    assert [o["ticket"] for o in env.broker.orders_get(ticket=1001)] == [1001]


@pytest.mark.parametrize(("order_type", "price", "retcode"), [
    (BUY_LIMIT, 1.1, 10009),       # Ask - 10 points: exactly the stops level
    (BUY_LIMIT, 1.10001, 10015),   # 9 points below Ask
    (BUY_LIMIT, 1.1001, 10015),    # at Ask
    (BUY_LIMIT, 1.098005, 10015),  # off the tick grid
    (BUY_LIMIT, 0.0, 10015),
    (SELL_LIMIT, 1.1001, 10009),   # Bid + 10 points
    (SELL_LIMIT, 1.10009, 10015),
    (SELL_LIMIT, 1.099, 10015),    # below Bid
    (BUY_STOP, 1.1002, 10009),     # Ask + 10 points
    (BUY_STOP, 1.1, 10015),        # below Ask
    (SELL_STOP, 1.0999, 10009),    # Bid - 10 points
    (SELL_STOP, 1.1001, 10015),    # above Bid
])
def test_pending_price_rules(env: Env, order_type: int, price: float, retcode: int) -> None:
    """Pending prices must be on the right side of the market by the stops level (else 10015)."""
    assert env.pending(order_type, price)["retcode"] == retcode


@pytest.mark.parametrize(("order_type", "price", "stoplimit", "retcode"), [
    (BUY_STOP_LIMIT, 1.102, 1.101, 10009),
    (BUY_STOP_LIMIT, 1.102, 1.1025, 10015),   # limit above the stop price
    (BUY_STOP_LIMIT, 1.102, 1.10195, 10015),  # limit 5 points from the stop price
    (BUY_STOP_LIMIT, 1.102, 0.0, 10015),
    (BUY_STOP_LIMIT, 1.0995, 1.099, 10015),   # stop price below Ask
    (SELL_STOP_LIMIT, 1.098, 1.099, 10009),
    (SELL_STOP_LIMIT, 1.098, 1.097, 10015),   # limit below the stop price
])
def test_stop_limit_price_rules(env: Env, order_type: int, price: float, stoplimit: float,
                                retcode: int) -> None:
    """A Stop Limit's limit price lies behind its stop price by the stops level (else 10015)."""
    assert env.pending(order_type, price, stoplimit=stoplimit)["retcode"] == retcode


@pytest.mark.parametrize(("order_type", "price", "extra", "retcode"), [
    (BUY_LIMIT, 1.098, {"sl": 1.0985}, 10016),
    (BUY_LIMIT, 1.098, {"tp": 1.0975}, 10016),
    (BUY_LIMIT, 1.098, {"sl": 1.0979, "tp": 1.0981}, 10009),
    (BUY_LIMIT, 1.098, {"sl": 1.09795}, 10016),  # 5 points: inside the stops level
    (SELL_STOP, 1.098, {"sl": 1.0975}, 10016),
    (SELL_STOP, 1.098, {"sl": 1.099, "tp": 1.097}, 10009),
    (BUY_STOP_LIMIT, 1.102, {"stoplimit": 1.101, "sl": 1.1015}, 10016),
    (BUY_STOP_LIMIT, 1.102, {"stoplimit": 1.101, "sl": 1.1005, "tp": 1.1015}, 10009),
])
def test_pending_stops_are_relative_to_the_order_price(env: Env, order_type: int, price: float,
                                                       extra: dict[str, Any],
                                                       retcode: int) -> None:
    """Pending SL/TP are checked against the order (or stop-limit) price, not the market."""
    assert env.pending(order_type, price, **extra)["retcode"] == retcode


@pytest.mark.parametrize(("extra", "retcode"), [
    ({"type_time": 2, "expiration": S0 - 1}, 10022),
    ({"type_time": 2, "expiration": S0}, 10022),
    ({"type_time": 2}, 10022),
    ({"type_time": 9}, 10022),
    ({"type_time": 2, "expiration": S0 + 60}, 10009),
    ({"type_time": 3, "expiration": S0 - 3600}, 10009),  # today: ends at midnight
    ({"type_time": 3, "expiration": S0 - 86400}, 10022),  # yesterday
])
def test_pending_expiration_rules(env: Env, extra: dict[str, Any], retcode: int) -> None:
    """Expiration must be a known type_time with a future time (else 10022)."""
    assert env.pending(BUY_LIMIT, 1.098, **extra)["retcode"] == retcode


def test_expiration_mode_of_the_symbol(env: Env) -> None:
    """A symbol allowing only GTC refuses ORDER_TIME_DAY with 10022."""
    env.with_spec(expiration_mode=SYMBOL_EXPIRATION_GTC)
    result = env.pending(BUY_LIMIT, 1.098, type_time=1)
    assert (result["retcode"], result["comment"]) == (10022, "Invalid expiration")
    assert env.pending(BUY_LIMIT, 1.098)["retcode"] == 10009


def test_limit_orders(env: Env) -> None:
    """The account's limit_orders caps the number of pending orders (10033)."""
    env = Env(limit_orders=2)
    assert env.pending(BUY_LIMIT, 1.098)["retcode"] == 10009
    assert env.pending(BUY_LIMIT, 1.097)["retcode"] == 10009
    result = env.pending(BUY_LIMIT, 1.096)
    assert (result["retcode"], result["comment"]) == (10033, "Limit orders reached")


@pytest.mark.parametrize(("order_type", "order_mode", "retcode"), [
    (BUY, 127, 10035),
    (8, 127, 10035),
    (BUY_STOP, SYMBOL_ORDER_MARKET | SYMBOL_ORDER_LIMIT, 10035),
    (BUY_LIMIT, SYMBOL_ORDER_MARKET | SYMBOL_ORDER_LIMIT, 10009),
])
def test_pending_order_type_rules(env: Env, order_type: int, order_mode: int,
                                  retcode: int) -> None:
    """A non-pending type, or one the symbol's order_mode forbids, answers 10035."""
    env.with_spec(order_mode=order_mode)
    price = 1.1003 if order_type == BUY_STOP else 1.098
    assert env.pending(order_type, price)["retcode"] == retcode


def test_pending_filling_rules(env: Env) -> None:
    """RETURN is always allowed for pending orders; FOK still needs the symbol flag."""
    assert env.pending(BUY_LIMIT, 1.098)["retcode"] == 10009  # RETURN, market execution
    assert env.pending(BUY_LIMIT, 149.0, 0.1, "USDJPY", type_filling=0)["retcode"] == 10030
    assert env.pending(BUY_LIMIT, 149.0, 0.1, "USDJPY", type_filling=1)["retcode"] == 10009


def test_pending_needs_volume_open_market_and_mode(env: Env) -> None:
    """Pending orders need a volume (10013), an open market (10018) and no close-only mode."""
    result = env.broker.order_send({"action": PENDING, "symbol": "EURUSD", "type": BUY_LIMIT,
                                    "price": 1.098})
    assert result["retcode"] == 10013
    assert env.pending(BUY_LIMIT, 1.098, volume=0.123)["retcode"] == 10014
    env.market.set_trading("EURUSD", False)
    assert env.pending(BUY_LIMIT, 1.098)["retcode"] == 10018
    env.market.set_trading("EURUSD", None)
    env.with_spec(trade_mode=SYMBOL_TRADE_MODE_CLOSEONLY)
    assert env.pending(BUY_LIMIT, 1.098)["retcode"] == 10044


# ------------------------------------------------------------------------------ activation


def test_buy_limit_fills_at_ask_when_reached(env: Env) -> None:
    """A Buy Limit fills at the Ask of the first tick at or below its price."""
    env.pending(BUY_LIMIT, 1.098, sl=1.095, tp=1.105, magic=8)
    env.broker.drain_events()
    env.quote("EURUSD", 1.0985, 1.0986)
    assert env.broker.orders_total() == 1
    hit = env.quote("EURUSD", 1.0978, 1.0979)
    (position,) = env.broker.positions_get()
    assert (position["ticket"], position["identifier"], position["type"],
            position["price_open"], position["sl"], position["tp"], position["magic"],
            position["time_msc"]) == (1001, 1001, 0, 1.0979, 1.095, 1.105, 8, hit)
    assert env.broker.orders_total() == 0
    (order,) = env.broker.history_orders_get(ticket=1001)
    assert (order["state"], order["time_done_msc"], order["price_open"],
            order["volume_current"], order["position_id"], order["price_current"]) == (
        4, hit, 1.098, 0.0, 1001, 1.0979)
    (deal,) = env.broker.history_deals_get(position=1001)
    assert (deal["order"], deal["price"], deal["entry"], deal["reason"], deal["time_msc"]) == (
        1001, 1.0979, 0, 3, hit)
    events = env.broker.drain_events()
    assert [e["type"] for e in events] == ["order_removed", "deal_added", "position_opened",
                                           "account_updated"]
    assert events[0]["order"]["state"] == 4
    assert all(e["time_msc"] == hit for e in events)


def test_sell_stop_fills_at_bid_through_a_gap(env: Env) -> None:
    """A Sell Stop fills at the Bid of the triggering tick, even past its price (gap)."""
    env.pending(SELL_STOP, 1.099)
    env.quote("EURUSD", 1.095, 1.0951)
    (position,) = env.broker.positions_get()
    assert (position["type"], position["price_open"]) == (1, 1.095)


def test_buy_stop_and_sell_limit_trigger(env: Env) -> None:
    """Buy Stop fills once Ask reaches it; Sell Limit once Bid reaches it."""
    env.pending(BUY_STOP, 1.102)
    env.pending(SELL_LIMIT, 1.103)
    env.quote("EURUSD", 1.1018, 1.1019)
    assert env.broker.positions_total() == 0
    env.quote("EURUSD", 1.1019, 1.102)
    assert [(p["ticket"], p["price_open"]) for p in env.broker.positions_get()] == [
        (1001, 1.102)]
    env.quote("EURUSD", 1.103, 1.1031)
    assert [(p["ticket"], p["type"], p["price_open"]) for p in env.broker.positions_get()] == [
        (1001, 0, 1.102), (1002, 1, 1.103)]


def test_ticks_between_polls_are_all_processed(env: Env) -> None:
    """advance walks every tick since the last call: a short dip fills the limit order."""
    env.pending(BUY_LIMIT, 1.098)
    dip = env.clock.now_ms + 100
    env.market.set_price("EURUSD", 1.0975, 1.0976, dip)
    env.market.set_price("EURUSD", 1.099, 1.0991, dip + 100)
    env.clock.advance(1000)
    env.broker.advance()
    (deal,) = env.broker.history_deals_get(position=1001)
    assert (deal["price"], deal["time_msc"]) == (1.0976, dip)


def test_buy_stop_limit_becomes_a_buy_limit(env: Env) -> None:
    """A Buy Stop Limit turns into a Buy Limit at its stoplimit price, same ticket."""
    env.pending(BUY_STOP_LIMIT, 1.102, stoplimit=1.101)
    env.broker.drain_events()
    reached = env.quote("EURUSD", 1.102, 1.1021)
    (order,) = env.broker.orders_get()
    assert (order["ticket"], order["type"], order["price_open"], order["price_stoplimit"]) == (
        1001, BUY_LIMIT, 1.101, 0.0)
    (event,) = env.broker.drain_events()
    assert (event["type"], event["time_msc"], event["order"]["type"]) == (
        "order_updated", reached, BUY_LIMIT)
    assert env.broker.positions_total() == 0
    env.quote("EURUSD", 1.1008, 1.1009)
    (position,) = env.broker.positions_get()
    assert (position["ticket"], position["type"], position["price_open"]) == (1001, 0, 1.1009)


def test_sell_stop_limit_becomes_a_sell_limit(env: Env) -> None:
    """A Sell Stop Limit turns into a Sell Limit when Bid reaches the stop price."""
    env.pending(SELL_STOP_LIMIT, 1.098, stoplimit=1.099)
    env.quote("EURUSD", 1.0979, 1.098)
    assert env.broker.orders_get()[0]["type"] == SELL_LIMIT
    env.quote("EURUSD", 1.0991, 1.0992)
    (position,) = env.broker.positions_get()
    assert (position["type"], position["price_open"]) == (1, 1.0991)


def test_pending_without_money_is_rejected_on_activation() -> None:
    """A triggered order the account cannot afford leaves the book with state REJECTED."""
    env = Env(balance=1000.0)
    env.pending(BUY_LIMIT, 1.098)
    env.broker.drain_events()
    env.quote("EURUSD", 1.0978, 1.0979)
    assert env.broker.positions_total() == 0
    (order,) = env.broker.history_orders_get(ticket=1001)
    assert order["state"] == 5
    assert [e["type"] for e in env.broker.drain_events()] == ["order_removed"]


# ---------------------------------------------------------------------------------- expiry


def test_specified_expiration(env: Env) -> None:
    """ORDER_TIME_SPECIFIED expires at `expiration` even without ticks (state EXPIRED)."""
    env.pending(BUY_LIMIT, 1.098, type_time=2, expiration=S0 + 3600)
    assert env.broker.orders_get()[0]["time_expiration"] == S0 + 3600
    env.broker.drain_events()
    env.clock.advance(3_599_999)
    assert env.broker.orders_total() == 1
    env.clock.advance(5000)
    assert env.broker.orders_total() == 0
    (order,) = env.broker.history_orders_get(ticket=1001)
    assert (order["state"], order["time_done_msc"], order["volume_current"]) == (
        6, T0 + 3_600_000, 1.0)
    (event,) = env.broker.drain_events()
    assert (event["type"], event["time_msc"], event["order"]["state"]) == (
        "order_removed", T0 + 3_600_000, 6)


def test_day_order_expires_at_end_of_server_day(env: Env) -> None:
    """ORDER_TIME_DAY lives until midnight of the server day it was placed."""
    env.pending(BUY_LIMIT, 1.098, type_time=1)
    env.clock.now_ms = END_OF_DAY - 1
    assert env.broker.orders_total() == 1
    env.clock.now_ms = END_OF_DAY
    assert env.broker.orders_total() == 0
    assert env.broker.history_orders_get(ticket=1001)[0]["time_done_msc"] == END_OF_DAY


def test_specified_day_expires_at_end_of_that_day(env: Env) -> None:
    """ORDER_TIME_SPECIFIED_DAY lives until midnight of the expiration's day."""
    env.pending(BUY_LIMIT, 1.098, type_time=3, expiration=S0 + 2 * 86400)
    expires = END_OF_DAY + 2 * 86_400_000
    env.clock.now_ms = expires - 1
    assert env.broker.orders_total() == 1
    env.clock.now_ms = expires + 10
    assert env.broker.history_orders_get(ticket=1001)[0]["state"] == 6


def test_expiry_comes_before_a_later_trigger(env: Env) -> None:
    """An order expired at 10 s is not filled by a tick at 20 s processed in the same walk."""
    env.pending(BUY_LIMIT, 1.098, type_time=2, expiration=S0 + 10)
    env.market.set_price("EURUSD", 1.097, 1.0971, T0 + 20_000)
    env.clock.advance(30_000)
    env.broker.advance()
    assert env.broker.positions_total() == 0
    assert env.broker.history_orders_get(ticket=1001)[0]["state"] == 6


# ---------------------------------------------------------------------- modify and remove


def test_modify_pending_order(env: Env) -> None:
    """TRADE_ACTION_MODIFY moves price/SL/TP; the same values again answer 10025."""
    env.pending(BUY_LIMIT, 1.098)
    env.broker.drain_events()
    request = {"action": MODIFY, "order": 1001, "price": 1.097, "sl": 1.095,
               "type_time": 2, "expiration": S0 + 600}
    result = env.broker.order_send(request)
    assert (result["retcode"], result["order"]) == (10009, 1001)
    (order,) = env.broker.orders_get()
    assert (order["price_open"], order["sl"], order["tp"], order["type_time"],
            order["time_expiration"]) == (1.097, 1.095, 0.0, 2, S0 + 600)
    (event,) = env.broker.drain_events()
    assert (event["type"], event["order"]["price_open"]) == ("order_updated", 1.097)
    again = env.broker.order_send(request)
    assert (again["retcode"], again["comment"]) == (10025, "No changes")


@pytest.mark.parametrize(("changes", "retcode"), [
    ({"price": 1.1001}, 10015),
    ({"sl": 1.0985}, 10016),
    ({"type_time": 2, "expiration": S0 - 5}, 10022),
    ({"order": 4242}, 10013),
    ({"order": 0}, 10013),
])
def test_modify_rejections(env: Env, changes: dict[str, Any], retcode: int) -> None:
    """Modifications are checked like placements; unknown orders answer 10013."""
    env.pending(BUY_LIMIT, 1.098)
    result = env.broker.order_send({"action": MODIFY, "order": 1001, "price": 1.097, **changes})
    assert result["retcode"] == retcode
    assert env.broker.orders_get()[0]["price_open"] == 1.098


def test_remove_pending_order(env: Env) -> None:
    """TRADE_ACTION_REMOVE cancels the order into the history (state CANCELED)."""
    env.pending(SELL_LIMIT, 1.102)
    env.broker.drain_events()
    now = env.clock.advance(500)
    result = env.broker.order_send({"action": REMOVE, "order": 1001})
    assert (result["retcode"], result["order"]) == (10009, 1001)
    assert env.broker.orders_total() == 0
    (order,) = env.broker.history_orders_get(ticket=1001)
    assert (order["state"], order["time_done_msc"], order["volume_current"]) == (2, now, 1.0)
    (event,) = env.broker.drain_events()
    assert (event["type"], event["order"]["state"]) == ("order_removed", 2)
    assert env.broker.order_send({"action": REMOVE, "order": 1001})["retcode"] == 10013


def test_frozen_pending_order(env: Env) -> None:
    """Within the freeze level (5 points) of its price an order can't be modified or removed."""
    env.pending(BUY_LIMIT, 1.099)
    env.quote("EURUSD", 1.09893, 1.09903)  # Ask 3 points above the order price
    assert env.broker.orders_total() == 1
    modify = env.broker.order_send({"action": MODIFY, "order": 1001, "price": 1.097})
    assert (modify["retcode"], modify["comment"]) == (10029, "Order or position frozen")
    assert env.broker.order_send({"action": REMOVE, "order": 1001})["retcode"] == 10029
    env.quote("EURUSD", 1.0995, 1.0996)
    assert env.broker.order_send({"action": REMOVE, "order": 1001})["retcode"] == 10009


# ----------------------------------------------------------------------- SL/TP of positions


def test_modify_position_sltp(env: Env) -> None:
    """TRADE_ACTION_SLTP sets SL/TP; the same values answer 10025; events follow."""
    env.deal(BUY, 1.0)
    env.broker.drain_events()
    now = env.clock.advance(100)
    request = {"action": SLTP, "position": 1001, "sl": 1.095, "tp": 1.105}
    assert env.broker.order_send(request)["retcode"] == 10009
    (position,) = env.broker.positions_get()
    assert (position["sl"], position["tp"], position["time_update_msc"]) == (1.095, 1.105, now)
    (event,) = env.broker.drain_events()
    assert (event["type"], event["position"]["sl"]) == ("position_updated", 1.095)
    assert env.broker.order_send(request)["retcode"] == 10025
    assert env.broker.order_send({"action": SLTP, "position": 1001})["retcode"] == 10009
    assert env.broker.positions_get()[0]["sl"] == 0.0


@pytest.mark.parametrize(("request_", "retcode"), [
    ({"position": 1001, "sl": 1.1005}, 10016),
    ({"position": 1001, "tp": 1.10005}, 10016),
    ({"position": 999, "sl": 1.09}, 10036),
    ({"symbol": "EURUSD", "sl": 1.09}, 10013),
    ({"position": 1001, "symbol": "USDJPY", "sl": 1.09}, 10013),
])
def test_sltp_rejections(env: Env, request_: dict[str, Any], retcode: int) -> None:
    """SLTP on the wrong side (10016), of an unknown position (10036) or unnamed (10013)."""
    env.deal(BUY, 1.0)
    assert env.broker.order_send({"action": SLTP, **request_})["retcode"] == retcode


def test_frozen_position_stops(env: Env) -> None:
    """A position whose SL is within the freeze level of the market can't be modified."""
    env.deal(BUY, 1.0, sl=1.099)
    env.quote("EURUSD", 1.09903, 1.09913)
    result = env.broker.order_send({"action": SLTP, "position": 1001, "sl": 1.095})
    assert result["retcode"] == 10029
    assert env.broker.positions_get()[0]["sl"] == 1.099


def test_stop_loss_closes_a_buy_at_bid(env: Env) -> None:
    """A buy's SL triggers when Bid reaches it and closes at that Bid with reason SL."""
    env.deal(BUY, 1.0, sl=1.095, magic=12)
    env.quote("EURUSD", 1.096, 1.0961)
    assert env.broker.positions_total() == 1
    env.broker.drain_events()
    hit = env.quote("EURUSD", 1.0949, 1.095)
    assert env.broker.positions_total() == 0
    deals = env.broker.history_deals_get(position=1001)
    assert [(d["entry"], d["reason"], d["price"], d["profit"], d["type"]) for d in deals] == [
        (0, 3, 1.1001, 0.0, 0), (1, 4, 1.0949, -520.0, 1)]
    assert (deals[1]["comment"], deals[1]["magic"], deals[1]["time_msc"]) == (
        "[sl 1.09500]", 12, hit)
    (close,) = env.broker.history_orders_get(ticket=deals[1]["order"])
    assert (close["reason"], close["type"], close["position_id"], close["state"]) == (
        4, 1, 1001, 4)
    assert env.broker.account_info()["balance"] == 9480.0
    assert [e["type"] for e in env.broker.drain_events()] == [
        "deal_added", "position_closed", "account_updated"]


def test_take_profit_closes_a_sell_at_ask(env: Env) -> None:
    """A sell's TP triggers when Ask reaches it and closes at that Ask with reason TP."""
    env.deal(SELL, 1.0, tp=1.095)
    env.quote("EURUSD", 1.094, 1.0948)
    (deal,) = env.broker.history_deals_get(position=1001)[1:]
    assert (deal["reason"], deal["price"], deal["profit"], deal["comment"]) == (
        5, 1.0948, 520.0, "[tp 1.09500]")
    assert env.broker.account_info()["balance"] == 10520.0


def test_triggers_follow_time_across_symbols(env: Env) -> None:
    """Ticks of several symbols are processed in time order, not symbol order."""
    env.deal(BUY, 1.0, sl=1.095)
    env.deal(BUY, 0.1, "USDJPY", sl=149.0)
    env.market.set_price("USDJPY", 148.9, 148.92, T0 + 1000)
    env.market.set_price("EURUSD", 1.094, 1.0941, T0 + 2000)
    env.clock.advance(3000)
    env.broker.advance()
    closes = [d for d in env.broker.history_deals_get(S0, S0 + 5) if d["entry"] == 1]
    assert [(d["symbol"], d["time_msc"], d["ticket"]) for d in closes] == [
        ("USDJPY", T0 + 1000, 1006), ("EURUSD", T0 + 2000, 1008)]


# ------------------------------------------------------------------------------- stop out


def test_stop_out_closes_below_the_stop_out_level() -> None:
    """Margin level below margin_so_so (50 %) closes the position with reason SO."""
    env = Env(balance=2000.0)
    env.deal(BUY, 1.0)  # margin 1100.10
    env.quote("EURUSD", 1.09, 1.0901)  # equity 990: 89.99 %, margin call but no stop out
    info = env.broker.account_info()
    assert (info["equity"], info["margin_level"]) == (990.0, 89.99)
    assert env.broker.positions_total() == 1
    env.quote("EURUSD", 1.085, 1.0851)  # equity 490: 44.54 %
    assert env.broker.positions_total() == 0
    (deal,) = env.broker.history_deals_get(position=1001)[1:]
    assert (deal["reason"], deal["price"], deal["profit"], deal["comment"]) == (
        6, 1.085, -1510.0, "[so 44.54%]")
    assert env.broker.history_orders_get(ticket=deal["order"])[0]["reason"] == 6
    assert env.broker.account_info()["balance"] == 490.0


def test_stop_out_closes_the_most_losing_position_first() -> None:
    """Stop out closes the worst position, then stops once the level is restored."""
    env = Env(balance=2000.0)
    env.deal(BUY, 1.0)   # 1001 at 1.10010
    env.deal(SELL, 0.5)  # 1003 at 1.10000
    env.quote("EURUSD", 1.07, 1.0701)  # buy -3010, sell +1495: equity 485 of 1650.10
    assert [p["ticket"] for p in env.broker.positions_get()] == [1003]
    info = env.broker.account_info()
    assert (info["balance"], info["equity"], info["margin"], info["margin_level"]) == (
        -1010.0, 485.0, 550.0, 88.18)


# ------------------------------------------------------------------------------- advance


def test_advance_is_idle_without_positions_or_orders(env: Env) -> None:
    """With nothing open advance reads no ticks; with a position it walks its symbol."""
    for _ in range(3):
        env.clock.advance(20)
        env.broker.advance()
    env.broker.account_info()
    assert env.market.walks == 0
    env.deal(BUY, 0.1)
    env.clock.advance(20)
    env.broker.advance()
    assert env.market.walks == 1
    env.broker.advance()  # the clock did not move
    assert env.market.walks == 1
