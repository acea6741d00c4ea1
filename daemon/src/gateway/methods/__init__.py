"""RPC method bodies, one module per contract group. Thin: validate, forward, shape.

Each module exports ``METHODS``, a dict from the public method name (as in the MetaTrader5
package) to a function taking the :class:`~gateway.rpc.RpcContext` first and then the call's
params, and answering an awaitable: an ``async def``, or, for a plain read that only forwards,
a ``def`` answering the read's own coroutine (``ctx.read``): a coroutine of the method's own
would be one more level for the terminal's answer to resume on every call.
:func:`method_table` merges them; a name defined twice is a bug caught at start.
"""

from __future__ import annotations

from ..context import RpcContext
from ..rpc import RpcMethod
from . import convenience, history, market, orders, session

__all__ = ["method_table"]

_MODULES = (session, market, history, orders, convenience)


def method_table() -> dict[str, RpcMethod[RpcContext]]:
    """Every public method, by name, with the model its params bind into."""
    table: dict[str, RpcMethod[RpcContext]] = {}
    for module in _MODULES:
        for name, fn in module.METHODS.items():
            if name in table:
                raise RuntimeError(f"RPC method {name!r} defined twice")
            table[name] = fn
    return table
