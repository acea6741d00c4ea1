"""The message codec: every type round-trips, and malformed frames are refused, not guessed."""

from __future__ import annotations

import pytest

from ea_bridge.errors import ProtocolViolation
from ea_bridge.messages import (
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
