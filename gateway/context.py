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
from .terminals import TerminalDirectory
from .trading.desk import TradeDesk

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
    one token pairs one client with one terminal (the trade gate's pairing rule). The call goes
    to the caller's venue: for a paper account its paper book answers the account, book and
    history reads and the calculators (:data:`~gateway.trading.venue.PAPER_VENUE_METHODS`).

    Raises:
        Unauthorized: ``terminal_mismatch`` when the EA used another token.
        BridgeError: whatever the bridge raises (mapped to codes in ``errors.py``).
    """
    ctx.trading.gate.check_pairing(ctx.principal)
    venue = ctx.trading.venues.of(ctx.principal.terminal,
                                  ctx.principal.risk.paper_trade_enabled)
    return await venue.call(method, params, ctx.config.server.request_timeout_s)
