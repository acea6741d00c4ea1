"""The message codec: every type round-trips, and malformed frames are refused, not guessed."""

from __future__ import annotations

import itertools

import pytest

from ea_bridge.errors import ProtocolViolation
from ea_bridge.messages import (
    _TICK_ROW_INTEGER,
    Auth,
    Bye,
    Challenge,
    ErrorResponse,
    Event,
    Hello,
    Message,
    Ping,
    Pong,
    Refuse,
    Request,
    Response,
    Welcome,
    decode,
    encode,
    encode_request,
    tick_row_problem,
)

HELLO = Hello(2, "MT5", 4755, "1.3.0", 5012345, "MTG-Demo", "MT Gateway", "Terminal 1",
              "b516fc16a62f26210b7986963d09368e", "e1" * 32)

EXAMPLES: list[Message] = [
    HELLO,
    Challenge("ab" * 32, 1_763_700_000_000, "ef" * 32),
    Auth("cd" * 32),
    Welcome("s1", 5.0, 15.0, 8 << 20),
    Refuse("invalid_token", "the token is not known"),
    Request(7, "account_info", {}),
    Request(8, "copy_rates_from_pos", {"symbol": "EURUSD", "timeframe": 1, "start_pos": 0,
                                       "count": 10}),
    Response(7, {"login": 5012345, "balance": 10000.0}),
    Response(9, None),
    ErrorResponse(8, -32006, "unknown symbol 'XYZ'"),
    ErrorResponse(10, -32602, "volume: must be positive", {"field": "volume"}),
    Event(1, "ticks", {"symbol": "EURUSD", "rows": [[1_763_700_000_123, 1.1, 1.10002, 0.0, 0, 6,
                                                    0.0]]}),
    Ping(123),
    Pong(123),
    Bye("shutting_down", "bye"),
]


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip(message: Message) -> None:
    """Every message type decodes back to an equal message."""
    assert decode(encode(message)) == message


def test_wire_names_are_the_documented_ones() -> None:
    """Requests and events use the short keys docs/protocol.md documents."""
    assert encode(Request(1, "ping", {})) == b'{"t":"req","id":1,"m":"ping","p":{}}'
    assert encode(Response(1, True)) == b'{"t":"res","id":1,"r":true}'
    assert encode(ErrorResponse(2, -32006, "no")) == (
        b'{"t":"res","id":2,"e":{"code":-32006,"message":"no"}}')
    assert encode(Event(3, "trade", {})) == b'{"t":"evt","seq":3,"m":"trade","p":{}}'


def test_a_request_encodes_alike_without_its_message() -> None:
    """The bridge's per-call ``encode_request`` writes what ``encode(Request(...))`` writes,
    and the decoder's shortcut for a well-formed request gives the message the walk gives."""
    params = {"symbol": "EURUSD", "volume": 0.1, "nested": {"a": [1, 2]}}
    assert encode_request(9, "order_send", params) == encode(Request(9, "order_send", params))
    assert decode(encode_request(9, "order_send", params)) == Request(9, "order_send", params)


def test_optional_fields_default() -> None:
    """terminal_name, refuse message and request params may be omitted."""
    hello = decode(b'{"t":"hello","v":1,"platform":"MT4","build":1420,"ea_version":"1",'
                   b'"login":1,"server":"S","company":"C"}')
    assert isinstance(hello, Hello) and hello.terminal_name == ""
    assert decode(b'{"t":"req","id":1,"m":"ping"}') == Request(1, "ping", {})


def test_unknown_extra_keys_are_ignored() -> None:
    """A newer peer may add fields; they are ignored rather than refused."""
    assert decode(b'{"t":"ping","ts":5,"future":"x"}') == Ping(5)


@pytest.mark.parametrize("payload, fragment", [
    (b"not json", "JSON"),
    (b"\xff\xfe{}", "JSON"),
    (b"[1,2]", "object"),
    (b'{"ts":1}', "unknown message type"),
    (b'{"t":"launch"}', "unknown message type"),
    (b'{"t":"ping"}', "missing field 'ts'"),
    (b'{"t":"ping","ts":"1"}', "wrong type"),
    (b'{"t":"ping","ts":true}', "wrong type"),
    (b'{"t":"ping","ts":1.5}', "wrong type"),
    (b'{"t":"hello","v":1,"platform":"MT5","build":1,"ea_version":"1","login":"1",'
     b'"server":"S","company":"C"}', "'login'"),
    (b'{"t":"res","id":1}', "needs 'r' or 'e'"),
    (b'{"t":"res","id":"1","r":1}', "'id'"),
    (b'{"t":"res","id":1,"e":{"code":"x","message":"m"}}', "integer 'code'"),
    (b'{"t":"evt","seq":1,"m":"ticks","p":[]}', "wrong type"),
    (b'{"t":"req","m":"ping","p":{}}', "missing field 'id'"),
    (b'{"t":"req","id":true,"m":"ping","p":{}}', "wrong type"),
    (b'{"t":"req","id":1.0,"m":"ping","p":{}}', "wrong type"),
    (b'{"t":"req","id":1,"m":7,"p":{}}', "'m' has the wrong type"),
    (b'{"t":"req","id":1,"m":"ping","p":[]}', "'p' has the wrong type"),
    (b'{"t":"ping","ts":NaN}', "JSON"),
    (b'{"t":"res","id":1,"r":1e999}', "JSON"),
])
def test_malformed_frames_are_violations(payload: bytes, fragment: str) -> None:
    """Each malformed payload raises ProtocolViolation with a message naming the problem."""
    with pytest.raises(ProtocolViolation, match=fragment):
        decode(payload)


def test_the_handshake_fields_have_their_documented_names() -> None:
    """Protocol version 2's hello carries ea_nonce and token_hint, the challenge its proof,
    the auth a proof (docs/protocol.md §3)."""
    assert b'"ea_nonce":"' + b"e1" * 32 + b'"' in encode(HELLO)
    assert b'"token_hint":"b516fc16a62f26210b7986963d09368e"' in encode(HELLO)
    assert encode(Challenge("ab" * 32, 1, "ef" * 32)) == (
        b'{"t":"challenge","nonce":"' + b"ab" * 32 + b'","server_time_ms":1,"proof":"'
        + b"ef" * 32 + b'"}')
    assert encode(Auth("cd" * 32)) == b'{"t":"auth","proof":"' + b"cd" * 32 + b'"}'


GOOD_ROWS = [
    [1732400000000, 1.08123, 1.08135, 0.0, 0, 6, 0.0],
    [1732400000000, 1, 2, 0, 0, 6, 0],  # whole prices are numbers too (JSON has no types)
    [0, -1.5, 1e300, 3, 2**62, 0, 1.25],
]
BAD_ROWS = [
    ([1, 1.0, 1.0, 1.0, 1, 1], "expected 7 fields, got 6"),
    ((1, 1.0, 1.0, 1.0, 1, 1, 1.0), "expected an array, got tuple"),
    ({"time_msc": 1}, "expected an array, got dict"),
    ([True, 1.0, 1.0, 1.0, 1, 1, 1.0], "time_msc: expected an integer, got True"),
    ([1, 1.0, 1.0, 1.0, 1.5, 1, 1.0], "volume: expected an integer, got 1.5"),
    ([1, "1.1", 1.0, 1.0, 1, 1, 1.0], "bid: expected a number, got '1.1'"),
    ([1, 1.0, None, 1.0, 1, 1, 1.0], "ask: expected a number, got None"),
    ([1, 1.0, 1.0, 1.0, 1, 1, False], "volume_real: expected a number, got False"),
]


@pytest.mark.parametrize("row", GOOD_ROWS)
def test_a_good_tick_row_passes(row: list[object]) -> None:
    assert tick_row_problem(row) is None


@pytest.mark.parametrize(("row", "problem"), BAD_ROWS)
def test_a_bad_tick_row_says_which_field_broke(row: object, problem: str) -> None:
    """The one-look-up check of a good row's types lets nothing through that the field walk
    refuses, and the walk still names the field."""
    assert tick_row_problem(row) == problem


def test_the_quick_row_check_agrees_with_the_field_walk_on_every_type_mix() -> None:
    """Every mix of int, float, bool, str and None over the seven fields: the set look-up
    and the walk it stands in front of give the same verdict."""
    kinds: list[object] = [7, 7.5, True, "7", None]
    walked = 0
    for mix in itertools.product(range(len(kinds)), repeat=7):
        row = [kinds[k] for k in mix]
        want = all(
            (type(value) is int) if integer else type(value) in (int, float)
            for value, integer in zip(row, _TICK_ROW_INTEGER, strict=True))
        assert (tick_row_problem(row) is None) is want, row
        walked += 1
    assert walked == 5 ** 7
