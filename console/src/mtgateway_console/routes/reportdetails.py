"""The parts of a terminal report the owner's API answers from (``snapshots.py``): the
account's margin fields, open positions and pending orders, new deals (MT5 field names, as
``account_info``, ``positions_get``, ``orders_get`` and ``history_deals_get`` answer them),
and the settlements of the owner's instructions. Validated here, at the edge: a daemon's
report is believed only in these shapes, every number finite, every list bounded."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from mtgateway_base.wire.reports import MAX_DEALS, MAX_TRADES, AccountDetails, Settlement

from ..shapes import Body

__all__ = ["AccountBody", "DealBody", "DetailsBody", "OrderBody", "SettlementBody",
           "TradeBody"]

_Num = Field(allow_inf_nan=False)
_Text = Field(default="", max_length=64)
_Symbol = Field(default="", max_length=32)
_Ticket = Field(ge=0, le=2**63 - 1, strict=True)
_Time = Field(default=0, ge=0, le=2**40, strict=True)


class AccountBody(Body):
    """``account_info``'s margin fields (the MT4 ``MarginLevel`` the API answers)."""

    login: int = Field(gt=0, strict=True)
    currency: str = Field(default="", max_length=8)
    leverage: int = Field(default=0, ge=0, le=10_000_000, strict=True)
    balance: float = _Num
    credit: float = Field(default=0.0, allow_inf_nan=False)
    equity: float = _Num
    margin: float = Field(default=0.0, allow_inf_nan=False)
    margin_free: float = Field(default=0.0, allow_inf_nan=False)
    margin_level: float = Field(default=0.0, allow_inf_nan=False)


class TradeBody(Body):
    """One open position (``TradePosition``'s fields the API shows)."""

    ticket: int = _Ticket
    time: int = _Time
    type: int = Field(ge=0, le=1, strict=True)
    magic: int = Field(default=0, strict=True)
    volume: float = Field(ge=0, allow_inf_nan=False)
    price_open: float = _Num
    sl: float = Field(default=0.0, allow_inf_nan=False)
    tp: float = Field(default=0.0, allow_inf_nan=False)
    price_current: float = _Num
    swap: float = Field(default=0.0, allow_inf_nan=False)
    profit: float = _Num
    symbol: str = Field(min_length=1, max_length=32)
    comment: str = _Text


class OrderBody(Body):
    """One pending order (``TradeOrder``'s fields the API shows)."""

    ticket: int = _Ticket
    time_setup: int = _Time
    type: int = Field(ge=0, le=8, strict=True)
    magic: int = Field(default=0, strict=True)
    volume_current: float = Field(ge=0, allow_inf_nan=False)
    price_open: float = _Num
    sl: float = Field(default=0.0, allow_inf_nan=False)
    tp: float = Field(default=0.0, allow_inf_nan=False)
    price_current: float = Field(default=0.0, allow_inf_nan=False)
    time_expiration: int = _Time
    symbol: str = Field(min_length=1, max_length=32)
    comment: str = _Text


class DealBody(Body):
    """One deal (``TradeDeal``'s fields the API shows)."""

    ticket: int = _Ticket
    order: int = Field(default=0, ge=0, strict=True)
    time: int = Field(ge=0, le=2**40, strict=True)
    type: int = Field(ge=0, le=18, strict=True)
    entry: int = Field(default=0, ge=0, le=3, strict=True)
    magic: int = Field(default=0, strict=True)
    position_id: int = Field(default=0, ge=0, strict=True)
    volume: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    price: float = Field(default=0.0, allow_inf_nan=False)
    commission: float = Field(default=0.0, allow_inf_nan=False)
    swap: float = Field(default=0.0, allow_inf_nan=False)
    profit: float = _Num
    symbol: str = _Symbol
    comment: str = _Text


class DetailsBody(Body):
    """The account, its open trades and its new deals, read with the positions book."""

    account: AccountBody
    positions: list[TradeBody] = Field(default_factory=list, max_length=MAX_TRADES)
    orders: list[OrderBody] = Field(default_factory=list, max_length=MAX_TRADES)
    deals: list[DealBody] = Field(default_factory=list, max_length=MAX_DEALS)
    positions_total: int = Field(default=0, ge=0, le=10_000_000, strict=True)
    orders_total: int = Field(default=0, ge=0, le=10_000_000, strict=True)
    #: With deals: the trade server's clock less the daemon's, in whole seconds (``TAKES``'
    #: ``server_offset``; absent from an older daemon): the deals' ``time`` is the server's.
    #: A year either way bounds it (a terminal replaying another day is days off).
    server_offset_s: int | None = Field(default=None, ge=-366 * 86400, le=366 * 86400,
                                        strict=True)

    def details(self, clock_offset_s: float = 0.0) -> AccountDetails:
        """What the authority stores (plain mappings), the server's clock offset moved by
        ``clock_offset_s`` from the daemon's clock to the console's (as the report's
        ``as_of`` is), so a deal's time less it is on the console's clock."""
        def plain(items: list[Any]) -> tuple[dict[str, Any], ...]:
            return tuple(item.model_dump() for item in items)

        offset = None if self.server_offset_s is None or not self.deals \
            else round(self.server_offset_s - clock_offset_s)
        return AccountDetails(self.account.model_dump(), plain(self.positions),
                              plain(self.orders), plain(self.deals),
                              max(self.positions_total, len(self.positions)),
                              max(self.orders_total, len(self.orders)),
                              server_offset_s=offset)


class SettlementBody(Body):
    """The daemon's word on one instruction of the owner."""

    id: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")
    state: Literal["applied", "refused", "shown"]
    deal: int | None = Field(default=None, ge=0, strict=True)
    detail: str = Field(default="", max_length=200)

    def settlement(self) -> Settlement:
        """What the authority stores."""
        return Settlement(self.id, self.state, self.deal, self.detail)
