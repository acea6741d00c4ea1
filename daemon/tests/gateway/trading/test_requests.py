"""A ``TradeRequest`` read as the ``MetaTrader5`` package reads its dict (``requests.py``).

The package fills every field it is not given with MT5's zero value, and echoes a request with
every field (``OrderSendResult.request``). Each test below is a row of docs/client.md's table
"What a zero means in a request": the value the package reads as "none" is left out, as if not
given; what no ticket or volume can be is refused with -32602 naming the field (issue 43
item 1; before, every zero ticket and every 0 volume was refused, so the package's own echo
could not be checked or sent again).
"""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import InvalidParams
from gateway.schemas import parse
from gateway.trading.requests import SendRequest, TradeRequest
from mt5model.mt5 import TradeAction

#: Every field of the package's TradeRequest at its zero value, as its echo carries them.
ZEROS: dict[str, Any] = {
    "action": 0, "magic": 0, "order": 0, "symbol": "", "volume": 0.0, "price": 0.0,
    "stoplimit": 0.0, "sl": 0.0, "tp": 0.0, "deviation": 0, "type": 0, "type_filling": 0,
    "type_time": 0, "expiration": 0, "comment": "", "position": 0, "position_by": 0}
#: What is sent of ZEROS whatever the action: the zeros that are values (magic 0, an empty
#: comment, FOK, GTC, ORDER_TYPE_BUY) or that MT5 reads as "none" in the field itself
#: (prices, deviation, expiration).
KEPT: dict[str, Any] = {k: v for k, v in ZEROS.items()
                        if k not in ("action", "order", "symbol", "volume", "position",
                                     "position_by")}


def sent(request: dict[str, Any]) -> dict[str, Any]:
    """What the desk sends of ``request`` (absent fields left out)."""
    return parse(SendRequest, (), request).model_dump(exclude_none=True)


@pytest.mark.parametrize("action", [TradeAction.SLTP, TradeAction.MODIFY, TradeAction.REMOVE,
                                    TradeAction.CLOSE_BY])
def test_the_packages_echo_of_an_action_on_a_ticket_is_accepted(action: TradeAction) -> None:
    """The package's full template for an action on a ticket, its tickets set: the empty
    symbol and the 0 volume (which the action ignores) are left out."""
    request = {**ZEROS, "action": int(action), "order": 7, "position": 8, "position_by": 9}
    assert sent(request) == {**KEPT, "action": action, "order": 7, "position": 8,
                             "position_by": 9}


@pytest.mark.parametrize("field", ["order", "position", "position_by"])
def test_a_zero_ticket_is_none(field: str) -> None:
    """A deal with ``field`` 0 (metatrader-mcp-server always sends ``position: 0``) is the
    deal without it: a new position, not a close of ticket 0."""
    deal = {"action": 1, "symbol": "EURUSD", "type": 0, "volume": 0.1}
    assert sent({**deal, field: 0}) == sent(deal) == deal


def test_a_deal_echoed_whole_is_the_deal() -> None:
    """A market deal as the package echoes it (every field, zeros included) is accepted, and
    sends what the deal said plus the zeros that are values."""
    echo = {**ZEROS, "action": 1, "symbol": "BTCUSD", "volume": 0.01, "type_filling": 1}
    assert sent(echo) == {**KEPT, "action": 1, "symbol": "BTCUSD", "volume": 0.01,
                          "type_filling": 1}


@pytest.mark.parametrize("action", [TradeAction.SLTP, TradeAction.MODIFY, TradeAction.REMOVE,
                                    TradeAction.CLOSE_BY])
def test_a_volume_the_action_ignores_goes_as_written(action: TradeAction) -> None:
    """Only 0 is "none": a volume an action on a ticket ignores is still sent as written."""
    assert sent({"action": int(action), "volume": 0.5})["volume"] == 0.5


@pytest.mark.parametrize("request_, message", [
    ({"action": 1, "symbol": "EURUSD", "volume": 0.0},
     "volume: TRADE_ACTION_DEAL needs a volume above 0 lots"),
    ({"action": 1, "symbol": "EURUSD"}, "volume: TRADE_ACTION_DEAL needs a volume above 0 lots"),
    ({"action": 5, "symbol": "EURUSD", "type": 2, "price": 1.0, "volume": 0},
     "volume: TRADE_ACTION_PENDING needs a volume above 0 lots"),
    ({"action": 6, "position": -1}, "position: Input should be greater than or equal to 0"),
    ({"action": 8, "order": -5}, "order: Input should be greater than or equal to 0"),
    ({"action": 10, "position": 1, "position_by": -1},
     "position_by: Input should be greater than or equal to 0"),
    ({"action": 6, "position": 1, "volume": -0.1},
     "volume: Input should be greater than or equal to 0"),
    ({"action": 1, "symbol": "EUR USD", "volume": 0.1}, "symbol: String should match pattern"),
    ({"action": 6, "position": True}, "position: Input should be a valid integer"),
    ({"action": 6, "position": 2**63}, "position: Input should be less than or equal to"),
])
def test_what_no_ticket_or_volume_can_be_is_refused_naming_the_field(
        request_: dict[str, Any], message: str) -> None:
    """A deal or a pending order without a volume, a negative ticket or volume, a symbol no
    terminal has, a boolean or too large ticket: -32602 naming the field."""
    with pytest.raises(InvalidParams) as refused:
        sent(request_)
    assert message in str(refused.value), refused.value


def test_an_invalid_action_is_reported_alone() -> None:
    """An unknown action is named; the volume rule, which depends on it, adds nothing."""
    with pytest.raises(InvalidParams) as refused:
        sent({"action": 99, "volume": 0})
    assert str(refused.value) == "action: 99 is not a valid TRADE_ACTION_* value"


def test_order_check_reads_the_same() -> None:
    """``order_check``'s request (no ``client_id``) reads the zeros the same way."""
    echo = {**ZEROS, "action": 8, "order": 3}
    assert parse(TradeRequest, (), echo).model_dump(exclude_none=True) == \
        {**KEPT, "action": 8, "order": 3}
