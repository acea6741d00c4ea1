"""Account, calculators, Algo Trading switch, request type checks and the scripted market."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from daemon.tests.mt5model.broker_env import BUY, DEAL, SELL, T0
from daemon.tests.mt5model.broker_env import Env as BaseEnv
from ea_bridge.emulator.scripted import ScriptedMarket, sample_specs
from mt5model.types import (
    SYMBOL_CALC_MODE_CFD,
    AccountMarginMode,
    EmulatorError,
    ErrorCode,
    TradingSession,
)


class Env(BaseEnv):
    """The harness with US500 and XAUUSD quoted as well."""

    QUOTES = BaseEnv.QUOTES + (("US500", 5000.0, 5000.5), ("XAUUSD", 2000.0, 2000.3))


@pytest.fixture
def env() -> Env:
    return Env()


ACCOUNT_FIELDS = [
    "login", "trade_mode", "leverage", "limit_orders", "margin_so_mode", "trade_allowed",
    "trade_expert", "margin_mode", "currency_digits", "fifo_close", "balance", "credit",
    "profit", "equity", "margin", "margin_free", "margin_level", "margin_so_call",
    "margin_so_so", "margin_initial", "margin_maintenance", "assets", "liabilities",
    "commission_blocked", "name", "server", "currency", "company",
]


def test_account_info_reports_every_mt5_field_at_start(env: Env) -> None:
    """A fresh account reports MT5's AccountInfo fields with the constructor's values."""
    info = env.broker.account_info()
    assert list(info) == ACCOUNT_FIELDS
    assert info == {
        "login": 5001, "trade_mode": 0, "leverage": 100, "limit_orders": 200,
        "margin_so_mode": 0, "trade_allowed": True, "trade_expert": True, "margin_mode": 2,
        "currency_digits": 2, "fifo_close": False, "balance": 10000.0, "credit": 0.0,
        "profit": 0.0, "equity": 10000.0, "margin": 0.0, "margin_free": 10000.0,
        "margin_level": 0.0, "margin_so_call": 100.0, "margin_so_so": 50.0,
        "margin_initial": 0.0, "margin_maintenance": 0.0, "assets": 0.0, "liabilities": 0.0,
        "commission_blocked": 0.0, "name": "Demo Trader", "server": "Sim-Demo",
        "currency": "USD", "company": "MT Gateway Simulated Broker",
    }


def test_netting_account_reports_margin_mode_zero() -> None:
    """A netting account reports margin_mode ACCOUNT_MARGIN_MODE_RETAIL_NETTING (0)."""
    env = Env(margin_mode=AccountMarginMode.RETAIL_NETTING)
    assert env.broker.account_info()["margin_mode"] == 0


def test_initial_deposit_is_a_balance_deal(env: Env) -> None:
    """The history starts with the initial deposit as a DEAL_TYPE_BALANCE deal."""
    deals = env.broker.history_deals_get(0, T0 // 1000)
    assert deals == [{
        "ticket": 1000, "order": 0, "time": T0 // 1000, "time_msc": T0, "type": 2, "entry": 0,
        "magic": 0, "position_id": 0, "reason": 0, "volume": 0.0, "price": 0.0,
        "commission": 0.0, "swap": 0.0, "profit": 10000.0, "fee": 0.0, "symbol": "",
        "comment": "Initial deposit", "external_id": "",
    }]
    assert env.broker.history_deals_total(0, T0 // 1000) == 1


def test_calc_margin_forex_converts_margin_currency(env: Env) -> None:
    """FOREX margin is lots*contract/leverage in EUR, converted at the given EURUSD price."""
    assert env.broker.order_calc_margin(BUY, "EURUSD", 1.0, 1.1) == 1100.0
    assert env.broker.order_calc_margin(SELL, "EURUSD", 0.5, 1.2) == 600.0


def test_calc_margin_forex_in_account_currency(env: Env) -> None:
    """USDJPY margin is in USD already: 0.5 lot * 100 000 / 100 = 500."""
    assert env.broker.order_calc_margin(BUY, "USDJPY", 0.5, 150.0) == 500.0


def test_calc_margin_follows_account_leverage() -> None:
    """A 1:500 account needs a fifth of the 1:100 margin: 1 lot EURUSD at 1.1 = 220."""
    env = Env(leverage=500)
    assert env.broker.order_calc_margin(BUY, "EURUSD", 1.0, 1.1) == 220.0


def test_calc_margin_cfd_index(env: Env) -> None:
    """CFDINDEX margin: 2 lots * contract 1 * 5000 * margin rate 0.05 = 500."""
    assert env.broker.order_calc_margin(BUY, "US500", 2.0, 5000.0) == 500.0


def test_calc_margin_cfd_leverage(env: Env) -> None:
    """CFDLEVERAGE margin: 0.1 lot * 100 oz * 2000 / 100 = 200."""
    assert env.broker.order_calc_margin(SELL, "XAUUSD", 0.1, 2000.0) == 200.0


def test_calc_margin_cfd_ignores_leverage() -> None:
    """CFD margin: lots * contract * price * margin rate, without the account leverage."""
    specs = sample_specs()
    specs[2] = dataclasses.replace(specs[2], trade_calc_mode=SYMBOL_CALC_MODE_CFD,
                                   margin_rate=0.1)
    env = Env(specs, leverage=500)
    assert env.broker.order_calc_margin(BUY, "US500", 1.0, 5000.0) == 500.0


def test_calc_profit_forex_in_account_currency(env: Env) -> None:
    """EURUSD profit: (close - open) * 100 000 * lots, negated for a sell."""
    assert env.broker.order_calc_profit(BUY, "EURUSD", 1.0, 1.1, 1.105) == 500.0
    assert env.broker.order_calc_profit(SELL, "EURUSD", 1.0, 1.1, 1.105) == -500.0


def test_calc_profit_converts_jpy_at_the_closing_price(env: Env) -> None:
    """0.5 lot USDJPY 150 -> 151 earns 50 000 JPY, i.e. 50 000 / 151 = 331.13 USD."""
    assert env.broker.order_calc_profit(BUY, "USDJPY", 0.5, 150.0, 151.0) == 331.13


def test_calc_profit_converts_to_a_eur_account() -> None:
    """On a EUR account, USD profit is divided by EURUSD ask and JPY goes through USD."""
    env = Env(currency="EUR")
    assert env.broker.order_calc_profit(BUY, "XAUUSD", 1.0, 2000.0, 2010.0) == 909.01
    assert env.broker.order_calc_profit(BUY, "USDJPY", 0.5, 150.0, 151.0) == 301.0


def test_calc_rejects_bad_arguments(env: Env) -> None:
    """order_calc_* refuse an action other than BUY/SELL and name unknown symbols."""
    with pytest.raises(EmulatorError) as info:
        env.broker.order_calc_margin(2, "EURUSD", 1.0, 1.1)
    assert info.value.code == ErrorCode.INVALID_PARAMS
    assert info.value.message.startswith("action:")
    with pytest.raises(EmulatorError) as info:
        env.broker.order_calc_profit(BUY, "NOPE", 1.0, 1.1, 1.2)
    assert info.value.code == ErrorCode.NOT_FOUND
    with pytest.raises(EmulatorError) as info:
        env.broker.order_calc_margin(BUY, "EURUSD", "1", 1.1)  # type: ignore[arg-type]
    assert info.value.message.startswith("volume:")


def test_equity_and_margin_follow_an_open_position(env: Env) -> None:
    """Profit, equity, margin and margin level track the position at the current Bid."""
    env.deal(BUY, 1.0)
    info = env.broker.account_info()
    assert (info["profit"], info["equity"], info["margin"], info["margin_free"],
            info["margin_level"]) == (-10.0, 9990.0, 1100.1, 8889.9, 908.1)
    env.quote("EURUSD", 1.1051, 1.1052)
    info = env.broker.account_info()
    assert (info["balance"], info["profit"], info["equity"], info["margin"],
            info["margin_free"], info["margin_level"]) == (
        10000.0, 500.0, 10500.0, 1100.1, 9399.9, 954.46)


def test_jpy_position_profit_is_converted_live(env: Env) -> None:
    """A 0.5 lot USDJPY buy from 150.020 is worth 49 000 JPY / 151 = 324.50 USD at bid 151."""
    env.deal(BUY, 0.5, "USDJPY")
    env.quote("USDJPY", 151.0, 151.02)
    (position,) = env.broker.positions_get(symbol="USDJPY")
    assert position["profit"] == 324.5
    assert position["price_current"] == 151.0
    info = env.broker.account_info()
    assert info["margin"] == 500.0
    assert info["equity"] == 10324.5


def test_margin_level_is_zero_without_margin(env: Env) -> None:
    """With no position margin_level is 0, as MT5 reports it."""
    env.deal(BUY, 1.0)
    (position,) = env.broker.positions_get()
    env.deal(SELL, 1.0, position=position["ticket"])
    info = env.broker.account_info()
    assert info["margin"] == 0.0
    assert info["margin_level"] == 0.0
    assert info["balance"] == 9990.0


def test_algo_trading_off_rejects_order_send(env: Env) -> None:
    """With Algo Trading off order_send answers 10027 and trade_expert is False."""
    env.broker.set_trade_allowed(False)
    assert env.broker.account_info()["trade_expert"] is False
    result = env.deal(BUY, 1.0)
    assert result["retcode"] == 10027
    assert result["comment"] == "AutoTrading disabled by client"
    assert result["order"] == 0 and result["deal"] == 0
    assert env.broker.positions_total() == 0
    env.broker.set_trade_allowed(True)
    assert env.broker.account_info()["trade_expert"] is True
    assert env.deal(BUY, 1.0)["retcode"] == 10009


def test_algo_trading_switch_emits_account_update(env: Env) -> None:
    """Switching Algo Trading emits account_updated with the new trade_expert value."""
    env.broker.set_trade_allowed(False)
    (event,) = env.broker.drain_events()
    assert event["type"] == "account_updated"
    assert event["time_msc"] == T0
    assert event["account"]["trade_expert"] is False


def test_set_trade_allowed_requires_a_bool(env: Env) -> None:
    """set_trade_allowed refuses a non-bool with INVALID_PARAMS."""
    with pytest.raises(EmulatorError) as info:
        env.broker.set_trade_allowed(1)  # type: ignore[arg-type]
    assert info.value.code == ErrorCode.INVALID_PARAMS


@pytest.mark.parametrize(("request_", "field"), [
    ({"action": 1, "symbol": "EURUSD", "volume": "1.0", "type": 0}, "volume"),
    ({"action": True, "symbol": "EURUSD", "volume": 1.0, "type": 0}, "action"),
    ({"action": 1, "symbol": "EURUSD", "volume": 1.0, "type": 0, "magic": 1.5}, "magic"),
    ({"action": 1, "symbol": 7, "volume": 1.0, "type": 0}, "symbol"),
    ({"action": 1, "symbol": "EURUSD", "volume": 1.0, "type": 0, "sl": None}, "sl"),
    ({"action": 1, "symbol": "EURUSD", "volume": float("nan"), "type": 0}, "volume"),
    ({"action": 1, "symbol": "EURUSD", "volume": 1.0, "type": 0, "colour": 1}, "colour"),
    ({"action": 1, "symbol": "EURUSD", "volume": 1.0, "type": 0, "comment": 3}, "comment"),
    ({"action": 5, "symbol": "EURUSD", "volume": 1.0, "type": 2, "expiration": "x"},
     "expiration"),
])
def test_unreadable_request_raises_invalid_params(env: Env, request_: dict[str, Any],
                                                  field: str) -> None:
    """A request with a wrong value type or unknown key raises INVALID_PARAMS naming it."""
    for method in (env.broker.order_send, env.broker.order_check):
        with pytest.raises(EmulatorError) as info:
            method(request_)
        assert info.value.code == ErrorCode.INVALID_PARAMS
        assert info.value.message.startswith(f"{field}:")


def test_non_dict_request_raises_invalid_params(env: Env) -> None:
    """order_send of something that is not a dict raises INVALID_PARAMS on "request"."""
    with pytest.raises(EmulatorError) as info:
        env.broker.order_send([("action", 1)])  # type: ignore[arg-type]
    assert info.value.code == ErrorCode.INVALID_PARAMS
    assert info.value.message.startswith("request:")


def test_query_filters_are_type_checked(env: Env) -> None:
    """positions_get/orders_get/history_* refuse wrongly typed filters with INVALID_PARAMS."""
    calls: list[tuple[Callable[[], object], str]] = [
        (lambda: env.broker.positions_get(ticket="1"), "ticket"),  # type: ignore[arg-type]
        (lambda: env.broker.orders_get(symbol=1), "symbol"),  # type: ignore[arg-type]
        (lambda: env.broker.history_deals_get("x", 1), "date_from"),  # type: ignore[arg-type]
        (lambda: env.broker.history_orders_get(group=2), "group"),  # type: ignore[arg-type]
        (lambda: env.broker.history_orders_get(position=True), "position"),
    ]
    for call, field in calls:
        with pytest.raises(EmulatorError) as info:
            call()
        assert info.value.code == ErrorCode.INVALID_PARAMS
        assert info.value.message.startswith(f"{field}:")


def test_order_check_reports_the_account_after_the_trade(env: Env) -> None:
    """order_check answers retcode 0 "Done" with the post-trade account, changing nothing."""
    request = {"action": DEAL, "symbol": "EURUSD", "volume": 1.0, "type": BUY,
               "type_filling": 1}
    check = env.broker.order_check(request)
    assert check == {
        "retcode": 0, "balance": 10000.0, "equity": 9990.0, "profit": -10.0,
        "margin": 1100.1, "margin_free": 8889.9, "margin_level": 908.1, "comment": "Done",
        "request": {"action": 1, "magic": 0, "order": 0, "symbol": "EURUSD", "volume": 1.0,
                    "price": 0.0, "stoplimit": 0.0, "sl": 0.0, "tp": 0.0, "deviation": 0,
                    "type": 0, "type_filling": 1, "type_time": 0, "expiration": 0,
                    "comment": "", "position": 0, "position_by": 0},
    }
    assert env.broker.positions_total() == 0
    assert env.broker.drain_events() == []


def test_order_check_of_a_close_reports_the_realized_balance(env: Env) -> None:
    """Checking a full close shows the balance with the realized profit and no margin."""
    env.deal(BUY, 1.0)
    env.quote("EURUSD", 1.1021, 1.1022)
    (position,) = env.broker.positions_get()
    check = env.broker.order_check({"action": DEAL, "symbol": "EURUSD", "volume": 1.0,
                                    "type": SELL, "type_filling": 1,
                                    "position": position["ticket"]})
    assert (check["retcode"], check["balance"], check["equity"], check["margin"],
            check["margin_level"]) == (0, 10200.0, 10200.0, 0.0, 0.0)


def test_order_check_reports_a_rejection(env: Env) -> None:
    """order_check of a bad volume answers 10014 "Invalid volume" and the current account."""
    check = env.broker.order_check({"action": DEAL, "symbol": "EURUSD", "volume": 0.001,
                                    "type": BUY, "type_filling": 1})
    assert (check["retcode"], check["comment"], check["equity"], check["margin"]) == (
        10014, "Invalid volume", 10000.0, 0.0)


def test_no_money_rejects_a_trade_beyond_free_margin() -> None:
    """1 lot EURUSD needs 1 100.10 USD of margin: a 1 000 USD account gets 10019."""
    env = Env(balance=1000.0)
    assert env.deal(BUY, 1.0)["retcode"] == 10019
    assert env.deal(BUY, 1.0)["comment"] == "No money"
    assert env.deal(BUY, 0.5)["retcode"] == 10009
    assert env.broker.positions_total() == 1


# --------------------------------------------------------------------- the scripted market


def test_scripted_market_tick_lookup() -> None:
    """tick_at returns the last tick at or before the time; ticks_between is (after, until]."""
    market = ScriptedMarket(sample_specs())
    assert market.tick_at("EURUSD", 5) is None
    market.set_price("EURUSD", 1.1, 1.1001, 10)
    market.set_price("EURUSD", 1.2, 1.2001, 20)
    market.set_price("EURUSD", 1.3, 1.3001, 30)
    tick = market.tick_at("EURUSD", 25)
    assert tick is not None and tick.bid == 1.2 and tick.ask == 1.2001 and tick.flags == 6
    assert [t.time_msc for t in market.ticks_between("EURUSD", 10, 30)] == [20, 30]
    assert market.ticks_between("EURUSD", 30, 40) == []


def test_scripted_market_refuses_unknown_symbols_and_old_ticks() -> None:
    """Unknown symbols raise NOT_FOUND; a tick older than the last raises INVALID_PARAMS."""
    market = ScriptedMarket(sample_specs())
    with pytest.raises(EmulatorError) as info:
        market.spec("GBPUSD")
    assert info.value.code == ErrorCode.NOT_FOUND
    market.set_price("EURUSD", 1.1, 1.1001, 10)
    with pytest.raises(EmulatorError) as info:
        market.set_price("EURUSD", 1.1, 1.1001, 9)
    assert info.value.code == ErrorCode.INVALID_PARAMS
    assert [s.name for s in market.specs()] == ["EURUSD", "USDJPY", "US500", "XAUUSD"]


def test_scripted_market_sessions_and_override() -> None:
    """is_trading follows the spec's sessions (server weekday/minute) unless overridden."""
    weekdays = tuple(TradingSession(day, 60, 1200) for day in range(5))
    spec = dataclasses.replace(sample_specs()[0], sessions=weekdays)
    market = ScriptedMarket([spec])
    monday_0030 = T0 - 34_200_000
    saturday_noon = T0 + 5 * 86_400_000 + 7_200_000
    assert market.is_trading("EURUSD", T0) is True
    assert market.is_trading("EURUSD", monday_0030) is False
    assert market.is_trading("EURUSD", saturday_noon) is False
    market.set_trading("EURUSD", True)
    assert market.is_trading("EURUSD", saturday_noon) is True
    market.set_trading("EURUSD", None)
    assert market.is_trading("EURUSD", saturday_noon) is False


def test_first_ticket_numbers_orders_and_deals() -> None:
    """Tickets count up from first_ticket: the deposit deal, then the order and its deal."""
    env = Env(first_ticket=500_000)
    result = env.deal(BUY, 0.1)
    assert (result["order"], result["deal"]) == (500_001, 500_002)
    assert [d["ticket"] for d in env.broker.history_deals_get()] == [500_000, 500_002]
    assert env.broker.positions_get()[0]["identifier"] == 500_001
