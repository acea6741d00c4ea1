"""Balance and credit operations of the broker engine (the paper book's deposits,
withdrawals and credit): each is a deal in the history, applied once per operation id, and
refused with NO_MONEY beyond what the account can give."""

from __future__ import annotations

import pytest

from daemon.tests.mt5model.broker_env import BUY, Env
from mt5model.types import EmulatorError

DONE, NO_MONEY = 10009, 10019
BALANCE, CREDIT = 2, 3


def test_a_deposit_is_a_balance_deal_applied_once_per_operation_id() -> None:
    """A deposit adds to the balance as a DEAL_TYPE_BALANCE deal with its comment; the same
    operation id asked again answers the same deal and moves nothing."""
    env = Env()
    first = env.broker.balance_operation("op-1", "deposit", 250.5, "Top up")
    assert (first["retcode"], first["balance"]) == (DONE, 10_250.5)
    again = env.broker.balance_operation("op-1", "deposit", 250.5, "Top up")
    assert again["deal"] == first["deal"] and again["balance"] == 10_250.5
    deals = env.broker.history_deals_get(0, 2**40)
    money = [d for d in deals if d["type"] == BALANCE]
    assert [(d["profit"], d["comment"]) for d in money] == [(10_000.0, "Initial deposit"),
                                                             (250.5, "Top up")]
    assert money[1]["ticket"] == first["deal"]
    assert env.broker.account_info()["balance"] == 10_250.5
    events = [e["type"] for e in env.broker.drain_events()]
    assert events.count("deal_added") == 1 and "account_updated" in events


def test_a_withdrawal_beyond_the_free_margin_is_refused_and_moves_nothing() -> None:
    """A withdrawal takes from the balance; one beyond the free margin answers NO_MONEY and
    leaves no deal."""
    env = Env()
    env.deal(BUY, 5.0)  # margin in use: 5 lots of EURUSD at 1:100
    free = env.broker.account_info()["margin_free"]
    refused = env.broker.balance_operation("w-1", "withdraw", free + 1)
    assert refused["retcode"] == NO_MONEY and refused["deal"] == 0
    assert env.broker.account_info()["balance"] == 10_000.0
    done = env.broker.balance_operation("w-2", "withdraw", 100)
    assert done["retcode"] == DONE and done["balance"] == 9_900.0
    assert env.broker.history_deals_get(0, 2**40)[-1]["profit"] == -100.0


def test_credit_counts_in_equity_not_balance_and_cannot_go_below_zero() -> None:
    """Credit raises equity and free margin, not the balance (a DEAL_TYPE_CREDIT deal);
    taking away more than was given is refused."""
    env = Env()
    env.broker.balance_operation("c-1", "credit", 500)
    info = env.broker.account_info()
    assert (info["balance"], info["credit"], info["equity"]) == (10_000.0, 500.0, 10_500.0)
    assert env.broker.balance_operation("c-2", "credit", -600)["retcode"] == NO_MONEY
    assert env.broker.balance_operation("c-3", "credit", -200)["retcode"] == DONE
    assert env.broker.account_info()["credit"] == 300.0
    credits = [d["profit"] for d in env.broker.history_deals_get(0, 2**40)
               if d["type"] == CREDIT]
    assert credits == [500.0, -200.0]


def test_operations_survive_a_snapshot_and_bad_ones_are_refused() -> None:
    """Credit and the applied operation ids are part of the snapshot (a restored book still
    refuses to apply an operation twice); a zero or negative deposit is a bad request."""
    env = Env()
    env.broker.balance_operation("op-1", "credit", 50)
    saved = env.broker.snapshot()
    other = Env()
    other.broker.restore(saved)
    assert other.broker.account_info()["credit"] == 50.0
    assert other.broker.balance_operation("op-1", "credit", 50)["credit"] == 50.0
    old = {k: v for k, v in saved.items() if k not in ("credit", "operations")}
    Env().broker.restore(old)  # a book saved before these operations still loads
    for kind, amount in (("deposit", 0), ("deposit", -5), ("withdraw", -1),
                         ("bonus", 5), ("credit", float("nan"))):
        with pytest.raises(EmulatorError):
            env.broker.balance_operation("x", kind, amount)
