"""Swaps: charged at each server rollover from the published points, triple on Wednesday."""

from __future__ import annotations

import pytest

from daemon.tests.mt5model.broker_env import BUY, SELL, T0, Env
from mt5model.types import ALL_WEEK, TradingSession

_DAY_MS = 86_400_000
#: Monday to Friday, the whole day (T0 is Monday 10:00 server time).
_WEEKDAYS = tuple(TradingSession(day, 0, 1440) for day in range(5))
_MONDAY_MIDNIGHT = T0 - 10 * 3_600_000


@pytest.fixture
def env() -> Env:
    env = Env()
    env.with_spec(swap_long=-7.5, swap_short=2.1, sessions=_WEEKDAYS)
    return env


def _to(env: Env, when_msc: int) -> None:
    env.clock.advance(when_msc - env.clock())


def test_swap_is_charged_at_rollover_and_tripled_on_wednesday(env: Env) -> None:
    """1 lot long EURUSD at -7.5 points: -7.50 a night (Mon, Tue), -22.50 for Wednesday's."""
    env.deal(BUY, 1.0)
    _to(env, _MONDAY_MIDNIGHT + _DAY_MS - 1)
    assert env.broker.positions_get()[0]["swap"] == 0.0  # not before the rollover
    _to(env, _MONDAY_MIDNIGHT + _DAY_MS)
    (position,) = env.broker.positions_get()
    assert position["swap"] == -7.5
    info = env.broker.account_info()
    assert (info["profit"], info["equity"]) == (position["profit"] - 7.5, 10_000 - 10.0 - 7.5)
    _to(env, _MONDAY_MIDNIGHT + 3 * _DAY_MS + 1)  # Tuesday's and Wednesday's nights
    assert env.broker.positions_get()[0]["swap"] == -7.5 * 5


def test_closing_deal_realizes_the_swap_share(env: Env) -> None:
    """A partial close realizes its share of the swap in the deal and the balance."""
    env.deal(SELL, 1.0)
    _to(env, _MONDAY_MIDNIGHT + 2 * _DAY_MS)  # two nights at +2.10
    env.market.set_price("EURUSD", 1.1, 1.1001, env.clock())
    result = env.deal(BUY, 0.5, position=1001)
    (deal,) = env.broker.history_deals_get(ticket=result["order"])
    assert (deal["swap"], deal["profit"]) == (2.1, -5.0)
    assert env.broker.positions_get()[0]["swap"] == 2.1
    assert env.broker.account_info()["balance"] == 10_000 + 2.1 - 5.0


def test_symbol_trading_every_day_pays_each_night_once(env: Env) -> None:
    """A symbol with weekend sessions (crypto-style) has no triple day."""
    env.with_spec(sessions=ALL_WEEK)
    env.deal(BUY, 1.0)
    _to(env, _MONDAY_MIDNIGHT + 7 * _DAY_MS)
    assert env.broker.positions_get()[0]["swap"] == -7.5 * 7


def test_weekend_nights_are_not_charged_separately(env: Env) -> None:
    """Friday's night is one charge; Saturday and Sunday (closed) add nothing."""
    env.deal(BUY, 1.0)
    _to(env, _MONDAY_MIDNIGHT + 4 * _DAY_MS + 1)  # Mon, Tue, Wed (x3), Thu: 6 nights
    assert env.broker.positions_get()[0]["swap"] == -45.0
    _to(env, _MONDAY_MIDNIGHT + 7 * _DAY_MS + 1)  # Fri; Sat and Sun closed
    assert env.broker.positions_get()[0]["swap"] == -52.5
