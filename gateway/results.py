"""What each JSON-RPC method answers, as pydantic models: for the OpenRPC document.

The methods forward the terminal's answers as they come (the EA's field names are MT5's, see
``docs/protocol.md``), so these models are a description, not a filter on the hot path;
``tests/e2e/test_openrpc.py`` checks real answers of the daemon and the emulated terminal
against them (unknown and missing fields both fail), so the description cannot drift from
what is served. Field lists and order are the ``MetaTrader5`` package's
(``shared/reference/mt5.md``); additions are named in each docstring.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = [
    "AccountInfo",
    "BookInfo",
    "ClosedPositions",
    "DaemonStatus",
    "GatewayStatus",
    "OrderCheckResult",
    "OrderSendResult",
    "OrderStatus",
    "Page",
    "Ping",
    "ServerTime",
    "SymbolInfo",
    "TerminalInfo",
    "TerminalLink",
    "TradingState",
    "Tick",
    "TradeDeal",
    "TradeOrder",
    "TradePosition",
    "TradeRequest",
]


class Result(BaseModel):
    """Base of the result models: closed, so a field the emulator adds or drops is caught."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class AccountInfo(Result):
    """MT5 AccountInfo: ``account_info()``."""

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


class TerminalInfo(Result):
    """MT5 TerminalInfo: ``terminal_info()``."""

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


class SymbolInfo(Result):
    """MT5 SymbolInfo: ``symbol_info(symbol)``, each of ``symbols_get()``."""

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


class Tick(Result):
    """MT5 Tick: ``symbol_info_tick(symbol)``."""

    time: int
    bid: float
    ask: float
    last: float
    volume: int
    time_msc: int
    flags: int
    volume_real: float


class BookInfo(Result):
    """MT5 BookInfo: one level of ``market_book_get(symbol)`` (``type`` is BOOK_TYPE_*)."""

    type: int
    price: float
    volume: int
    volume_dbl: float


class TradePosition(Result):
    """MT5 TradePosition: each of ``positions_get()``."""

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


class TradeOrder(Result):
    """MT5 TradeOrder: each of ``orders_get()`` / ``history_orders_get()``."""

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


class TradeDeal(Result):
    """MT5 TradeDeal: each of ``history_deals_get()``."""

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


class TradeRequest(Result):
    """MT5 TradeRequest as the terminal evaluated it (in OrderCheckResult/OrderSendResult)."""

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


class OrderCheckResult(Result):
    """MT5 OrderCheckResult plus ``retcode_name``."""

    retcode: int
    balance: float
    equity: float
    profit: float
    margin: float
    margin_free: float
    margin_level: float
    comment: str
    request: TradeRequest
    retcode_name: str


class OrderSendResult(Result):
    """MT5 OrderSendResult plus ``retcode_name``, ``client_id`` and ``deduplicated``."""

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
    retcode_name: str
    client_id: str
    deduplicated: bool


class Ping(Result):
    """``ping()``: a round trip to the EA, timed by the daemon."""

    pong: bool
    ea_rtt_ms: float


class ServerTime(Result):
    """``server_time()``: the trade server's clock and its offset from UTC."""

    time: int
    time_msc: int
    tz_offset_s: int


class DaemonStatus(Result):
    """``gateway_status().daemon``."""

    version: str
    uptime_s: float


class TerminalLink(Result):
    """``gateway_status().terminal``: the caller's terminal as the daemon sees it."""

    login: int
    server: str
    connected: bool
    session_id: str | None
    connected_at: float | None
    platform: str | None
    build: int | None
    ea_version: str | None
    last_disconnect_reason: str | None
    ticks_received: int
    events_received: int
    events_missed: int


class TradingState(Result):
    """``gateway_status().trading``: whether a new opening order would go to the terminal
    now, and if not, the reason words (``scope``, ``auth_stale``, ``terminal_offline``, ...)."""

    allowed: bool
    refused_because: list[str]


class GatewayStatus(Result):
    """``gateway_status()``: answered by the daemon itself, even with no EA connected."""

    daemon: DaemonStatus
    terminal: TerminalLink
    trading: TradingState


class Page(Result):
    """``copy_rates_*`` / ``copy_ticks_*``: one page of rows under MT5's column names;
    ``next_cursor`` is null exactly when nothing more exists (``docs/api.md`` "Paging")."""

    columns: list[str]
    rows: list[list[int | float]]
    next_cursor: str | None


class OrderStatus(Result):
    """``order_status(client_id)``: the daemon's journal row for one order."""

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
    ambiguous_tickets: list[int]


class ClosedPositions(Result):
    """``close_positions_by_symbol``: one ``order_send`` result per position closed."""

    results: list[OrderSendResult]
