"""Small facts shared across packages, each with one owner: the loopback test, the auth reason
words, MT5's bit masks, the tick-row layout, the wire codes, and the HTTP refusals decided in
``errors.py``.

The loopback test is the one fact written twice, on purpose: ``ea_bridge`` imports nothing of
``gateway`` and keeps its own for the bridge's bind rule, and ``mtgateway_base.loopback`` is the
one the daemon and the authority ask. Both are held here to the same answers."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import orjson
import pytest

from ea_bridge import AUTH_REASONS, TICK_ROW
from ea_bridge import is_loopback as bridge_is_loopback
from ea_bridge.messages import REFUSAL_REASONS
from gateway.errors import (
    EA_PASSTHROUGH_CODES,
    HTTP_STATUS,
    MISDIRECTED,
    NOT_ONE_HOST,
    TOO_MANY_CONNECTIONS,
    HttpRefusal,
    RateLimited,
    RpcError,
    Unauthorized,
    Unavailable,
    auth_refusal,
)
from gateway.hub import tick_body
from mt5model import types as emulator_types
from mt5model.mt5 import SymbolFilling, SymbolOrder, TickFlag
from mt5model.types import ErrorCode, Tick
from mtgateway import errors as client_errors
from mtgateway import records as client_records
from mtgateway import stream as client_stream
from mtgateway_base.loopback import is_loopback


@pytest.mark.parametrize("host, expected", [
    ("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("example.com", False),
    ("", False), ("127.0.0.1.nip.io", False),
])
@pytest.mark.parametrize("check", [is_loopback, bridge_is_loopback],
                         ids=["mtgateway_base", "ea_bridge"])
def test_is_loopback(check: Callable[[str], bool], host: str, expected: bool) -> None:
    """Only addresses of this machine (and the name localhost) are loopback, in the daemon's
    and the authority's check and in the bridge's alike."""
    assert check(host) is expected


def test_auth_reasons_have_one_owner() -> None:
    """The daemon's Unauthorized accepts exactly the bridge's auth words, which the EA's
    refusal words include."""
    assert Unauthorized.REASONS is AUTH_REASONS
    assert AUTH_REASONS < REFUSAL_REASONS
    for word in AUTH_REASONS:
        assert Unauthorized(word, "m").reason == word


def test_emulator_bit_masks_are_mt5s() -> None:
    """The emulator's plain-int masks are the values mt5model.mt5 defines."""
    assert emulator_types.SYMBOL_FILLING_FOK == SymbolFilling.FOK == 1
    assert emulator_types.SYMBOL_FILLING_IOC == SymbolFilling.IOC == 2
    assert emulator_types.SYMBOL_ORDER_CLOSEBY == SymbolOrder.CLOSEBY == 64
    assert emulator_types.TICK_FLAG_BID == TickFlag.BID
    assert emulator_types.TICK_FLAG_SELL == TickFlag.SELL


def test_a_tick_row_round_trips_through_the_hub() -> None:
    """A row written in TICK_ROW order is read back by the hub into the tick's own fields."""
    tick = Tick(time_msc=1_763_650_000_123, bid=1.1521, ask=1.15212, last=0.0, volume=0,
                flags=6, volume_real=0.0)
    row = [getattr(tick, name) for name in TICK_ROW]
    body = tick_body("EURUSD", row)
    assert body == {"symbol": "EURUSD", "time": 1_763_650_000, **tick_fields(tick)}


def tick_fields(tick: Tick) -> dict[str, object]:
    return {name: getattr(tick, name) for name in TICK_ROW}


def test_auth_refusals() -> None:
    """401 with the reason and WWW-Authenticate; 429 with Retry-After in a lockout; 503
    when the authority cannot be asked. Each keeps its word for a WebSocket close."""
    bad = Unauthorized("token_expired", "The auth token has expired")
    assert auth_refusal(bad) == HttpRefusal(
        401, RpcError(-32004, "The auth token has expired", {"reason": "token_expired"}),
        {"WWW-Authenticate": 'Bearer realm="mtgateway"'}, "token_expired")
    locked = auth_refusal(RateLimited(12.4))
    assert (locked.status, locked.error.code, locked.reason) == (429, -32005, "rate_limited")
    assert locked.headers == {"Retry-After": "13"}  # whole seconds, rounded up
    assert locked.error.data == {"retry_after_ms": 12400}
    down = auth_refusal(Unavailable("authority_unreachable", "cannot reach it"))
    assert (down.status, down.error.code, down.reason) == (503, -32014, "authority_unreachable")


@pytest.mark.parametrize("refusal", [MISDIRECTED, NOT_ONE_HOST, TOO_MANY_CONNECTIONS])
def test_raw_refusals_are_whole_http_responses(refusal: HttpRefusal) -> None:
    """The guard's bytes: a status line, Connection: close, a Content-Length that matches,
    and the same JSON-RPC error body an aiohttp handler would send."""
    head, _, body = refusal.raw().partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith(f"HTTP/1.1 {refusal.status} ")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert headers["Connection"] == "close"
    assert int(headers["Content-Length"]) == len(body)
    assert body == refusal.body()
    assert orjson.loads(body)["error"]["code"] == refusal.error.code


def test_every_wire_code_has_one_owner_and_the_client_maps_each() -> None:
    """The codes an EA answers with are mt5model's (the daemon's table takes them from there
    and passes all but the internal failure through), and the client, which imports nothing
    of the daemon, maps every code the daemon answers to one of the package's."""
    assert {code.value for code in ErrorCode} <= set(HTTP_STATUS)
    assert EA_PASSTHROUGH_CODES == {code.value for code in ErrorCode} - {ErrorCode.INTERNAL}
    assert set(client_errors._MT5_CODES) == set(HTTP_STATUS)


def test_the_tick_and_the_bar_have_one_declaration_each() -> None:
    """MT5's Tick and MqlRates are declared by the client (``mtgateway.records.Tick``,
    ``mtgateway.stream.Rate``), which imports nothing of ours; the MT5 domain, which imports
    nothing either, keeps the same columns (held here), and its tick, whose fields are the
    EA's row, holds the same fields but ``time`` (derived from ``time_msc``)."""
    assert emulator_types.TICK_COLUMNS == client_records.Tick.__match_args__
    assert emulator_types.RATE_COLUMNS == client_stream.Rate._fields
    assert TICK_ROW == tuple(f.name for f in dataclasses.fields(Tick))
    assert {"time", *TICK_ROW} == set(client_records.Tick.__match_args__)
