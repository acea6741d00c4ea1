"""What an order may say: the one set of bounds, the ``TradeRequest`` models and the comment tag.

Why one module: every door that builds an order -- ``order_send``, ``order_check``, the
convenience methods, the calculators and selectors of the trading reads -- validates with the
types below, so one price or volume gets one answer whichever door it comes through (a price the
``create_*`` methods refused used to pass ``order_send``). The values:

* :data:`MAX_PRICE` 1e9 price units: above any quoted instrument (BTC, indices, JPY crosses) by
  orders of magnitude;
* :data:`MAX_VOLUME` 1e6 lots: far above any broker's ``SYMBOL_VOLUME_MAX``, low enough that
  arithmetic on volumes stays exact;
* :data:`MAX_TICKET` 2**63 - 1: MT5 tickets are ``ulong`` and JSON integers beyond int64 are
  not portable;
* :data:`CLIENT_ID_PATTERN`: 1-24 of ``[A-Za-z0-9_-]`` (the contract's idempotency key).

A ``price``, ``sl``, ``tp`` or ``stoplimit`` of 0 in a raw ``TradeRequest`` means "none", as in
MT5, so :data:`Price` allows 0; a price a method requires (``open_price``) is
:data:`PositivePrice`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Final

from pydantic import Field

from mt5model.mt5 import OrderFilling, OrderTime, OrderType, TradeAction

from ..schemas import EpochSeconds, Params, Symbol, enum_param

if TYPE_CHECKING:
    ActionParam = int
    OrderTypeParam = int
    FillingParam = int
    TimeParam = int
else:
    ActionParam = enum_param(TradeAction)
    OrderTypeParam = enum_param(OrderType)
    FillingParam = enum_param(OrderFilling)
    TimeParam = enum_param(OrderTime)

__all__ = [
    "CLIENT_ID_PATTERN",
    "COMMENT_LENGTH",
    "MAX_PRICE",
    "MAX_TICKET",
    "MAX_VOLUME",
    "ActionParam",
    "ClientId",
    "Comment",
    "Deviation",
    "FillingParam",
    "Magic",
    "OrderTypeParam",
    "PositivePrice",
    "Price",
    "SendRequest",
    "Ticket",
    "TimeParam",
    "TradeRequest",
    "Volume",
    "comment_tag",
]

CLIENT_ID_PATTERN: Final = r"^[A-Za-z0-9_-]{1,24}$"
MAX_VOLUME: Final = 1_000_000.0
MAX_PRICE: Final = 1_000_000_000.0
MAX_TICKET: Final = 2**63 - 1
#: MT5's limit on an order's comment.
COMMENT_LENGTH: Final = 31
#: Deviation (slippage) in points.
_MAX_DEVIATION: Final = 1_000_000

Price = Annotated[float, Field(ge=0, le=MAX_PRICE)]
PositivePrice = Annotated[float, Field(gt=0, le=MAX_PRICE)]
Volume = Annotated[float, Field(gt=0, le=MAX_VOLUME)]
Ticket = Annotated[int, Field(ge=1, le=MAX_TICKET)]
Magic = Annotated[int, Field(ge=0, le=MAX_TICKET)]
Deviation = Annotated[int, Field(ge=0, le=_MAX_DEVIATION)]
Comment = Annotated[str, Field(max_length=COMMENT_LENGTH)]
ClientId = Annotated[str, Field(pattern=CLIENT_ID_PATTERN)]


class TradeRequest(Params):
    """MT5 ``TradeRequest``; absent fields are not sent (MT5 reads them as 0)."""

    action: ActionParam
    magic: Magic | None = None
    order: Ticket | None = None
    symbol: Symbol | None = None
    volume: Volume | None = None
    price: Price | None = None
    stoplimit: Price | None = None
    sl: Price | None = None
    tp: Price | None = None
    deviation: Deviation | None = None
    type: OrderTypeParam | None = None
    type_filling: FillingParam | None = None
    type_time: TimeParam | None = None
    expiration: EpochSeconds | None = None
    comment: Comment | None = None
    position: Ticket | None = None
    position_by: Ticket | None = None


class SendRequest(TradeRequest):
    """``order_send``'s request: a TradeRequest plus the optional idempotency key."""

    client_id: ClientId | None = None


def comment_tag(prefix: str, client_id: str) -> str:
    """The comment an order without one of the client's is stamped with when the user consents
    (``trading.comment_tag``), ``<prefix>:<id>``: a tag reconciliation can find it by
    (``trading.comment_prefix``, ``"g"``)."""
    return f"{prefix}:{client_id}"
