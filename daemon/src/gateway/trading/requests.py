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

A ``TradeRequest`` is read as the ``MetaTrader5`` package reads its dict, which fills every
field it is not given with MT5's zero value, so a zero means here what it means there. A
``price``, ``sl``, ``tp`` or ``stoplimit`` of 0 means "none" (:data:`Price` allows 0; a price a
method requires, ``open_price``, is :data:`PositivePrice`); an ``order``, ``position`` or
``position_by`` ticket of 0 and a ``symbol`` of ``""`` are left out (:data:`RequestTicket`,
:data:`RequestSymbol`), as if not given; and a ``volume`` of 0 is left out by the actions that
ignore the volume, while the two that need one (:data:`VOLUME_ACTIONS`, a deal and a pending
order) refuse it, naming the field. Why: the package's own echo of a request
(``OrderSendResult.request``) holds every field, zeros included, and code written for it
(request templates, agent servers) sends those zeros; each must be checked and sent as the
package would. A value no ticket or volume can have (negative, beyond the bounds) is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Final

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from mt5model.mt5 import OrderFilling, OrderTime, OrderType, TradeAction

from ..schemas import MAX_SYMBOL_LENGTH, SYMBOL_PATTERN, EpochSeconds, Params, enum_param

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
    "RequestSymbol",
    "RequestTicket",
    "RequestVolume",
    "SendRequest",
    "Ticket",
    "TimeParam",
    "TradeRequest",
    "VOLUME_ACTIONS",
    "Volume",
    "CommentTags",
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

#: The actions whose order has a volume: a deal and a pending order. The others (SL/TP,
#: modify, remove, close by) act on a ticket and ignore the request's volume, as MT5 does.
VOLUME_ACTIONS: Final = frozenset({TradeAction.DEAL, TradeAction.PENDING})


def _absent_if_zero(value: Any) -> Any:
    """MT5's zero value of a request field (``0``, ``""``): the field is absent."""
    return None if value in (0, "") else value


#: A ticket in a TradeRequest: 1 and up, or 0 for "none" (the package's value when not given).
RequestTicket = Annotated[int, Field(ge=0, le=MAX_TICKET), AfterValidator(_absent_if_zero)]
#: A symbol in a TradeRequest, or ``""`` for "none": the actions on a ticket need none.
RequestSymbol = Annotated[str, Field(max_length=MAX_SYMBOL_LENGTH,
                                     pattern=SYMBOL_PATTERN.pattern.removesuffix("+$") + "*$"),
                          AfterValidator(_absent_if_zero)]
#: A volume in a TradeRequest: 0 is "none", which only :data:`VOLUME_ACTIONS` refuse.
RequestVolume = Annotated[float, Field(ge=0, le=MAX_VOLUME)]


class TradeRequest(Params):
    """MT5 ``TradeRequest``, read as the ``MetaTrader5`` package reads it: a field left out,
    or holding MT5's zero value for "none" (an ``order``, ``position`` or ``position_by`` of
    0, a ``symbol`` of "", a ``volume`` of 0 where the action ignores it), is not sent and the
    terminal reads it as 0. A ``TRADE_ACTION_DEAL`` or ``TRADE_ACTION_PENDING`` needs a
    ``volume`` above 0."""

    action: ActionParam
    magic: Magic | None = None
    order: RequestTicket | None = None
    symbol: RequestSymbol | None = None
    volume: RequestVolume | None = Field(None, validate_default=True)
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
    position: RequestTicket | None = None
    position_by: RequestTicket | None = None

    @field_validator("volume")
    @classmethod
    def _volume_of_the_action(cls, volume: float | None, info: ValidationInfo
                              ) -> float | None:
        """A deal or a pending order needs a volume above 0; the other actions ignore it, so
        their 0 is absent. (An invalid ``action`` is reported on its own.)"""
        action = info.data.get("action")
        if action in VOLUME_ACTIONS:
            if not volume:
                raise ValueError(f"TRADE_ACTION_{TradeAction(action).name} needs a volume "
                                 "above 0 lots")
            return volume
        return volume or None


class SendRequest(TradeRequest):
    """``order_send``'s request: a TradeRequest plus the optional idempotency key."""

    client_id: ClientId | None = None


@dataclass(frozen=True, slots=True)
class CommentTags:
    """The comment tag an order's ``client_id`` gives, ``<prefix>:<id>``
    (``trading.comment_prefix``, ``"g"``), written once for the desk that stamps it and the
    reconciler that searches by it."""

    prefix: str
    #: Whether the user consented (``trading.comment_tag``): an order without a comment of
    #: the client's is stamped with its tag.
    stamped: bool

    def of(self, client_id: str) -> str:
        """The tag ``client_id``'s order carries if it was sent with one."""
        return f"{self.prefix}:{client_id}"

    def stamp(self, client_id: str) -> str | None:
        """The tag to stamp on ``client_id``'s order without a comment, or ``None``: the user
        did not consent, so the comment goes as written."""
        return self.of(client_id) if self.stamped else None
