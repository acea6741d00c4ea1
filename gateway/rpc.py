"""JSON-RPC dispatch: the methods table, the call context, and the error boundary.

jsonrpcserver does the envelope work (single and batch, notifications, error shapes), called
with an explicit ``methods`` dict and ``context`` (no global registry), a strict orjson
deserializer, and a cheap hand-written envelope check instead of its per-call jsonschema
validation, which the performance spec measured as the largest single cost.

Every method is wrapped by :func:`_boundary`: a known exception becomes its JSON-RPC error via
the one table in ``errors.py``; anything else is logged under an ``error_id`` and answered as
``-32603`` carrying only that id, because jsonrpcserver would otherwise put ``str(exc)`` on the
wire.
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import orjson
from jsonrpcserver import Error, Result, Success
from jsonrpcserver.async_main import dispatch_to_serializable

from ea_bridge import Bridge

from .auth import Principal
from .config import GatewayConfig
from .errors import INTERNAL_ERROR, to_rpc_error
from .methods import method_table
from .terminals import TerminalDirectory

__all__ = ["MAX_BATCH", "RpcContext", "build_methods", "handle"]

log = logging.getLogger("gateway.rpc")

#: Batches beyond this are refused whole (security policy: a batch runs concurrently).
MAX_BATCH: Final = 20


@dataclass(frozen=True, slots=True)
class RpcContext:
    """What a method may use: who is calling, the bridge, what is known of terminals, config."""

    principal: Principal
    bridge: Bridge
    config: GatewayConfig
    terminals: TerminalDirectory


Method = Callable[..., Awaitable[Any]]


def _boundary(fn: Method) -> Callable[..., Awaitable[Result]]:
    """Turn a plain async method into a jsonrpcserver method with a safe error boundary."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Result:
        try:
            return Success(await fn(*args, **kwargs))
        except Exception as exc:
            error = to_rpc_error(exc)
            if error is not None:
                return Error(error.code, error.message, error.data) if error.data is not None \
                    else Error(error.code, error.message)
            error_id = secrets.token_hex(6)
            log.exception("internal error %s in %s", error_id, fn.__name__)
            return Error(INTERNAL_ERROR, "Internal error", {"error_id": error_id})

    return wrapper


def build_methods() -> dict[str, Callable[..., Awaitable[Result]]]:
    """The explicit method table, names as in the MetaTrader5 package."""
    return {name: _boundary(fn) for name, fn in method_table().items()}


def _deserialize(body: str | bytes) -> Any:
    # orjson refuses NaN, Infinity and overflowing numbers outright.
    return orjson.loads(body)


def _check_envelope(obj: Any) -> Any:
    """The cheap structural check that replaces jsonschema (raises on an invalid request)."""
    entries = obj if isinstance(obj, list) else [obj]
    if isinstance(obj, list) and not 0 < len(obj) <= MAX_BATCH:
        raise ValueError("batch size")
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("jsonrpc") != "2.0":
            raise ValueError("envelope")
        if not isinstance(entry.get("method"), str):
            raise ValueError("method")
        if "params" in entry and not isinstance(entry["params"], list | dict):
            raise ValueError("params")
        rid = entry.get("id")
        if rid is not None and (isinstance(rid, bool) or not isinstance(rid, str | int)):
            raise ValueError("id")
    return obj


async def handle(body: bytes, context: RpcContext,
                 methods: dict[str, Callable[..., Awaitable[Result]]]) -> bytes | None:
    """Dispatch one HTTP body; the JSON response bytes, or None when nothing is owed
    (every entry was a notification)."""
    response = await dispatch_to_serializable(
        body,  # jsonrpcserver hands the body to our deserializer untouched
        methods,
        context=context,
        deserializer=_deserialize,
        validator=_check_envelope,
    )
    if response is None:
        return None
    return orjson.dumps(response)
