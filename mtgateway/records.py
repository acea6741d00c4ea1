"""The package's result structures as named tuples, and the conversions from the wire's JSON.

Each class has the ``MetaTrader5`` package's name and its fields in the package's order, so
``info.balance``, ``info._asdict()`` and positional unpacking all behave as there. Where MT
Gateway answers more than the package does (``retcode_name``, ``client_id``, ``deduplicated``)
those fields come after the package's, with defaults, so package code never sees them move.

The wire's objects are read by field name (:func:`from_wire`): a field the gateway adds in a
later version is ignored, and a field the package defines but the answer lacks is a protocol
mismatch reported through ``last_error()`` rather than a half-filled tuple.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, TypeVar

__all__ = [
    "AccountInfo",
    "BookInfo",
    "OrderCheckResult",
    "OrderSendResult",
    "OrderStatus",
    "ServerTime",
    "SymbolInfo",
    "TerminalInfo",
    "Tick",
    "TradeDeal",
    "TradeOrder",
    "TradePosition",
    "TradeRequest",
    "WireMismatch",
    "from_wire",
    "many_from_wire",
]

T = TypeVar("T", bound=tuple[Any, ...])
class AccountInfo(NamedTuple):
    """``account_info()``: the trading account."""
    login: int
    trade_mode: int
    leverage: int
    limit_orders: int
    margin_so_mode: int
    trade_allowed: bool
    trade_expert: bool
    margin_mode: int
    currency_digits: int
    fifo_close: bool
    balance: float
    credit: float
    profit: float
    equity: float
    margin: float
    margin_free: float
    margin_level: float
    margin_so_call: float
    margin_so_so: float
    margin_initial: float
    margin_maintenance: float
    assets: float
    liabilities: float
    commission_blocked: float
    name: str
    server: str
    currency: str
    company: str


class TerminalInfo(NamedTuple):
    """``terminal_info()``: the terminal's state and settings."""
    community_account: bool
    community_connection: bool
    connected: bool
    dlls_allowed: bool
    trade_allowed: bool
    tradeapi_disabled: bool
    email_enabled: bool
    ftp_enabled: bool
    notifications_enabled: bool
    mqid: bool
    build: int
    maxbars: int
    codepage: int
    ping_last: int
    community_balance: float
    retransmission: float
    company: str
    name: str
    language: str
    path: str
    data_path: str
    commondata_path: str


class SymbolInfo(NamedTuple):
    """``symbol_info(symbol)`` / ``symbols_get()``: every property of one symbol."""
    custom: bool
    chart_mode: int
    select: bool
    visible: bool
    session_deals: int
    session_buy_orders: int
    session_sell_orders: int
    volume: int
    volumehigh: int
    volumelow: int
    time: int
    digits: int
    spread: int
    spread_float: bool
    ticks_bookdepth: int
    trade_calc_mode: int
    trade_mode: int
    start_time: int
    expiration_time: int
    trade_stops_level: int
    trade_freeze_level: int
    trade_exemode: int
    swap_mode: int
    swap_rollover3days: int
    margin_hedged_use_leg: bool
    expiration_mode: int
    filling_mode: int
    order_mode: int
    order_gtc_mode: int
    option_mode: int
    option_right: int
    bid: float
    bidhigh: float
    bidlow: float
    ask: float
    askhigh: float
    asklow: float
    last: float
    lasthigh: float
    lastlow: float
    volume_real: float
    volumehigh_real: float
    volumelow_real: float
    option_strike: float
    point: float
    trade_tick_value: float
    trade_tick_value_profit: float
    trade_tick_value_loss: float
    trade_tick_size: float
    trade_contract_size: float
    trade_accrued_interest: float
    trade_face_value: float
    trade_liquidity_rate: float
    volume_min: float
    volume_max: float
    volume_step: float
    volume_limit: float
    swap_long: float
    swap_short: float
    margin_initial: float
    margin_maintenance: float
    session_volume: float
    session_turnover: float
    session_interest: float
    session_buy_orders_volume: float
    session_sell_orders_volume: float
    session_open: float
    session_close: float
    session_aw: float
    session_price_settlement: float
    session_price_limit_min: float
    session_price_limit_max: float
    margin_hedged: float
    price_change: float
    price_volatility: float
    price_theoretical: float
    price_greeks_delta: float
    price_greeks_theta: float
    price_greeks_gamma: float
    price_greeks_vega: float
    price_greeks_rho: float
    price_greeks_omega: float
    price_sensitivity: float
    basis: str
    category: str
    currency_base: str
    currency_profit: str
    currency_margin: str
    bank: str
    description: str
    exchange: str
    formula: str
    isin: str
    name: str
    page: str
    path: str


class Tick(NamedTuple):
    """``symbol_info_tick(symbol)``: the last tick."""
    time: int
    bid: float
    ask: float
    last: float
    volume: int
    time_msc: int
    flags: int
    volume_real: float


class TradePosition(NamedTuple):
    """``positions_get()``: one open position."""
    ticket: int
    time: int
    time_msc: int
    time_update: int
    time_update_msc: int
    type: int
    magic: int
    identifier: int
    reason: int
    volume: float
    price_open: float
    sl: float
    tp: float
    price_current: float
    swap: float
    profit: float
    symbol: str
    comment: str
    external_id: str


class TradeOrder(NamedTuple):
    """``orders_get()`` / ``history_orders_get()``: one order."""
    ticket: int
    time_setup: int
    time_setup_msc: int
    time_done: int
    time_done_msc: int
    time_expiration: int
    type: int
    type_time: int
    type_filling: int
    state: int
    magic: int
    position_id: int
    position_by_id: int
    reason: int
    volume_initial: float
    volume_current: float
    price_open: float
    sl: float
    tp: float
    price_current: float
    price_stoplimit: float
    symbol: str
    comment: str
    external_id: str


class TradeDeal(NamedTuple):
    """``history_deals_get()``: one deal."""
    ticket: int
    order: int
    time: int
    time_msc: int
    type: int
    entry: int
    magic: int
    position_id: int
    reason: int
    volume: float
    price: float
    commission: float
    swap: float
    profit: float
    fee: float
    symbol: str
    comment: str
    external_id: str


class TradeRequest(NamedTuple):
    """The request as the terminal evaluated it (``OrderSendResult.request``)."""
    action: int
    magic: int
    order: int
    symbol: str
    volume: float
    price: float
    stoplimit: float
    sl: float
    tp: float
    deviation: int
    type: int
    type_filling: int
    type_time: int
    expiration: int
    comment: str
    position: int
    position_by: int


class OrderCheckResult(NamedTuple):
    """``order_check(request)``."""
    retcode: int
    balance: float
    equity: float
    profit: float
    margin: float
    margin_free: float
    margin_level: float
    comment: str
    request: TradeRequest
    # MT Gateway's additions, after the package's fields so positional unpacking holds
    retcode_name: str = ""


class OrderSendResult(NamedTuple):
    """``order_send(request)``: check ``retcode`` (a rejection is a result)."""
    retcode: int
    deal: int
    order: int
    volume: float
    price: float
    bid: float
    ask: float
    comment: str
    request_id: int
    retcode_external: int
    request: TradeRequest
    # MT Gateway's additions, after the package's fields so positional unpacking holds
    retcode_name: str = ""
    client_id: str = ""
    deduplicated: bool = False



class BookInfo(NamedTuple):
    """``market_book_get(symbol)``: one level of the depth of market."""

    type: int
    price: float
    volume: int
    volume_dbl: float


class OrderStatus(NamedTuple):
    """``order_status(client_id)`` (MT Gateway's addition): the daemon's journal row.

    ``state`` is one of ``RECEIVED``, ``SENT``, ``ACCEPTED``, ``REJECTED``, ``UNKNOWN``,
    ``RESOLVED_ACCEPTED``, ``RESOLVED_NOT_FOUND``; ``request`` is the request as sent and
    ``result`` the terminal's answer (both as the wire's dicts; ``result`` is None until one
    arrived).
    """

    client_id: str
    state: str
    retcode: int | None
    retcode_name: str | None
    ticket: int | None
    created_at: float
    updated_at: float
    reconcile_passes: int
    request: dict[str, Any]
    result: dict[str, Any] | None
    #: tickets reconciliation could not tell apart for this order (reported, never guessed)
    ambiguous_tickets: Sequence[int] = ()


class ServerTime(NamedTuple):
    """``server_time()`` (MT Gateway's addition): the trade server's clock and its offset."""

    time: int
    time_msc: int
    tz_offset_s: int


class WireMismatch(ValueError):
    """The gateway's answer lacks a field the package defines: client and daemon disagree on
    the protocol. Upgrade the older side."""


def from_wire(cls: type[T], obj: Any) -> T:
    """``cls`` built from the wire's JSON object by field name (extra fields ignored).

    Raises:
        WireMismatch: ``obj`` is not an object, or lacks a field ``cls`` has no default for.
    """
    if not isinstance(obj, dict):
        raise WireMismatch(f"{cls.__name__}: expected an object, got {type(obj).__name__}")
    fields: tuple[str, ...] = cls._fields  # type: ignore[attr-defined]
    defaults: dict[str, Any] = cls._field_defaults  # type: ignore[attr-defined]
    values = []
    for name in fields:
        if name in obj:
            value = obj[name]
            if name == "request" and cls is not OrderStatus:
                value = from_wire(TradeRequest, value)
            values.append(value)
        elif name in defaults:
            values.append(defaults[name])
        else:
            raise WireMismatch(f"{cls.__name__}: the gateway's answer has no {name!r}")
    return cls(*values)


def many_from_wire(cls: type[T], array: Any) -> tuple[T, ...]:
    """A tuple of ``cls`` from the wire's JSON array (the package answers tuples).

    Raises:
        WireMismatch: ``array`` is not an array, or an element is not a ``cls``.
    """
    if not isinstance(array, list):
        raise WireMismatch(f"{cls.__name__}: expected an array, got {type(array).__name__}")
    return tuple(from_wire(cls, item) for item in array)
