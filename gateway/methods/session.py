"""Session methods: liveness and the account, forwarded to the terminal's EA.

Each method receives the :class:`~gateway.rpc.RpcContext` first (jsonrpcserver passes it), then
the call's params by position or by name, exactly as the MetaTrader5 package names them.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..errors import InvalidParams, Unauthorized

if TYPE_CHECKING:
    from ..rpc import RpcContext

__all__ = ["METHODS", "account_info", "forward", "ping", "symbol_info_tick"]

_MAX_SYMBOL_LENGTH = 64


async def forward(ctx: RpcContext, method: str, params: dict[str, Any]) -> Any:
    """Call ``method`` on the caller's terminal, within the read deadline.

    The EA's session must have been authenticated with the same token record as the caller:
    one token pairs one client with one terminal.

    Raises:
        Unauthorized: ``terminal_mismatch`` when the EA used another token.
        BridgeError: whatever the bridge raises (mapped to codes in ``errors.py``).
    """
    terminal = ctx.principal.terminal
    session = ctx.bridge.session(terminal)
    if session is not None and session.token_id != ctx.principal.token_id:
        raise Unauthorized("terminal_mismatch",
                           "The terminal's EA is connected with a different auth token")
    return await ctx.bridge.call(terminal, method, params, ctx.config.server.request_timeout_s)


async def ping(ctx: RpcContext) -> dict[str, Any]:
    """``{"pong": true, "ea_rtt_ms": …}``: a real round trip to the EA, timed here."""
    started = time.perf_counter()
    await forward(ctx, "ping", {})
    return {"pong": True, "ea_rtt_ms": round((time.perf_counter() - started) * 1000, 3)}


async def account_info(ctx: RpcContext) -> Any:
    """MT5 ``account_info()``: AccountInfo fields (also answered as ``get_account_info``)."""
    return await forward(ctx, "account_info", {})


async def symbol_info_tick(ctx: RpcContext, symbol: Any) -> Any:
    """MT5 ``symbol_info_tick(symbol)``: the last tick of ``symbol``."""
    if not isinstance(symbol, str) or not 0 < len(symbol) <= _MAX_SYMBOL_LENGTH:
        raise InvalidParams(f"symbol: must be a string of 1 to {_MAX_SYMBOL_LENGTH} characters")
    return await forward(ctx, "symbol_info_tick", {"symbol": symbol})


METHODS = {
    "ping": ping,
    "account_info": account_info,
    "get_account_info": account_info,
    "symbol_info_tick": symbol_info_tick,
}
