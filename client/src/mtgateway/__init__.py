"""MT Gateway's Python client: ``import mtgateway as mt5`` and keep your MetaTrader5 code.

The module-level functions are the ``MetaTrader5`` package's, with its signatures, constants,
named tuples and ``None`` + ``last_error()`` on failure, talking to an MT Gateway daemon over
its public JSON-RPC wire instead of to a local terminal::

    import mtgateway as mt5

    if not mt5.initialize(token="mtgw_...", url="http://127.0.0.1:8710"):
        raise SystemExit(mt5.last_error())
    print(mt5.account_info().balance)
    rates = mt5.copy_rates_from_pos("EURUSD", mt5.TIMEFRAME_M1, 0, 50_000)  # numpy array

What differs, on purpose: ``initialize`` takes the gateway's ``token`` and ``url`` (or reads
``MTGATEWAY_TOKEN`` / ``MTGATEWAY_URL`` / ``MTGATEWAY_STATE_FILE``), and the token picks the
terminal; ``last_error()`` answers the package's ``RES_E_*`` codes with the gateway's own
code and error data kept (``.gateway_code``, ``.data``); ``order_send`` requests
carry a ``client_id`` (made for you when absent) that ``order_status`` reports on. The
functions act on one default :class:`Client`; make more ``Client`` objects for several
terminals. ``mtgateway.aio`` is the same API for asyncio, with tick and event streams.
"""

from __future__ import annotations

from ._version import __version__
from .client import Client, new_client_id
from .constants import *  # noqa: F403 - the package exports its constants at top level
from .constants import __all__ as _constants
from .errors import LastError, MtGatewayError
from .helpers import bind as _bind_helpers
from .records import (
    AccountInfo,
    BookInfo,
    OrderCheckResult,
    OrderSendResult,
    OrderStatus,
    ServerTime,
    SymbolInfo,
    TerminalInfo,
    Tick,
    TradeDeal,
    TradeOrder,
    TradePosition,
    TradeRequest,
)

__author__ = "MT Gateway"

#: The client the module-level functions use (the package keeps one connection per process
#: too). Nothing connects until ``initialize``.
_default = Client()

#: The default client's functions, one line each: the functions are declared once, in the
#: table ``calls.Functions`` the client inherits, and named here so that type checkers see
#: each module function with its signature; tests/client/test_api_surface.py holds this
#: list to the table.
initialize = _default.initialize
login = _default.login
shutdown = _default.shutdown
last_error = _default.last_error
call = _default.call
version = _default.version
terminal_info = _default.terminal_info
account_info = _default.account_info
ping = _default.ping
server_time = _default.server_time
gateway_status = _default.gateway_status
symbols_total = _default.symbols_total
symbols_get = _default.symbols_get
symbol_info = _default.symbol_info
symbol_info_tick = _default.symbol_info_tick
symbol_select = _default.symbol_select
market_book_add = _default.market_book_add
market_book_get = _default.market_book_get
market_book_release = _default.market_book_release
copy_rates_from = _default.copy_rates_from
copy_rates_from_pos = _default.copy_rates_from_pos
copy_rates_range = _default.copy_rates_range
copy_ticks_from = _default.copy_ticks_from
copy_ticks_range = _default.copy_ticks_range
orders_total = _default.orders_total
orders_get = _default.orders_get
positions_total = _default.positions_total
positions_get = _default.positions_get
history_orders_total = _default.history_orders_total
history_orders_get = _default.history_orders_get
history_deals_total = _default.history_deals_total
history_deals_get = _default.history_deals_get
order_calc_margin = _default.order_calc_margin
order_calc_profit = _default.order_calc_profit
order_check = _default.order_check
order_send = _default.order_send
order_status = _default.order_status
#: The package's Python helpers (``MetaTrader5/__init__.py``), over the default client.
#: ``_RawOrder`` stays out of ``__all__``: the package's module has none, so ``from
#: MetaTrader5 import *`` gives it no underscore name either.
Buy, Sell, Close, _RawOrder = _bind_helpers(_default)

__all__ = [
    "AccountInfo",
    "Buy",
    "Close",
    "Sell",
    "BookInfo",
    "Client",
    "LastError",
    "MtGatewayError",
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
    "__version__",
    "account_info",
    "call",
    "copy_rates_from",
    "copy_rates_from_pos",
    "copy_rates_range",
    "copy_ticks_from",
    "copy_ticks_range",
    "gateway_status",
    "history_deals_get",
    "history_deals_total",
    "history_orders_get",
    "history_orders_total",
    "initialize",
    "last_error",
    "login",
    "market_book_add",
    "market_book_get",
    "market_book_release",
    "new_client_id",
    "order_calc_margin",
    "order_calc_profit",
    "order_check",
    "order_send",
    "order_status",
    "orders_get",
    "orders_total",
    "ping",
    "positions_get",
    "positions_total",
    "server_time",
    "shutdown",
    "symbol_info",
    "symbol_info_tick",
    "symbol_select",
    "symbols_get",
    "symbols_total",
    "terminal_info",
    "version",
    *_constants,
]
