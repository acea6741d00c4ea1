"""The REST mirror's request and response bodies (``gateway/rest.py``), as pydantic models.

The handlers build every answer through these models, so the OpenAPI document generated from
them (``gateway/openapi.py``) describes exactly what is sent. Shapes follow the MT4 Web API
document (``docs/rest.md``) where it gives them (health, service health, status, ping, server
time: field for field). Where it names an endpoint without a shape (margin, trades, symbols,
price), the records use the MT4 Manager API's field names (``MarginLevel``, ``TradeRecord``,
``ConSymbol``) filled from the MT5 structures; the mapping is in each model's docstring and in
``docs/rest.md``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .schemas import EpochSeconds

__all__ = [
    "ErrorOut",
    "HealthOut",
    "HistoryIn",
    "MarginOut",
    "MarginsOut",
    "PingOut",
    "PriceOut",
    "ServerTimeOut",
    "ServiceHealthOut",
    "StatusOut",
    "SymbolConfig",
    "SymbolOut",
    "SymbolsOut",
    "TradeRecord",
    "TradesOut",
]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HealthOut(_Out):
    """``GET /api/health``."""

    status: Literal["ok"] = "ok"
    service: str
    version: str


class ServiceHealthOut(_Out):
    """``GET /api/test/service-health``: whether any terminal's EA is connected now."""

    status: Literal["ok"] = "ok"
    service: str
    connected: bool


class StatusOut(_Out):
    """``GET /api/test/status``: whether the token's terminal has its EA connected."""

    status: Literal["ok"] = "ok"
    connected: bool


class PingOut(_Out):
    """``GET /api/test/ping``: a real round trip to the terminal's EA."""

    status: Literal["ok"] = "ok"
    ping: bool


class ServerTimeOut(_Out):
    """``GET /api/test/server-time``: the trade server's clock (MT's epoch seconds, written
    as the document writes it: a UTC string)."""

    status: Literal["ok"] = "ok"
    server_time: int
    server_time_str: str


class MarginLevel(_Out):
    """One account's margin (MT4 ``MarginLevel`` names; from MT5 ``AccountInfo``)."""

    login: int
    currency: str
    leverage: int
    balance: float
    credit: float
    equity: float
    margin: float
    margin_free: float
    margin_level: float


class MarginOut(MarginLevel):
    """``GET /api/accounts/{login}/margin``."""

    status: Literal["ok"] = "ok"


class MarginsOut(_Out):
    """``GET /api/accounts/margins``: every account this token reaches (one)."""

    status: Literal["ok"] = "ok"
    count: int
    margins: list[MarginLevel]


class TradeRecord(_Out):
    """One trade, MT4 ``TradeRecord`` names. ``cmd``: 0 buy, 1 sell, 2-5 buy/sell limit/stop
    (MT5's 6/7 for stop-limit), 6 balance, 7 credit. ``volume`` in lots. Open positions:
    ``close_price`` is the current price and ``close_time`` 0; pending orders: ``open_price``
    is the order's price. Closed trades pair a position's opening and closing deals."""

    order: int
    login: int
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


class TradesOut(_Out):
    """``GET /api/trades/open[/{login}]``, ``POST /api/trades/history/{login}``."""

    status: Literal["ok"] = "ok"
    count: int
    trades: list[TradeRecord]


class SymbolConfig(_Out):
    """One symbol's configuration (MT4 ``ConSymbol`` names where they exist, from MT5
    ``SymbolInfo``): ``currency`` is the base currency, ``spread`` in points."""

    symbol: str
    description: str
    path: str
    currency: str
    currency_profit: str
    currency_margin: str
    digits: int
    point: float
    spread: int
    spread_float: bool
    stops_level: int
    freeze_level: int
    contract_size: float
    tick_size: float
    tick_value: float
    volume_min: float
    volume_max: float
    volume_step: float
    trade_mode: int
    execution_mode: int
    swap_long: float
    swap_short: float
    filling_mode: int
    expiration_mode: int
    order_mode: int


class SymbolsOut(_Out):
    """``GET /api/symbols/``."""

    status: Literal["ok"] = "ok"
    count: int
    symbols: list[SymbolConfig]


class SymbolOut(_Out):
    """``GET /api/symbols/{name}``."""

    status: Literal["ok"] = "ok"
    symbol: SymbolConfig


class PriceOut(_Out):
    """``GET /api/symbols/{name}/price``: the last tick."""

    status: Literal["ok"] = "ok"
    symbol: str
    bid: float
    ask: float
    last: float
    time: int
    time_msc: int


class HistoryIn(BaseModel):
    """``POST /api/trades/history/{login}``'s body: the period (epoch seconds or ISO-8601;
    both optional: all history up to now). ``to`` must not be before ``from`` (400)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False,
                              populate_by_name=True)

    date_from: EpochSeconds | None = Field(default=None, alias="from")
    date_to: EpochSeconds | None = Field(default=None, alias="to")


class ErrorOut(_Out):
    """Every refusal of the mirror: the JSON-RPC error's code, message and data, so clients
    of ``/rpc`` and ``/api`` read one vocabulary. (The HTTP rules shared with ``/rpc`` —
    421, 403, 400, 405, 413, 415, 401, 429 — answer ``/rpc``'s JSON-RPC error body.)"""

    status: Literal["error"] = "error"
    code: int
    message: str
    data: Any = None
