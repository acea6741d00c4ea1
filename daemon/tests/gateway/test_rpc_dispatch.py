"""The dispatcher answers every request object the same way alone and inside a batch.

Each call below is sent alone and as one entry of a batch beside a good one, and both answers
must be the same object: one path (``Dispatcher.answer``) serves both. Params bind into the
method's registered model; a misfit is ``-32602`` naming the field.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest

from gateway.rpc import MAX_BATCH, Dispatcher, rpc_method
from gateway.schemas import Params


class _PairParams(Params):
    a: int
    b: int


class _OptionalParams(Params):
    a: int
    b: int = 7


async def _pair(ctx: Any, params: _PairParams) -> list[int]:
    return [params.a, params.b]


async def _optional(ctx: Any, params: _OptionalParams) -> list[int]:
    return [params.a, params.b]


async def _none(ctx: Any) -> str:
    return "ok"


async def _broken(ctx: Any) -> str:
    raise RuntimeError("secret internals /home/owner/.config token=abc")


async def _trade(ctx: Any, params: _PairParams) -> str:
    return "traded"


DISPATCHER: Dispatcher[Any] = Dispatcher({
    "pair": rpc_method(_pair, _PairParams),
    "optional": rpc_method(_optional, _OptionalParams),
    "none": rpc_method(_none),
    "broken": rpc_method(_broken),
    "order_send": rpc_method(_trade, _PairParams),
    "close_position": rpc_method(_trade, _PairParams, trade=True),
})


async def _raw(body: Any) -> Any:
    out = await DISPATCHER.handle(body if isinstance(body, bytes) else orjson.dumps(body), None)
    return None if out is None else orjson.loads(out)


async def _answer(request: Any) -> dict[str, Any]:
    answer = await _raw(request)
    assert isinstance(answer, dict)
    return answer


async def _answer_in_batch(request: Any) -> dict[str, Any]:
    other = {"jsonrpc": "2.0", "id": "other", "method": "none"}
    answers = await _raw([request, other])
    assert isinstance(answers, list) and len(answers) == 2
    assert answers[1] == {"jsonrpc": "2.0", "result": "ok", "id": "other"}
    first: dict[str, Any] = answers[0]
    return first


@pytest.mark.parametrize("method, params, result", [
    ("pair", [1, 2], [1, 2]),
    ("pair", {"a": 1, "b": 2}, [1, 2]),
    ("pair", {"b": 2, "a": 1}, [1, 2]),
    ("optional", [1], [1, 7]),
    ("optional", {"a": 1, "b": 3}, [1, 3]),
    ("none", [], "ok"),
    ("none", {}, "ok"),
    ("none", None, "ok"),
])
async def test_fitting_calls_run_alone_and_in_a_batch(method: str, params: Any,
                                                      result: Any) -> None:
    """Positional and named params that fit the model reach the method, alone or batched."""
    request = {"jsonrpc": "2.0", "id": 1, "method": method}
    if params is not None:
        request["params"] = params
    alone = await _answer(request)
    assert alone == {"jsonrpc": "2.0", "result": result, "id": 1}
    assert alone == await _answer_in_batch(request)


@pytest.mark.parametrize("method, params, fragment", [
    ("pair", [1], "b: Field required"),
    ("pair", [1, 2, 3], "expected at most 2 positional params (a, b), got 3"),
    ("pair", {"a": 1}, "b: Field required"),
    ("pair", {"a": 1, "b": 2, "c": 3}, "c: Extra inputs are not permitted"),
    ("pair", {"a": "1", "b": 2}, "a: Input should be a valid integer"),
    ("pair", [1, 2.5], "b: Input should be a valid integer"),
    ("optional", [], "a: Field required"),
    ("none", [1], "expected no params, got 1 param"),
    ("none", {"x": 1, "y": 2}, "expected no params, got 2 params"),
])
async def test_misfitting_calls_get_the_same_invalid_params_alone_and_in_a_batch(
        method: str, params: Any, fragment: str) -> None:
    """-32602 naming the problem, identical alone and in a batch."""
    request = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    alone = await _answer(request)
    assert alone["error"]["code"] == -32602
    assert fragment in alone["error"]["message"]
    assert alone == await _answer_in_batch(request)


@pytest.mark.parametrize("request_object", [
    {"jsonrpc": "2.0", "id": 1, "method": "nope"},
    {"jsonrpc": "2.0", "id": 1, "method": 1},
    {"jsonrpc": "1.0", "id": 1, "method": "none"},
    {"jsonrpc": "2.0", "id": 1, "method": "none", "params": "x"},
    {"jsonrpc": "2.0", "id": 1.5, "method": "none"},
    {"jsonrpc": "2.0", "id": True, "method": "none"},
    {"foo": "boo"},
    1,
    "text",
    None,
], ids=repr)
async def test_bad_request_objects_answer_the_same_alone_and_in_a_batch(
        request_object: Any) -> None:
    """An unknown method (-32601) or a malformed request object (-32600) answers the same
    error object whether it came alone or as a batch entry (JSON-RPC 2.0 section 7)."""
    alone = await _answer(request_object)
    assert alone["error"]["code"] in (-32601, -32600)
    assert alone == await _answer_in_batch(request_object)


async def test_invalid_request_echoes_a_readable_id_only() -> None:
    """A malformed request with a usable id gets it back; an unusable id comes back null."""
    assert (await _answer({"jsonrpc": "2.0", "id": "k", "method": 5}))["id"] == "k"
    assert (await _answer({"jsonrpc": "2.0", "id": [1], "method": "none"}))["id"] is None


async def test_notifications_get_no_answer_whatever_happened() -> None:
    """A notification is never answered: success, misfit, unknown method or an exception."""
    for request in ({"jsonrpc": "2.0", "method": "none"},
                    {"jsonrpc": "2.0", "method": "pair", "params": [1]},
                    {"jsonrpc": "2.0", "method": "nope"},
                    {"jsonrpc": "2.0", "method": "broken"}):
        assert await _raw(request) is None
        assert await _raw([request]) is None


async def test_string_and_null_ids_are_echoed() -> None:
    """The id comes back as sent (string, or null which is not a notification)."""
    for rid in ("abc", None, 0):
        answer = await _answer({"jsonrpc": "2.0", "id": rid, "method": "none"})
        assert answer == {"jsonrpc": "2.0", "result": "ok", "id": rid}


async def test_an_unexpected_exception_answers_an_error_id_only(
        caplog: pytest.LogCaptureFixture) -> None:
    """-32603 with only an ``error_id``; the exception text is logged under it, never sent."""
    with caplog.at_level(logging.ERROR, logger="gateway.rpc"):
        answer = await _answer({"jsonrpc": "2.0", "id": 9, "method": "broken"})
    error = answer["error"]
    assert error["code"] == -32603 and error["message"] == "Internal error"
    assert set(error["data"]) == {"error_id"}
    assert "secret" not in orjson.dumps(answer).decode()
    record = next(r for r in caplog.records if error["data"]["error_id"] in r.getMessage())
    assert record.exc_info is not None and "secret internals" in str(record.exc_info[1])


async def test_trades_are_refused_in_a_batch_and_as_notifications() -> None:
    """A trading method inside a batch gets -32600 and does not run, while the batch's other
    entries do; alone it runs, but not as a notification."""
    trade = {"jsonrpc": "2.0", "id": "t", "method": "order_send", "params": [1, 2]}
    assert (await _answer(trade))["result"] == "traded"
    batched = await _answer_in_batch(trade)
    assert batched["error"]["code"] == -32600 and batched["id"] == "t"
    assert "batch" in batched["error"]["message"]
    notification = {"jsonrpc": "2.0", "method": "order_send", "params": [1, 2]}
    refused = await _answer(notification)
    assert refused["error"]["code"] == -32600 and refused["id"] is None


async def test_a_method_registered_as_a_trade_follows_the_trade_rules() -> None:
    """``trade=True`` puts any name under the same rules as order_send."""
    trade = {"jsonrpc": "2.0", "id": "c", "method": "close_position", "params": [1, 2]}
    assert (await _answer(trade))["result"] == "traded"
    assert (await _answer_in_batch(trade))["error"]["code"] == -32600
    assert (await _answer({k: v for k, v in trade.items() if k != "id"}))["error"]["code"] \
        == -32600


async def test_batch_limits() -> None:
    """An empty batch and one above MAX_BATCH are one -32600 object, not an array; a full
    batch is answered entry by entry, in order."""
    assert (await _raw([]))["error"]["code"] == -32600
    too_many = [{"jsonrpc": "2.0", "id": i, "method": "none"} for i in range(MAX_BATCH + 1)]
    assert (await _raw(too_many))["error"]["code"] == -32600
    answers = await _raw(too_many[:MAX_BATCH])
    assert [a["id"] for a in answers] == list(range(MAX_BATCH))


async def test_parse_errors() -> None:
    """Invalid JSON, NaN and duplicate keys answer one -32700 with a null id."""
    for body in (b'{"jsonrpc":', b'{"jsonrpc":"2.0","id":1,"method":"pair","params":[NaN,1]}',
                 b'{"jsonrpc":"2.0","id":1,"id":2,"method":"none"}'):
        answer = await _answer(body)
        assert answer["error"]["code"] == -32700 and answer["id"] is None


async def test_an_unknown_method_close_to_a_known_one_suggests_it() -> None:
    """m17 (review round 4): a typo (``optionl``) is answered -32601 "did you mean optional?",
    the name still in ``data``; a name close to nothing gets the plain message, and a long one
    is not compared at all."""
    typo = await _answer({"jsonrpc": "2.0", "id": 1, "method": "optionl"})
    assert typo["error"] == {"code": -32601, "message": "Method not found; did you mean "
                             "optional?", "data": "optionl"}
    for name in ("launch_rockets", "optional" * 20):
        far = await _answer({"jsonrpc": "2.0", "id": 1, "method": name})
        assert far["error"]["message"] == "Method not found"
