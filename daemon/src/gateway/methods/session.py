"""Session methods: liveness, the terminal and the account, and the daemon's own status.

Each method receives the :class:`~gateway.context.RpcContext` first (the dispatcher passes it), then
the call's params by position or by name, exactly as the MetaTrader5 package names them.
Everything but ``gateway_status`` is forwarded to the terminal's EA; ``gateway_status`` is
answered from what the daemon itself knows, so a client can tell "EA offline" from "daemon
down" and see why the EA last dropped without needing the EA.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from typing import Any

from .. import results as r
from .._version import __version__
from ..context import RpcContext
from ..rpc import RpcMethod, rpc_method

__all__ = [
    "METHODS",
    "account_info",
    "gateway_status",
    "ping",
    "server_time",
    "terminal_info",
    "version",
]

async def ping(ctx: RpcContext) -> dict[str, Any]:
    """``{"pong": true, "ea_rtt_ms": …}``: a real round trip to the EA, timed here."""
    started = time.perf_counter()
    await ctx.read("ping", {})
    return {"pong": True, "ea_rtt_ms": round((time.perf_counter() - started) * 1000, 3)}


def account_info(ctx: RpcContext) -> Awaitable[Any]:
    """MT5 ``account_info()``: AccountInfo fields (also answered as ``get_account_info``)."""
    return ctx.read("account_info", {})


def version(ctx: RpcContext) -> Awaitable[Any]:
    """MT5 ``version()``: ``[terminal_version, build, build_date]`` as the package's tuple."""
    return ctx.read("version", {})


def terminal_info(ctx: RpcContext) -> Awaitable[Any]:
    """MT5 ``terminal_info()``: TerminalInfo fields."""
    return ctx.read("terminal_info", {})


def server_time(ctx: RpcContext) -> Awaitable[Any]:
    """The trade server's clock: ``{"time", "time_msc", "tz_offset_s"}`` (MT5 has no such call;
    it exposes the offset that MT5's "UTC" times silently carry)."""
    return ctx.read("server_time", {})


async def gateway_status(ctx: RpcContext) -> dict[str, Any]:
    """The daemon and the caller's terminal as the daemon sees them, answered without the EA.

    ``terminal.connected`` is whether an EA session is live now; ``session_id``,
    ``connected_at`` (epoch seconds) and the EA's ``platform``/``build``/``ea_version`` are
    null without one. ``last_disconnect_reason`` is why the last session ended (null while
    connected or if none ended). Counters cover this daemon run. ``trading.allowed`` is
    whether a new opening ``order_send`` of this token would reach the terminal now, and
    ``trading.refused_because`` lists every reason it would not (the reason words of the
    errors it would get: ``scope``, ``auth_stale``, ``terminal_offline``,
    ``terminal_mismatch``, ``reconciling``, ``auto_trade_enabled``; see
    :meth:`~gateway.trading.desk.TradeDesk.refusals`). ``trading.paper`` is whether this
    token's orders and account reads go to the daemon's paper book (the account's
    ``paper_trade_enabled``, as the token record carries it now) rather than to the broker.
    No token or secret appears.

    A caller sees only what the session its own token record opened: while the terminal's
    EA is connected with another token record, the terminal is shown as not connected, with
    no session details or counters (``trading.refused_because`` says ``terminal_mismatch``).
    """
    terminal = ctx.principal.terminal
    info = ctx.bridge.session(terminal)
    state = ctx.terminals.state(terminal)
    if info is not None and info.token_id != ctx.principal.token_id:
        info = state = None
    hello = info.hello if info is not None else None
    refusals = ctx.trading.refusals(ctx.principal)
    return {
        "daemon": {
            "version": __version__,
            "uptime_s": round(ctx.terminals.uptime_s(), 3),
        },
        "terminal": {
            "login": terminal.login,
            "server": terminal.server,
            "connected": info is not None,
            "session_id": info.session_id if info is not None else None,
            "connected_at": info.connected_at if info is not None else None,
            "platform": hello.platform if hello is not None else None,
            "build": hello.build if hello is not None else None,
            "ea_version": hello.ea_version if hello is not None else None,
            "last_disconnect_reason": state.disconnect_reason if state is not None else None,
            "ticks_received": state.ticks_received if state is not None else 0,
            "events_received": state.events_received if state is not None else 0,
            "events_missed": state.events_missed if state is not None else 0,
        },
        "trading": {"allowed": not refusals, "refused_because": refusals,
                    "paper": ctx.principal.risk.paper_trade_enabled},
    }


METHODS: dict[str, RpcMethod[RpcContext]] = {
    "ping": rpc_method(ping, result=r.Ping),
    "version": rpc_method(version, result=tuple[int, int, str]),
    "terminal_info": rpc_method(terminal_info, result=r.TerminalInfo),
    "server_time": rpc_method(server_time, result=r.ServerTime),
    "account_info": rpc_method(account_info, result=r.AccountInfo),
    "get_account_info": rpc_method(account_info, result=r.AccountInfo),
    "gateway_status": rpc_method(gateway_status, result=r.GatewayStatus),
}
