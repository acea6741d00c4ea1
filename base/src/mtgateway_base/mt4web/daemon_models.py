"""The daemon's answers of the MT4 Web API document (its REST mirror, ``gateway/rest.py``), as
pydantic models.

The handlers build every answer through these models, so the OpenAPI document generated from
them (``openapi.py``, through ``gateway/openapi.py``) describes exactly what is sent. Shapes
follow the MT4 Web API document (``docs/rest.md``) where it gives them (health, service
health, status, ping, server time: field for field). Where it names an endpoint without a
shape (margin, trades, symbols, price), the records use the MT4 Manager API's field names
(``MarginLevel``, ``TradeRecord``, ``ConSymbol``) filled from the MT5 structures; the mapping
is in each model's docstring and in ``docs/rest.md``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..epoch import EpochSeconds
from .shared import HealthOut, MarginFields, MarginKey, Out, TradeFields, TradeKey

__all__ = [
    "ErrorOut",
    "HealthOut",
    "HistoryIn",
    "MarginLevel",
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


class ServiceHealthOut(Out):
    """``GET /api/test/service-health``: whether any terminal's EA is connected now."""

    status: Literal["ok"] = "ok"
    service: str
    connected: bool


class StatusOut(Out):
    """``GET /api/test/status``: whether the token's terminal has its EA connected."""

    status: Literal["ok"] = "ok"
    connected: bool


class PingOut(Out):
    """``GET /api/test/ping``: a real round trip to the terminal's EA."""

    status: Literal["ok"] = "ok"
    ping: bool


class ServerTimeOut(Out):
    """``GET /api/test/server-time``: the trade server's clock (MT's epoch seconds, written
    as the document writes it: a UTC string)."""

    status: Literal["ok"] = "ok"
    server_time: int
    server_time_str: str


class MarginLevel(MarginFields, MarginKey):
    """One account's margin (MT4 ``MarginLevel`` names; from MT5 ``AccountInfo``)."""


class MarginOut(MarginLevel):
    """``GET /api/accounts/{login}/margin``."""

    status: Literal["ok"] = "ok"


class MarginsOut(Out):
    """``GET /api/accounts/margins``: every account this token reaches (one)."""

    status: Literal["ok"] = "ok"
    count: int
    margins: list[MarginLevel]


class TradeRecord(TradeFields, TradeKey):
    """One trade, MT4 ``TradeRecord`` names. ``cmd``: 0 buy, 1 sell, 2-5 buy/sell limit/stop
    (MT5's 6/7 for stop-limit), 6 balance, 7 credit. ``volume`` in lots. Open positions:
    ``close_price`` is the current price and ``close_time`` 0; pending orders: ``open_price``
    is the order's price. Closed trades pair a position's opening and closing deals."""


class TradesOut(Out):
    """``GET /api/trades/open[/{login}]``, ``POST /api/trades/history/{login}``."""

    status: Literal["ok"] = "ok"
    count: int
    trades: list[TradeRecord]


class SymbolConfig(Out):
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


class SymbolsOut(Out):
    """``GET /api/symbols/``."""

    status: Literal["ok"] = "ok"
    count: int
    symbols: list[SymbolConfig]


class SymbolOut(Out):
    """``GET /api/symbols/{name}``."""

    status: Literal["ok"] = "ok"
    symbol: SymbolConfig


class PriceOut(Out):
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


class ErrorOut(Out):
    """Every refusal of the mirror: the JSON-RPC error's code, message and data, so clients
    of ``/rpc`` and ``/api`` read one vocabulary. (The HTTP rules shared with ``/rpc`` —
    421, 403, 400, 405, 413, 415, 401, 429 — answer ``/rpc``'s JSON-RPC error body.)"""

    status: Literal["error"] = "error"
    code: int
    message: str
    data: Any = None
