"""JSON-RPC dispatch: the methods table, the call context, and the error boundary.

jsonrpcserver does the envelope work (single and batch, notifications, error shapes), called
with an explicit ``methods`` dict and ``context`` (no global registry), a strict orjson
deserializer that also refuses duplicate keys and deep nesting (``strictjson.loads_strict``,
applied before dispatch), and a cheap hand-written envelope check instead of its per-call
jsonschema validation, which the performance spec measured as the largest single cost.

Every method is wrapped by :func:`_boundary`: a known exception becomes its JSON-RPC error via
the one table in ``errors.py``; anything else is logged under an ``error_id`` and answered as
``-32603`` carrying only that id, because jsonrpcserver would otherwise put ``str(exc)`` on the
wire.
"""

from __future__ import annotations

import functools
import inspect
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, Final

import orjson
from jsonrpcserver import Error, Result, Success
from jsonrpcserver.async_dispatcher import call
from jsonrpcserver.async_main import dispatch_to_serializable
from jsonrpcserver.dispatcher import create_request, get_method, to_response
from jsonrpcserver.response import to_serializable
from jsonrpcserver.result import InvalidParamsResult
from jsonrpcserver.sentinels import NOID
from oslash.either import Left  # type: ignore[import-untyped]

from ea_bridge import TRADE_METHODS

from .context import RpcContext
from .errors import INTERNAL_ERROR, INVALID_REQUEST, PARSE_ERROR, to_rpc_error
from .methods import method_table
from .methods.convenience import METHODS as CONVENIENCE_METHODS
from .strictjson import TooDeep, loads_strict

__all__ = ["MAX_BATCH", "RpcContext", "build_methods", "handle", "loads_strict", "rpc_method"]

log = logging.getLogger("gateway.rpc")

_NOTIFICATION: Final = NOID  # jsonrpcserver's id of a request without one

#: Batches beyond this are refused whole (security policy: a batch runs concurrently).
MAX_BATCH: Final = 20


Method = Callable[..., Awaitable[Any]]


def _arity_check(signature: inspect.Signature) -> Callable[[tuple[Any, ...], dict[str, Any]],
                                                         str | None] | None:
    """A cheap check that a call fits ``signature`` (None when any call fits).

    jsonrpcserver checks this with ``Signature.bind`` on every call (~8 us, the largest part of
    its per-call cost); most of our methods take ``(ctx, *args, **kwargs)`` and validate their
    params themselves, so only the fixed-arity ones need a check, and a counting one suffices.
    On a mismatch ``bind`` itself phrases the message, exactly as jsonrpcserver would.
    """
    params = list(signature.parameters.values())
    kinds = {p.kind for p in params}
    if inspect.Parameter.VAR_POSITIONAL in kinds and inspect.Parameter.VAR_KEYWORD in kinds:
        return None
    positional = [p for p in params if p.kind in (inspect.Parameter.POSITIONAL_ONLY,
                                                   inspect.Parameter.POSITIONAL_OR_KEYWORD)]

    def check_bind(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        try:
            signature.bind(*args, **kwargs)
        except TypeError as exc:
            return str(exc)
        return None

    if inspect.Parameter.VAR_POSITIONAL in kinds or inspect.Parameter.VAR_KEYWORD in kinds \
            or any(p.default is not inspect.Parameter.empty for p in positional) \
            or len(positional) != len(params):
        return check_bind
    count = len(positional)
    # the names a call with ``n`` positional params may still give by name
    by_name_after = [frozenset(p.name for p in positional[n:]) for n in range(count + 1)]

    def check_count(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str | None:
        given = len(args)
        if given + len(kwargs) == count and by_name_after[given].issuperset(kwargs):
            return None
        return check_bind(args, kwargs)
    return check_count


def _boundary(fn: Method) -> Callable[..., Awaitable[Result]]:
    """Turn a plain async method into a jsonrpcserver method with a safe error boundary that
    also checks the call's arity (so the single-request path can skip jsonrpcserver's
    per-call ``Signature.bind``)."""
    signature = inspect.signature(fn)
    arity_problem = _arity_check(signature)

    async def settle(*args: Any, **kwargs: Any) -> tuple[bool, Any]:
        """``(True, value)``, or ``(False, error)`` with ``error`` a jsonrpcserver error
        result; never raises. The single-request path calls this directly (no ``Success``
        wrapping to undo: ~1 us); jsonrpcserver calls ``wrapper``."""
        if arity_problem is not None:
            problem = arity_problem(args, kwargs)
            if problem is not None:  # the very answer jsonrpcserver's own check gives
                return False, Left(InvalidParamsResult(problem))
        try:
            return True, await fn(*args, **kwargs)
        except Exception as exc:
            error = to_rpc_error(exc)
            if error is not None:
                return False, (Error(error.code, error.message, error.data)
                               if error.data is not None else Error(error.code, error.message))
            error_id = secrets.token_hex(6)
            log.exception("internal error %s in %s", error_id, fn.__name__)
            return False, Error(INTERNAL_ERROR, "Internal error", {"error_id": error_id})

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Result:
        ok, value = await settle(*args, **kwargs)
        return Success(value) if ok else value

    # jsonrpcserver's batch path checks the params with inspect.signature(method) on every
    # call; computed here once (it would otherwise unwrap to ``fn`` and rebuild it: ~20 us).
    wrapper.__signature__ = signature  # type: ignore[attr-defined]
    wrapper.settle = settle  # type: ignore[attr-defined]
    return wrapper


def build_methods() -> dict[str, Callable[..., Awaitable[Result]]]:
    """The explicit method table, names as in the MetaTrader5 package."""
    return {name: _boundary(fn) for name, fn in method_table().items()}


def rpc_method(fn: Method) -> Callable[..., Awaitable[Result]]:
    """Give a method defined outside the table (the WebSocket's ``subscribe``) the same error
    boundary as the table's methods."""
    return _boundary(fn)


def _identity(obj: Any) -> Any:
    return obj


def _envelope_problem(entry: Any) -> str | None:
    """What makes ``entry`` an invalid request object, or None (the cheap jsonschema stand-in)."""
    if not isinstance(entry, dict) or entry.get("jsonrpc") != "2.0":
        return "not a JSON-RPC 2.0 request object"
    if not isinstance(entry.get("method"), str):
        return "method must be a string"
    if "params" in entry and not isinstance(entry["params"], list | dict):
        return "params must be an array or an object"
    rid = entry.get("id")
    if rid is not None and (isinstance(rid, bool) or not isinstance(rid, str | int)):
        return "id must be a string, an integer or null"
    return None


def _check_envelope(obj: Any) -> Any:
    """jsonrpcserver's validator: raises on an invalid request (batches arrive pre-screened)."""
    for entry in obj if isinstance(obj, list) else [obj]:
        if _envelope_problem(entry) is not None:
            raise ValueError("invalid request")
    return obj


def _readable_id(entry: Any) -> Any:
    rid = entry.get("id") if isinstance(entry, dict) else None
    return rid if isinstance(rid, str | int) and not isinstance(rid, bool) else None


def _error(code: int, message: str, rid: Any = None, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "error": error, "id": rid}


def _is_trade(entry: Any) -> bool:
    # ``method`` may be any JSON value here (the envelope is checked later): a dict or list
    # is unhashable, and a set lookup with one used to raise (HTTP 500, found by fuzzing).
    method = entry.get("method") if isinstance(entry, dict) else None
    return isinstance(method, str) and (method in TRADE_METHODS or method in CONVENIENCE_METHODS)


async def handle(body: bytes, context: RpcContext,
                 methods: dict[str, Callable[..., Awaitable[Result]]]) -> bytes | None:
    """Dispatch one request body; the JSON response bytes, or None when nothing is owed
    (every entry was a notification).

    Trading methods are refused inside a batch and as notifications, before anything runs:
    a batch executes concurrently and a notification's outcome is never reported, and neither
    is acceptable for an order.
    """
    try:
        obj = loads_strict(body)
    except TooDeep as exc:  # valid JSON, but no request of the contract nests like this
        return orjson.dumps(_error(INVALID_REQUEST, "Invalid request", data=str(exc)))
    except ValueError as exc:
        return orjson.dumps(_error(PARSE_ERROR, "Parse error", data=str(exc)[:200]))
    refused: list[dict[str, Any]] = []
    if isinstance(obj, list):
        if not obj:
            return orjson.dumps(_error(INVALID_REQUEST, "Invalid request: empty batch"))
        if len(obj) > MAX_BATCH:
            return orjson.dumps(_error(INVALID_REQUEST,
                                       f"Invalid request: a batch holds at most {MAX_BATCH}"))
        # As the JSON-RPC spec's batch examples require: each bad entry gets its own error,
        # the good ones still run.
        runnable = []
        for entry in obj:
            problem = _envelope_problem(entry)
            if problem is None and _is_trade(entry):
                problem = "trading methods are not allowed in a batch"
            if problem is None:
                runnable.append(entry)
            else:
                refused.append(_error(INVALID_REQUEST, f"Invalid request: {problem}",
                                      _readable_id(entry)))
        if not runnable:
            return orjson.dumps(refused)
        obj = runnable
    elif _is_trade(obj) and "id" not in obj:
        return orjson.dumps(_error(INVALID_REQUEST, "Invalid request: trading methods need an "
                                   "id (notifications are refused)"))
    elif _envelope_problem(obj) is None:
        # One well-formed request (the common case). jsonrpcserver's batch path wraps every
        # request in an asyncio.gather task (~30 us), checks the arity with Signature.bind
        # (~8 us; the boundary does it by counting) and guards the call with a try and a
        # result check that the boundary makes redundant (it never raises). So: its request
        # and, for errors, its lookup and response shapes; the boundary's ``settle`` for the
        # call, and a success encoded straight from the value.
        request = create_request(obj)
        method = methods.get(request.method)
        settle = getattr(method, "settle", None)
        result: Result
        if settle is not None:
            params = request.params
            ok, value = await (settle(context, **params) if type(params) is dict
                               else settle(context, *params))
            if ok:
                if request.id is _NOTIFICATION:
                    return None
                return orjson.dumps({"jsonrpc": "2.0", "result": value, "id": request.id})
            result = value
        elif method is None:
            result = get_method(methods, request.method)  # jsonrpcserver's "Method not found"
        else:  # a method without our boundary: jsonrpcserver's own guarded call
            result = await call(request, context, method)
        if request.id is _NOTIFICATION:
            return None
        return orjson.dumps(to_serializable(to_response(request, result)))
    response = await dispatch_to_serializable(
        obj, methods, context=context, deserializer=_identity, validator=_check_envelope)
    if refused:
        answered = response if isinstance(response, list) else []
        return orjson.dumps(answered + refused)
    if response is None:
        return None
    return orjson.dumps(response)
