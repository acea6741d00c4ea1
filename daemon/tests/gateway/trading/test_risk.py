"""The risk policy's rules, with the terminal's answers supplied by a small quote table."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import RiskLimit
from gateway.trading.gate import ORDER_RULES
from gateway.trading.risk import check_order
from mtgateway_base.wire.records import RiskPolicy

DEAL, PENDING, SLTP, REMOVE = 1, 5, 6, 8
BUY, SELL, BUY_LIMIT = 0, 1, 2


class Terminal:
    """Answers the three calls the risk check makes, for one symbol at 100.00/100.10,
    contract size 10, equity 10 000."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def __call__(self, method: str, params: dict[str, Any]) -> Any:
        self.calls.append(method)
        if method == "symbol_info_tick":
            return {"bid": 100.0, "ask": 100.1}
        if method == "order_calc_profit":
            sign = 1 if params["action"] == BUY else -1
            return sign * (params["price_close"] - params["price_open"]) * 10 * params["volume"]
        if method == "account_info":
            return {"equity": 10_000.0}
        raise AssertionError(method)


def order(**fields: Any) -> dict[str, Any]:
    return {"action": DEAL, "symbol": "XYZ", "volume": 1.0, "type": BUY, **fields}


async def refused(policy: RiskPolicy, request: dict[str, Any]) -> str:
    with pytest.raises(RiskLimit) as info:
        await check_order(policy, request, Terminal())
    return info.value.rule


async def test_default_policy_limits_nothing() -> None:
    """The permissive default lets any opening order through without asking the terminal."""
    terminal = Terminal()
    await check_order(RiskPolicy(), order(volume=50.0), terminal)
    assert terminal.calls == []


async def test_each_rule_refuses_with_its_name() -> None:
    """Symbols, lot size and a missing stop each name their rule (automation off is the trade
    gate's rule: daemon/tests/e2e/test_risk.py)."""
    assert await refused(RiskPolicy(allowed_symbols=("EURUSD",)), order()) == "allowed_symbols"
    assert await refused(RiskPolicy(max_lot_size="0.5"), order(volume=0.51)) == "max_lot_size"
    assert await refused(RiskPolicy(risk_pct="0.01"), order()) == "risk_pct"
    assert await refused(RiskPolicy(max_lot_size="1"),
                         order(action=PENDING, type=BUY_LIMIT, price=99.0, volume=2.0)
                         ) == "max_lot_size"


async def test_loss_at_the_stop_is_compared_with_equity() -> None:
    """risk_pct 1 % of 10 000 allows a 100 loss: a stop 10 away on 1 lot (loss 101) fails."""
    policy = RiskPolicy(risk_pct="0.01")
    await check_order(policy, order(sl=90.2), Terminal())  # loss (100.1-90.2)*10 = 99
    assert await refused(policy, order(sl=90.0)) == "risk_pct"  # loss 101
    await check_order(policy, order(type=SELL, sl=109.9), Terminal())  # sells fill at the bid


async def test_reducing_risk_is_never_refused() -> None:
    """Closes, SL/TP changes and removals pass even with automation off and tiny limits."""
    strict = RiskPolicy(allowed_symbols=("EURUSD",), max_lot_size="0.01",
                        auto_trade_enabled=False, risk_pct="0")
    terminal = Terminal()
    for request in (order(type=SELL, position=7, volume=5.0),
                    {"action": SLTP, "symbol": "XYZ", "position": 7, "sl": 1.0},
                    {"action": REMOVE, "order": 9}):
        await check_order(strict, request, terminal)
    assert terminal.calls == []


async def test_symbol_match_ignores_case() -> None:
    """allowed_symbols compares symbols case-insensitively."""
    await check_order(RiskPolicy(allowed_symbols=("eurusd",)), order(symbol="EURUSD"), Terminal())


async def test_the_rules_are_applied_in_the_gates_order() -> None:
    """The policy's rules are said in ``ORDER_RULES``' order (``market_closed`` among them is
    the desk's): an order breaking a rule and every one after it is refused the first."""
    policy = RiskPolicy(allowed_symbols=("XYZ",), max_lot_size="0.5", risk_pct="0.01")
    within: dict[str, Any] = {"symbol": "XYZ", "volume": 0.1, "sl": 99.0}
    breaking: list[dict[str, Any]] = [{"symbol": "ABC"}, {"volume": 0.51}, {"sl": 0}]
    await check_order(policy, order(**within), Terminal())
    said = []
    for first in range(len(breaking)):
        broken = dict(within)
        for fields in breaking[first:]:
            broken.update(fields)
        said.append(await refused(policy, order(**broken)))
    assert said == [rule for rule in ORDER_RULES
                    if rule in ("allowed_symbols", "max_lot_size", "risk_pct")]
