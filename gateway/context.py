"""The call context: what one RPC call may use, and :func:`forward`, the plain read.

Its own module so that the dispatcher (``rpc.py``) and the methods (``methods/*``) both import
it and not each other: the dispatcher knows methods only through the table it is handed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ea_bridge import Bridge

from .auth import Principal
from .config import GatewayConfig
from .errors import Unauthorized
from .terminals import TerminalDirectory
from .trading.desk import TradeDesk
from .trading.paper import PAPER_METHODS

__all__ = ["RpcContext", "forward"]


@dataclass(frozen=True, slots=True)
class RpcContext:
    """What a method may use: who is calling, the bridge, what is known of terminals, config."""

    principal: Principal
    bridge: Bridge
    config: GatewayConfig
    terminals: TerminalDirectory
    trading: TradeDesk


async def forward(ctx: RpcContext, method: str, params: dict[str, Any]) -> Any:
    """Call ``method`` on the caller's terminal, within the read deadline.

    The EA's session must have been authenticated with the same token record as the caller:
    one token pairs one client with one terminal. For a paper account, the reads of the book
    (:data:`~gateway.trading.paper.PAPER_METHODS`) are answered by its paper book.

    Raises:
        Unauthorized: ``terminal_mismatch`` when the EA used another token.
        BridgeError: whatever the bridge raises (mapped to codes in ``errors.py``).
    """
    terminal = ctx.principal.terminal
    session = ctx.bridge.session(terminal)
    if session is not None and session.token_id != ctx.principal.token_id:
        raise Unauthorized("terminal_mismatch",
                           "The terminal's EA is connected with a different auth token")
    if method in PAPER_METHODS and ctx.principal.risk.paper_trade_enabled:
        return await ctx.trading.paper.call(terminal, method, params)
    return await ctx.bridge.call(terminal, method, params, ctx.config.server.request_timeout_s)
