"""The JSON-RPC 2.0 specification's own examples (section 7), with our methods in them."""

from __future__ import annotations

from typing import Any

import orjson

from ea_bridge.emulator.terminal import EmulatedTerminal
from tests.e2e.fixtures import Daemon


async def post(daemon: Daemon, body: bytes) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {daemon.token}", "Content-Type": "application/json"}
    async with daemon.session.post(daemon.rpc_url, data=body, headers=headers) as response:
        raw = await response.read()
        return response.status, (orjson.loads(raw) if raw else None)


def invalid(rid: Any = None) -> tuple[int, Any]:
    return (-32600, rid)


def shape(reply: dict[str, Any]) -> tuple[Any, Any]:
    """(code or 'ok', id) of one response object."""
    return (reply["error"]["code"] if "error" in reply else "ok", reply["id"])


async def test_positional_and_named_params_agree(daemon: Daemon,
                                                 emulator: EmulatedTerminal) -> None:
    """Params by position (in the MT5 package's order) and by name give the same result."""
    by_position = await post(daemon, b'{"jsonrpc":"2.0","method":"order_calc_margin","params":'
                                     b'["ORDER_TYPE_BUY","EURUSD",1.0,1.1],"id":1}')
    by_name = await post(daemon, b'{"jsonrpc":"2.0","method":"order_calc_margin","params":'
                                 b'{"action":0,"symbol":"EURUSD","volume":1.0,"price":1.1},"id":2}')
    assert by_position[1]["result"] == by_name[1]["result"] > 0


async def test_notifications_get_no_response(daemon: Daemon, emulator: EmulatedTerminal) -> None:
    """A notification, even of a method that does not exist, is answered with nothing."""
    assert await post(daemon, b'{"jsonrpc":"2.0","method":"ping"}') == (204, None)
    assert await post(daemon, b'{"jsonrpc":"2.0","method":"foobar"}') == (204, None)


async def test_non_existent_method(daemon: Daemon) -> None:
    """A call of an unknown method answers -32601 with its id."""
    _, reply = await post(daemon, b'{"jsonrpc":"2.0","method":"foobar","id":"1"}')
    assert shape(reply) == (-32601, "1")


async def test_invalid_json(daemon: Daemon) -> None:
    """Unparseable JSON answers -32700 with a null id."""
    _, reply = await post(daemon, b'{"jsonrpc":"2.0","method":"foobar,"params":"bar","baz]')
    assert shape(reply) == (-32700, None)


async def test_invalid_request_object(daemon: Daemon) -> None:
    """A request whose method is not a string answers -32600 with a null id."""
    _, reply = await post(daemon, b'{"jsonrpc":"2.0","method":1,"params":"bar"}')
    assert shape(reply) == invalid()


async def test_batch_with_invalid_json(daemon: Daemon) -> None:
    """A batch that is not valid JSON answers one -32700, not an array."""
    _, reply = await post(daemon, b'[{"jsonrpc":"2.0","method":"ping","params":[1,2,4],"id":"1"},'
                                  b'{"jsonrpc":"2.0","method"]')
    assert isinstance(reply, dict) and shape(reply) == (-32700, None)


async def test_empty_batch(daemon: Daemon) -> None:
    """An empty array answers one -32600, not an array."""
    _, reply = await post(daemon, b"[]")
    assert isinstance(reply, dict) and shape(reply) == invalid()


async def test_invalid_batch_entries_each_get_an_error(daemon: Daemon) -> None:
    """[1] answers one Invalid Request in an array; [1,2,3] answers three."""
    _, one = await post(daemon, b"[1]")
    _, three = await post(daemon, b"[1,2,3]")
    assert [shape(r) for r in one] == [invalid()]
    assert [shape(r) for r in three] == [invalid()] * 3


async def test_mixed_batch(daemon: Daemon, emulator: EmulatedTerminal) -> None:
    """Good calls run, notifications stay silent, and each bad entry gets its own error."""
    batch = (b'[{"jsonrpc":"2.0","method":"ping","id":"1"},'
             b'{"jsonrpc":"2.0","method":"ping"},'
             b'{"jsonrpc":"2.0","method":"symbols_total","id":"2"},'
             b'{"foo":"boo"},'
             b'{"jsonrpc":"2.0","method":"foo.get","params":{"name":"myself"},"id":"5"},'
             b'{"jsonrpc":"2.0","method":"account_info","id":"9"}]')
    status, replies = await post(daemon, batch)
    assert status == 200
    assert sorted((shape(r) for r in replies), key=str) == sorted(
        [("ok", "1"), ("ok", "2"), invalid(), (-32601, "5"), ("ok", "9")], key=str)
    totals = next(r for r in replies if r["id"] == "2")
    assert totals["result"] == len(emulator.market.specs())


async def test_batch_of_notifications(daemon: Daemon, emulator: EmulatedTerminal) -> None:
    """A batch of only notifications is answered with nothing at all."""
    status, reply = await post(daemon, b'[{"jsonrpc":"2.0","method":"ping","params":[]},'
                                       b'{"jsonrpc":"2.0","method":"ping"}]')
    assert (status, reply) == (204, None)


async def test_trades_refused_in_batches_and_as_notifications(daemon: Daemon,
                                                              emulator: EmulatedTerminal) -> None:
    """order_send inside a batch, or without an id, answers -32600 and is never executed."""
    request = (b'{"jsonrpc":"2.0","method":"order_send","params":{"request":{"action":1,'
               b'"symbol":"BTCUSD","volume":0.01,"type":0}}')
    _, in_batch = await post(daemon, b"[" + request + b',"id":7},'
                                     b'{"jsonrpc":"2.0","method":"ping","id":8}]')
    assert sorted((shape(r) for r in in_batch), key=str) == sorted(
        [invalid(7), ("ok", 8)], key=str)
    _, notification = await post(daemon, request + b"}")
    assert shape(notification) == invalid()
    assert emulator.broker.positions_total() == 0
