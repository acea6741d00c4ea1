"""The call context: what one RPC call may use.

A plain read is the desk's (:meth:`~gateway.trading.desk.TradeDesk.read`: the pairing
rule, the caller's venue, the read deadline), the one way every read reaches a terminal;
:meth:`RpcContext.read` only names the caller for it.

Its own module so that the dispatcher (``rpc.py``) and the methods (``methods/*``) both import
it and not each other: the dispatcher knows methods only through the table it is handed.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from ea_bridge import Bridge

from .auth import Principal
from .config import GatewayConfig
from .terminals import TerminalDirectory
from .trading.desk import TradeDesk

__all__ = ["RpcContext"]


@dataclass(slots=True, eq=False)
class RpcContext:
    """What a method may use: who is calling, the bridge, what is known of terminals, config.

    Never changed, so made once per principal (the door gives the last one again); not
    ``frozen``: a frozen dataclass sets each field through ``object.__setattr__``."""

    principal: Principal
    bridge: Bridge
    config: GatewayConfig
    terminals: TerminalDirectory
    trading: TradeDesk

    def read(self, method: str, params: dict[str, Any]) -> Awaitable[Any]:
        """The caller's read: :meth:`TradeDesk.read` for this call's principal (its coroutine,
        awaited by the method: no coroutine of its own on every call's path).

        Raises:
            Unauthorized: ``terminal_mismatch`` when the EA used another token.
            BridgeError: whatever the bridge raises (mapped to codes in ``errors.py``).
        """
        return self.trading.read(self.principal, method, params)
