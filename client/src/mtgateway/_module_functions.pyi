# The module-level functions of mtgateway as type checkers see them: the default
# Client's, each with the signature the table (calls.Functions) declares. Written by
# `python -m mtgateway.stubs` from the table; do not edit (tests/client/test_api_surface.py).

from .client import Client

__all__: list[str] = [
    "initialize",
    "login",
    "shutdown",
    "version",
    "last_error",
    "account_info",
    "terminal_info",
    "symbols_total",
    "symbols_get",
    "symbol_info",
    "symbol_info_tick",
    "symbol_select",
    "market_book_add",
    "market_book_get",
    "market_book_release",
    "copy_rates_from",
    "copy_rates_from_pos",
    "copy_rates_range",
    "copy_ticks_from",
    "copy_ticks_range",
    "orders_total",
    "orders_get",
    "order_calc_margin",
    "order_calc_profit",
    "order_check",
    "order_send",
    "positions_total",
    "positions_get",
    "history_orders_total",
    "history_orders_get",
    "history_deals_total",
    "history_deals_get",
    "order_status",
    "ping",
    "server_time",
    "gateway_status",
    "call",
]

_default: Client

initialize = _default.initialize
login = _default.login
shutdown = _default.shutdown
version = _default.version
last_error = _default.last_error
account_info = _default.account_info
terminal_info = _default.terminal_info
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
order_calc_margin = _default.order_calc_margin
order_calc_profit = _default.order_calc_profit
order_check = _default.order_check
order_send = _default.order_send
positions_total = _default.positions_total
positions_get = _default.positions_get
history_orders_total = _default.history_orders_total
history_orders_get = _default.history_orders_get
history_deals_total = _default.history_deals_total
history_deals_get = _default.history_deals_get
order_status = _default.order_status
ping = _default.ping
server_time = _default.server_time
gateway_status = _default.gateway_status
call = _default.call
