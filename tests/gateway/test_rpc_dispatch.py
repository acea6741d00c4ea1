"""The single-request path of ``rpc.handle`` answers exactly as jsonrpcserver's own path does.

A lone request skips jsonrpcserver's per-call ``Signature.bind`` (the method boundary checks
the arity by counting); a batch still goes through jsonrpcserver's dispatcher whole. Each call
below is sent alone and inside a batch, and both answers must be the same object.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.rpc import handle, rpc_method


async def _pair(ctx: Any, a: int, b: int) -> list[int]:
    return [a, b]


async def _optional(ctx: Any, a: int, b: int = 7) -> list[int]:
    return [a, b]


async def _none(ctx: Any) -> str:
    return "ok"


async def _generic(ctx: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    return {"args": list(args), "kwargs": kwargs}


METHODS = {name: rpc_method(fn) for name, fn in
           {"pair": _pair, "optional": _optional, "none": _none, "generic": _generic}.items()}


async def _answer(request: dict[str, Any]) -> dict[str, Any]:
    out = await handle(orjson.dumps(request), None, METHODS)  # type: ignore[arg-type]
    assert out is not None
    answer: dict[str, Any] = orjson.loads(out)
    return answer


async def _answer_in_batch(request: dict[str, Any]) -> dict[str, Any]:
    other = {"jsonrpc": "2.0", "id": "other", "method": "none"}
    out = await handle(orjson.dumps([request, other]), None, METHODS)  # type: ignore[arg-type]
    assert out is not None
    answers = {a["id"]: a for a in orjson.loads(out)}
    assert answers["other"]["result"] == "ok"
    answer: dict[str, Any] = answers[request["id"]]
    return answer


@pytest.mark.parametrize("method, params, result", [
    ("pair", [1, 2], [1, 2]),
    ("pair", {"a": 1, "b": 2}, [1, 2]),
    ("pair", {"b": 2, "a": 1}, [1, 2]),
    ("optional", [1], [1, 7]),
    ("optional", {"a": 1, "b": 3}, [1, 3]),
    ("none", [], "ok"),
    ("none", {}, "ok"),
    ("generic", [1, "x"], {"args": [1, "x"], "kwargs": {}}),
    ("generic", {"k": 1}, {"args": [], "kwargs": {"k": 1}}),
])
async def test_fitting_calls_run_alone_and_in_a_batch(method: str, params: Any,
                                                      result: Any) -> None:
    """Positional and named params that fit the signature reach the method."""
    request = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    assert (await _answer(request))["result"] == result
    assert (await _answer_in_batch(request))["result"] == result


@pytest.mark.parametrize("method, params, fragment", [
    ("pair", [1], "missing a required argument: 'b'"),
    ("pair", [1, 2, 3], "too many positional arguments"),
    ("pair", {"a": 1}, "missing a required argument: 'b'"),
    ("pair", {"a": 1, "b": 2, "c": 3}, "unexpected keyword argument 'c'"),
    ("pair", {"a": 1, "c": 3}, "missing a required argument: 'b'"),
    ("optional", [], "missing a required argument: 'a'"),
    ("optional", {"a": 1, "z": 0}, "unexpected keyword argument 'z'"),
    ("none", [1], "too many positional arguments"),
    ("none", {"x": 1}, "unexpected keyword argument 'x'"),
])
async def test_misfitting_calls_get_the_same_invalid_params_alone_and_in_a_batch(
        method: str, params: Any, fragment: str) -> None:
    """-32602 naming the problem, identical to jsonrpcserver's own answer in a batch."""
    request = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    alone = await _answer(request)
    assert alone["error"]["code"] == -32602
    assert fragment in alone["error"]["data"]
    assert alone == await _answer_in_batch(request)


async def test_unknown_method_alone_and_in_a_batch() -> None:
    """-32601 with the same shape on both paths."""
    request = {"jsonrpc": "2.0", "id": 1, "method": "nope"}
    alone = await _answer(request)
    assert alone["error"]["code"] == -32601
    assert alone == await _answer_in_batch(request)


async def test_a_lone_notification_gets_no_answer_even_when_it_misfits() -> None:
    """Notifications are never answered, whatever happened."""
    for params in ([1, 2], [1]):
        request = {"jsonrpc": "2.0", "method": "pair", "params": params}
        assert await handle(orjson.dumps(request), None, METHODS) is None  # type: ignore[arg-type]


async def test_string_and_null_ids_are_echoed() -> None:
    """The id comes back as sent (string, or null which is not a notification)."""
    for rid in ("abc", None):
        answer = await _answer({"jsonrpc": "2.0", "id": rid, "method": "none"})
        assert answer == {"jsonrpc": "2.0", "result": "ok", "id": rid}


async def test_a_method_without_our_boundary_is_called_through_jsonrpcserver() -> None:
    """A plain jsonrpcserver method (it returns a Result itself) still works alone: the
    single-request path hands it to jsonrpcserver's own guarded call."""
    from jsonrpcserver import Error, Success

    async def plain(ctx: Any, x: int) -> Any:
        return Success(x * 2) if x >= 0 else Error(-32000, "negative")

    async def broken(ctx: Any) -> Any:
        raise RuntimeError("boom")

    methods = {"plain": plain, "broken": broken}
    for params, expected in (([4], {"result": 8}),
                             ([-1], {"error": {"code": -32000, "message": "negative"}})):
        out = await handle(orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "plain",
                                         "params": params}), None, methods)  # type: ignore[arg-type]
        assert out is not None
        assert orjson.loads(out) == {"jsonrpc": "2.0", "id": 1, **expected}
    out = await handle(b'{"jsonrpc":"2.0","id":2,"method":"broken"}', None, methods)  # type: ignore[arg-type]
    assert out is not None and orjson.loads(out)["error"]["code"] == -32603
