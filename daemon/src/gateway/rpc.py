"""JSON-RPC 2.0 dispatch: the method table, one path for every request, the error boundary.

Our own, small, because the envelope is small and its rules are ours: a method is registered
with the pydantic model its params bind into (:class:`RpcMethod`), so a call's params are
checked once, by the model, and a misfit answers ``-32602`` naming the field. A lone request
and each entry of a batch go through the same :meth:`Dispatcher.answer`, so an entry answers
exactly as it would alone (JSON-RPC 2.0 section 6: "The Server MAY process a batch rpc call as
a set of concurrent tasks"; section 7's examples are a test). The daemon's own rules sit in
front of the methods:

* trading methods (registered with ``trade=True``: ``order_send`` and the convenience
  trade methods) are refused inside a batch (a batch runs
  concurrently and its order is not the caller's) and as notifications (an order's outcome
  must be reported): ``-32600`` for that entry, nothing run;
* a batch holds at most :data:`MAX_BATCH` entries, and an empty one is a single ``-32600``;
* the body is parsed strictly (``strictjson.loads_strict``: no NaN, no duplicate keys, no
  nesting deeper than any request of the contract).

The error boundary: a method's exception becomes its JSON-RPC error through the one table in
``errors.py``; anything else is logged under an ``error_id`` and answered ``-32603`` carrying
only that id, so no exception text reaches the wire.

Why not jsonrpcserver, which this replaced: it had no release since 2022-09, answered each
invalid batch entry not with its own error but the batch with one, checked every call with
``inspect.Signature.bind`` and a jsonschema (the largest single cost of a call with its
defaults: ``docs/history/performance-notes.md``, "Measured costs by module"), and a third
of this module used to exist to bypass its internals.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from time import perf_counter
from typing import Any, Final, Generic, TypeVar

import orjson

from ea_bridge import TRADE_METHODS

from .errors import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    InvalidParams,
    to_rpc_error,
)
from .schemas import Params, parse
from .strictjson import TooDeep, loads_strict

try:  # mypy_extensions comes with mypy, which only the compiled build needs and has
    from mypy_extensions import mypyc_attr
except ImportError:  # the pure-Python install: the decorator is mypyc's alone
    def mypyc_attr(*_: object, **__: object) -> Callable[[type[Any]], type[Any]]:  # type: ignore[misc]
        return lambda cls: cls

__all__ = ["MAX_BATCH", "Dispatcher", "Observer", "RpcMethod", "error_object",
           "rpc_method"]

log = logging.getLogger(__name__)

#: Batches beyond this are refused whole (security policy: a batch runs concurrently).
MAX_BATCH: Final = 20

C = TypeVar("C")
P = TypeVar("P", bound=Params)

#: Told of every call answered (notifications included): the method name, its error object
#: (None on success) and the seconds it took; the metrics hang here (``metrics.py``).
Observer = Callable[[str, "dict[str, Any] | None", float], None]
_NOT_FOUND: Final = {"code": METHOD_NOT_FOUND}
#: A method name longer than this gets no suggestion (no public name is half as long).
_LONGEST_SUGGESTED: Final = 64
_CONTAINERS: Final = (list, dict)
#: An id's types as orjson makes them (``bool`` is not an ``int`` here: ``type() is``).
_ID_TYPES: Final = (str, int)


# a generic frozen dataclass is a plain Python class in the compiled build: mypyc's own
# classes cannot be made frozen by dataclasses
@mypyc_attr(native_class=False)
@dataclass(frozen=True, slots=True)
class RpcMethod(Generic[C]):
    """A method as registered: ``fn(ctx, params)`` with ``params`` an instance of the ``params``
    model, or ``fn(ctx)`` for a method that takes none (``params`` is None); ``trade`` marks a
    method with side effects at the broker (refused in a batch and as a notification);
    ``result`` describes its answer (a pydantic model or a type a ``TypeAdapter`` takes) for
    the OpenRPC document and the tests that check answers against it, never for a call: None
    for a method not described (the document marks it, and a test fails on it)."""

    fn: Callable[..., Awaitable[Any]]
    params: type[Params] | None = None
    trade: bool = False
    result: Any = None

    async def settle(self, ctx: C, params: Any) -> tuple[bool, Any]:
        """``(True, result)``, or ``(False, error object)``; never raises.

        ``params`` is the request's ``params`` member (absent: None), an array bound to the
        model's fields in order or an object bound by name.
        """
        try:
            return True, await self.call(ctx, params)
        except Exception as exc:
            return False, error_object(exc, getattr(self.fn, "__name__", "?"))

    def call(self, ctx: C, params: Any) -> Awaitable[Any]:
        """The method's awaitable for ``params`` (as :meth:`settle` takes them), bound to its
        model here. The dispatcher awaits it in its own frame (no coroutine of this class
        on every call's path, resumed again when the terminal answers).

        Raises:
            InvalidParams: the params do not fit the model (or a method without params got
                some).
        """
        if self.params is None:
            if params:
                raise InvalidParams(f"expected no params, got {_count(params)}")
            return self.fn(ctx)
        if params is None:
            model = parse(self.params, (), {})
        elif type(params) is dict:
            model = parse(self.params, (), params)
        else:
            model = parse(self.params, tuple(params), {})
        return self.fn(ctx, model)


def rpc_method(fn: Callable[..., Awaitable[Any]], params: type[P] | None = None, *,
               trade: bool = False, result: Any = None) -> RpcMethod[Any]:
    """Register ``fn`` with the model its params bind into (None: it takes no params);
    ``trade=True`` for a method that sends orders; ``result``, what it answers (one row says
    all a method is: a new method is described where it is registered)."""
    return RpcMethod(fn, params, trade, result)


def _count(params: Any) -> str:
    return f"{len(params)} param{'s' if len(params) != 1 else ''}"


def error_object(exc: Exception, where: str) -> dict[str, Any]:
    """The JSON-RPC error object for ``exc``: the table's, or a logged ``-32603`` carrying an
    ``error_id`` (``where`` names the method or door in the log line). Every door that answers
    an error (``/rpc``, ``/ws``, the REST mirror) answers it through here."""
    error = to_rpc_error(exc)
    if error is not None:
        obj: dict[str, Any] = {"code": error.code, "message": error.message}
        if error.data is not None:
            obj["data"] = error.data
        return obj
    error_id = secrets.token_hex(6)
    log.error("internal error %s in %s", error_id, where, exc_info=exc)
    return {"code": INTERNAL_ERROR, "message": "Internal error", "data": {"error_id": error_id}}


def _envelope_problem(entry: Any) -> str | None:
    """What makes ``entry`` an invalid request object, or None (the cheap jsonschema stand-in)."""
    # ``type() is`` and tuples: orjson makes exact types, and this runs on every call
    if type(entry) is not dict or entry.get("jsonrpc") != "2.0":
        return "not a JSON-RPC 2.0 request object"
    if type(entry.get("method")) is not str:
        return "method must be a string"
    if "params" in entry and type(entry["params"]) not in _CONTAINERS:
        return "params must be an array or an object"
    rid = entry.get("id")
    if rid is not None and type(rid) not in _ID_TYPES:
        return "id must be a string, an integer or null"
    return None


def _readable_id(entry: Any) -> Any:
    rid = entry.get("id") if isinstance(entry, dict) else None
    return rid if isinstance(rid, str | int) and not isinstance(rid, bool) else None


def _not_found_message(name: str, methods: Mapping[str, object]) -> str:
    """``Method not found``, with the closest public name when one is close (a typo such as
    ``acount_info``). Only a name of a plausible length is compared, and only our own names
    are ever echoed in the suggestion."""
    if len(name) <= _LONGEST_SUGGESTED:
        close = difflib.get_close_matches(name, methods, n=1, cutoff=0.8)
        if close:
            return f"Method not found; did you mean {close[0]}?"
    return "Method not found"


def _error(code: int, message: str, rid: Any = None, data: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "error": error, "id": rid}


class Dispatcher(Generic[C]):
    """Answers request bodies from one method table.

    Args:
        methods: public name → :class:`RpcMethod`; the table is read, never changed.
        max_batch: the largest batch answered (a larger one is one ``-32600``).

    The names refused in a batch and as notifications are those registered ``trade=True``,
    and ``ea_bridge.TRADE_METHODS`` whatever their registration (the bridge treats a lost
    answer to one of those as an unknown outcome).
    """

    __slots__ = ("methods", "_max_batch", "_trade_methods", "_observe")

    def __init__(self, methods: Mapping[str, RpcMethod[C]], *,
                 max_batch: int = MAX_BATCH, observe: Observer | None = None) -> None:
        self.methods = methods
        self._trade_methods = TRADE_METHODS | {n for n, m in methods.items() if m.trade}
        self._max_batch = max_batch
        self._observe = observe

    def with_methods(self, extra: Mapping[str, RpcMethod[C]]) -> Dispatcher[C]:
        """A dispatcher over this table plus ``extra`` (the WebSocket's own methods)."""
        return Dispatcher({**self.methods, **extra}, max_batch=self._max_batch,
                          observe=self._observe)

    async def handle(self, body: bytes, ctx: C, *,
                     called: list[str] | None = None) -> bytes | None:
        """The response bytes for one request body, or None when nothing is owed (every entry
        was a notification).

        ``called``, when given, receives the method name of each entry (``unknown`` for a name
        not in the table, ``-`` for an entry without one): the access log names them, and a
        client's arbitrary text never reaches a log line that way.
        """
        try:
            obj = loads_strict(body)
        # each clause its own name: a compiled build (mypyc) gives one name one type
        except TooDeep as deep:  # valid JSON, but no request of the contract nests like this
            return orjson.dumps(_error(INVALID_REQUEST, "Invalid request", data=str(deep)))
        except ValueError as exc:
            return orjson.dumps(_error(PARSE_ERROR, "Parse error", data=str(exc)[:200]))
        if called is not None:
            if type(obj) is list:
                called.extend(self._label(entry) for entry in obj)
            else:
                called.append(self._label(obj))
        if type(obj) is not list:
            answer = await self.answer(obj, ctx, in_batch=False)
            return None if answer is None else orjson.dumps(answer)
        if not obj:
            return orjson.dumps(_error(INVALID_REQUEST, "Invalid request: empty batch"))
        if len(obj) > self._max_batch:
            return orjson.dumps(_error(
                INVALID_REQUEST, f"Invalid request: a batch holds at most {self._max_batch}"))
        answers = await asyncio.gather(*(self.answer(entry, ctx, in_batch=True)
                                         for entry in obj))
        owed = [answer for answer in answers if answer is not None]
        return orjson.dumps(owed) if owed else None

    def _label(self, entry: Any) -> str:
        name = entry.get("method") if type(entry) is dict else None
        if type(name) is not str:
            return "-"
        return name if name in self.methods else "unknown"

    async def answer(self, entry: Any, ctx: C, *, in_batch: bool) -> dict[str, Any] | None:
        """The response object for one request object (alone or from a batch), or None for a
        notification. Never raises."""
        problem = _envelope_problem(entry)
        if problem is None and entry["method"] in self._trade_methods:
            if in_batch:
                problem = "trading methods are not allowed in a batch"
            elif "id" not in entry:
                problem = "trading methods need an id (notifications are refused)"
        if problem is not None:
            return _error(INVALID_REQUEST, f"Invalid request: {problem}", _readable_id(entry))
        name: str = entry["method"]
        method = self.methods.get(name)
        if method is None:
            if "id" not in entry:
                return None
            if self._observe is not None:
                self._observe(name, _NOT_FOUND, 0.0)
            return _error(METHOD_NOT_FOUND, _not_found_message(name, self.methods),
                          entry["id"], name[:100])
        # :meth:`RpcMethod.settle`, in this frame: one coroutine fewer on every call's path
        observe = self._observe
        started = perf_counter() if observe is not None else 0.0
        try:
            value, ok = await method.call(ctx, entry.get("params")), True
        except Exception as exc:
            value, ok = error_object(exc, getattr(method.fn, "__name__", "?")), False
        if observe is not None:
            observe(name, None if ok else value, perf_counter() - started)
        if "id" not in entry:
            return None
        if ok:
            return {"jsonrpc": "2.0", "result": value, "id": entry["id"]}
        return {"jsonrpc": "2.0", "error": value, "id": entry["id"]}

