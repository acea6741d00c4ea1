"""What both sides of the MT4 Web API document answer alike: the bases of every body, the
health answer, and the two MT4 Manager records (``TradeRecord``, ``MarginLevel``) field by field.

The daemon answers a record for its one terminal; the console answers the same record with
the terminal's ``server`` after the login and the time a daemon read it (``as_of``) last. So
each record is declared here in parts -- its key, where it is, the rest -- and each side puts
the parts together. pydantic orders a model's fields by its bases from the last to the first,
then its own: ``class TradeRecord(TradeFields, Placed, TradeKey, Out)`` reads ``order``,
``login``, ``server``, then the trade, and the OpenAPI documents list them in that order.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "MAX_LOGIN",
    "HealthOut",
    "In",
    "MarginFields",
    "MarginKey",
    "Out",
    "Placed",
    "TradeFields",
    "TradeKey",
]

#: The largest login (MT logins are 64-bit signed integers); both documents state it.
MAX_LOGIN: Final = 2**63 - 1


class Out(BaseModel):
    """An answer: closed and immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class In(BaseModel):
    """A request body: strict (``"1"`` is not 1, ``true`` is not 1), finite, closed."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class HealthOut(Out):
    """``GET /api/health``."""

    status: Literal["ok"] = "ok"
    service: str
    version: str


class TradeKey(Out):
    """A ``TradeRecord``'s key: the ticket and the account."""

    order: int
    login: int


class TradeFields(Out):
    """A ``TradeRecord``'s trade (MT4 names, from MT5's positions, orders and deals:
    ``mt4records.py``)."""

    symbol: str
    cmd: int
    volume: float
    open_time: int
    open_price: float
    sl: float
    tp: float
    close_time: int
    close_price: float
    expiration: int
    commission: float
    storage: float
    profit: float
    magic: int
    comment: str
    state: Literal["open", "pending", "closed", "balance"]


class MarginKey(Out):
    """A ``MarginLevel``'s key: the account."""

    login: int


class MarginFields(Out):
    """A ``MarginLevel``'s figures (MT4 names, from MT5's ``AccountInfo``)."""

    currency: str
    leverage: int
    balance: float
    credit: float
    equity: float
    margin: float
    margin_free: float
    margin_level: float


class Placed(Out):
    """Where a record is, when several terminals answer: the terminal's trade server."""

    server: str
