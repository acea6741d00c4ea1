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
    auth_mac,
    decode,
    encode,
    token_hint,
    token_key,
)

HELLO = Hello(1, "MT5", 4755, "1.0.0", 5012345, "MTG-Demo", "MT Gateway", "Terminal 1")

EXAMPLES: list[Message] = [
    HELLO,
    Challenge("ab" * 32, 1_763_700_000_000),
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
    (b'{"t":"ping","ts":NaN}', "JSON"),
    (b'{"t":"res","id":1,"r":1e999}', "JSON"),
])
def test_malformed_frames_are_violations(payload: bytes, fragment: str) -> None:
    """Each malformed payload raises ProtocolViolation with a message naming the problem."""
    with pytest.raises(ProtocolViolation, match=fragment):
        decode(payload)


def test_auth_mac_test_vector() -> None:
    """The MAC matches the vector in docs/protocol.md (checked with openssl dgst -hmac)."""
    token = "mtgw_" + "A" * 32 + "BBBBBB"
    key = token_key(token)
    assert key.hex() == "0a3202549b51758af14e3a5c8ce477aaffc3089a7fc85ee88413a4ed90c84501"
    assert auth_mac(key, "00" * 32, 5012345, "MTG-Demo") == (
        "5acc83d301ba777fcf6498e4e593fe3912e49cd753e598dca54376238c51b9ce")


def test_auth_mac_binds_nonce_login_and_server() -> None:
    """Changing the nonce, the login or the server changes the MAC."""
    key = token_key("mtgw_x")
    base = auth_mac(key, "aa", 1, "S")
    assert len({base, auth_mac(key, "ab", 1, "S"), auth_mac(key, "aa", 2, "S"),
                auth_mac(key, "aa", 1, "T"), auth_mac(token_key("mtgw_y"), "aa", 1, "S")}) == 5


def test_token_hint_vector_and_independence() -> None:
    """The hint matches docs/protocol.md and differs from the HMAC key."""
    token = "mtgw_" + "A" * 32 + "BBBBBB"
    assert token_hint(token) == "b516fc16a62f26210b7986963d09368e"
    assert token_hint(token) not in token_key(token).hex()
    hello = Hello(1, "MT5", 1, "1", 2, "S", "C", "", token_hint(token))
    assert decode(encode(hello)) == hello
