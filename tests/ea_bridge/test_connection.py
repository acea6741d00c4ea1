"""The bridge connection state machine, both ends, driven by bytes and a fake clock."""

from __future__ import annotations

import pytest

from ea_bridge.connection import (
    AuthReceived,
    BridgeConnection,
    Closed,
    ConnectionEvent,
    EAConnection,
    EventReceived,
    HeartbeatSettings,
    HelloReceived,
    PongReceived,
    Refused,
    RequestReceived,
    ResponseReceived,
    State,
    Welcomed,
)
from ea_bridge.errors import InvalidState
from ea_bridge.framing import encode_frame
from ea_bridge.messages import (
    Auth,
    ErrorResponse,
    Event,
    Hello,
    Refuse,
    Response,
    auth_mac,
    decode,
    encode,
    token_key,
)
from tests.testkit import FakeClock, splits

TOKEN = "mtgw_" + "Q" * 32 + "ZZZZZZ"
HELLO = Hello(1, "MT5", 4755, "1.2.0", 5012345, "MTG-Demo", "MT Gateway")
HB = HeartbeatSettings(interval_s=5.0, timeout_s=15.0, handshake_timeout_s=5.0)


def feed(conn: BridgeConnection | EAConnection, data: bytes, how: list[bytes] | None = None
         ) -> list[ConnectionEvent]:
    for chunk in how if how is not None else [data]:
        conn.receive_data(chunk)
    return conn.events_received()


def handshake(clock: FakeClock, token: str = TOKEN) -> tuple[BridgeConnection, EAConnection]:
    """Run a full handshake with an accepting daemon; return both READY ends."""
    server = BridgeConnection(clock=clock, heartbeat=HB)
    client = EAConnection(HELLO, token_key(token), clock=clock)
    [hello] = feed(server, client.data_to_send())
    assert isinstance(hello, HelloReceived)
    server.send_challenge("ab" * 32, 1_700_000_000_000)
    assert feed(client, server.data_to_send()) == []
    [auth] = feed(server, client.data_to_send())
    assert isinstance(auth, AuthReceived)
    server.accept("session-1")
    [welcomed] = feed(client, server.data_to_send())
    assert isinstance(welcomed, Welcomed)
    return server, client


def test_handshake_under_every_split() -> None:
    """Hello, challenge and auth work whatever way each side's bytes are cut."""
    clock = FakeClock()
    hello_bytes = EAConnection(HELLO, token_key(TOKEN), clock=clock).data_to_send()
    for name, chunks in splits(hello_bytes):
        server = BridgeConnection(clock=clock, heartbeat=HB)
        assert feed(server, b"", chunks) == [HelloReceived(HELLO)], name
        assert server.state is State.AWAITING_AUTH
    server.send_challenge("cd" * 32, 1)
    challenge_bytes = server.data_to_send()
    expected_mac = auth_mac(token_key(TOKEN), "cd" * 32, HELLO.login, HELLO.server)
    for name, chunks in splits(challenge_bytes):
        client = EAConnection(HELLO, token_key(TOKEN), clock=clock)
        client.data_to_send()
        assert feed(client, b"", chunks) == [], name
        assert client.state is State.AWAITING_WELCOME
        auth_bytes = client.data_to_send()
        assert decode(auth_bytes[4:]) == Auth(expected_mac), name
    for name, chunks in splits(auth_bytes):
        server = BridgeConnection(clock=clock, heartbeat=HB)
        feed(server, hello_bytes)
        server.send_challenge("cd" * 32, 1)
        assert feed(server, b"", chunks) == [AuthReceived(HELLO, "cd" * 32, expected_mac)], name


def test_accept_makes_both_ends_ready_and_adopts_heartbeat() -> None:
    """After accept, both ends are READY and the EA uses the daemon's heartbeat settings."""
    server, client = handshake(FakeClock())
    assert server.state is State.READY and client.state is State.READY
    assert client.heartbeat.interval_s == 5.0 and client.heartbeat.timeout_s == 15.0


def test_refusal_reaches_the_ea_with_its_reason() -> None:
    """A refused handshake gives the EA the reason word and closes both ends."""
    clock = FakeClock()
    server = BridgeConnection(clock=clock, heartbeat=HB)
    client = EAConnection(HELLO, token_key("mtgw_wrong"), clock=clock)
    feed(server, client.data_to_send())
    server.send_challenge("ef" * 32, 1)
    feed(client, server.data_to_send())
    [auth] = feed(server, client.data_to_send())
    assert isinstance(auth, AuthReceived)
    assert auth.mac != auth_mac(token_key(TOKEN), auth.nonce, HELLO.login, HELLO.server)
    server.refuse("invalid_token", "the token is not valid for this daemon")
    assert server.should_close
    events = feed(client, server.data_to_send())
    assert events[0] == Refused("invalid_token", "the token is not valid for this daemon")
    assert client.state is State.CLOSED


def test_unsupported_version_is_refused_without_the_shell() -> None:
    """A hello with another protocol version is refused by the state machine itself."""
    server = BridgeConnection(clock=FakeClock(), heartbeat=HB)
    hello = Hello(2, "MT5", 1, "9", 1, "S", "C")
    events = feed(server, encode_frame(encode(hello)))
    assert events[0] == Closed("unsupported_version", events[0].message)  # type: ignore[union-attr]
    reply = decode(server.data_to_send()[4:])
    assert isinstance(reply, Refuse) and reply.reason == "unsupported_version"


@pytest.mark.parametrize("first", [
    encode_frame(b'{"t":"ping","ts":1}'),
    encode_frame(b"not json at all"),
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    b"\x00\x00\x00\x00",
])
def test_anything_but_a_hello_first_is_refused(first: bytes) -> None:
    """Garbage or a wrong first frame gets a protocol_error refusal and closes."""
    server = BridgeConnection(clock=FakeClock(), heartbeat=HB)
    events = feed(server, first)
    assert [type(e) for e in events] == [Closed]
    assert events[0].reason == "protocol_error"  # type: ignore[union-attr]
    reply = decode(server.data_to_send()[4:])
    assert isinstance(reply, Refuse) and reply.reason == "protocol_error"
    assert server.should_close
    assert feed(server, encode_frame(encode(HELLO))) == []  # nothing more is processed


def test_unauthenticated_peer_gets_small_frames_only() -> None:
    """Before the handshake a 20 KiB frame is refused; after it, the same frame is fine."""
    big = encode_frame(b'{"t":"evt","seq":1,"m":"x","p":{"s":"' + b"x" * 20_000 + b'"}}')
    server = BridgeConnection(clock=FakeClock(), heartbeat=HB)
    assert [type(e) for e in feed(server, big)] == [Closed]
    ready, _client = handshake(FakeClock())
    [event] = feed(ready, big)
    assert isinstance(event, EventReceived) and event.event.name == "x"


def test_handshake_deadline() -> None:
    """A peer that does not finish the handshake in time is refused with handshake_timeout."""
    clock = FakeClock()
    server = BridgeConnection(clock=clock, heartbeat=HB)
    clock.advance(4.9)
    server.on_timer()
    assert server.state is State.AWAITING_HELLO
    clock.advance(0.2)
    server.on_timer()
    reply = decode(server.data_to_send()[4:])
    assert isinstance(reply, Refuse) and reply.reason == "handshake_timeout"
    assert server.should_close


def test_requests_multiplexed_and_answered_out_of_order() -> None:
    """Responses are matched to requests by id, in whatever order they come."""
    server, client = handshake(FakeClock())
    ids = [server.send_request("symbol_info_tick", {"symbol": s}) for s in ("A", "B", "C")]
    assert ids == [1, 2, 3]
    requests = feed(client, server.data_to_send())
    assert [r.request.params["symbol"] for r in requests] == ["A", "B", "C"]  # type: ignore[union-attr]
    client.send_response(3, {"bid": 3.0})
    client.send_error(1, -32006, "unknown symbol 'A'")
    client.send_response(2, {"bid": 2.0})
    events = feed(server, client.data_to_send())
    assert events == [ResponseReceived(Response(3, {"bid": 3.0})),
                      ResponseReceived(ErrorResponse(1, -32006, "unknown symbol 'A'")),
                      ResponseReceived(Response(2, {"bid": 2.0}))]


def test_response_to_unknown_or_answered_id_is_a_violation() -> None:
    """An answer nobody asked for (or a second answer) closes the session with protocol_error."""
    server, client = handshake(FakeClock())
    rid = server.send_request("ping", {})
    feed(client, server.data_to_send())
    client.send_response(rid, {})
    client.send_response(rid, {})
    events = feed(server, client.data_to_send())
    assert isinstance(events[0], ResponseReceived)
    assert events[1] == Closed("protocol_error", "response to unknown request id 1")


def test_event_sequence_numbers_report_gaps() -> None:
    """Events count up from 1; a jump reports how many were missed; a repeat is a violation."""
    server, client = handshake(FakeClock())
    assert client.send_event("ticks", {"symbol": "EURUSD", "rows": []}) == 1
    assert client.send_event("trade", {"type": "deal_added"}) == 2
    events = feed(server, client.data_to_send())
    assert [(e.event.seq, e.missed) for e in events] == [(1, 0), (2, 0)]  # type: ignore[union-attr]
    gap = encode_frame(encode(Event(5, "trade", {})))
    [event] = feed(server, gap)
    assert isinstance(event, EventReceived) and event.missed == 2
    [closed] = feed(server, encode_frame(encode(Event(5, "trade", {}))))
    assert isinstance(closed, Closed) and closed.reason == "protocol_error"


def test_ticks_in_every_split_arrive_once_each() -> None:
    """A burst of events cut at every offset yields each event exactly once, in order."""
    server, client = handshake(FakeClock())
    for i in range(3):
        client.send_event("ticks", {"symbol": "EURUSD", "rows": [[i, 1.1, 1.2, 0, 0, 6, 0]]})
    burst = client.data_to_send()
    for name, chunks in splits(burst):
        fresh, _ = handshake(FakeClock())
        events = feed(fresh, b"", chunks)
        assert [e.event.seq for e in events] == [1, 2, 3], name  # type: ignore[union-attr]


def test_heartbeat_ping_pong_and_rtt() -> None:
    """Every interval each end pings; the pong reports the round trip on our clock."""
    clock = FakeClock()
    server, client = handshake(clock)
    clock.advance(4.0)
    server.on_timer()
    assert server.data_to_send() == b""
    clock.advance(1.0)
    server.on_timer()
    ping = server.data_to_send()
    assert ping
    feed(client, ping)
    clock.advance(0.25)
    [pong] = feed(server, client.data_to_send())
    assert isinstance(pong, PongReceived) and pong.rtt_s == pytest.approx(0.25, abs=0.001)


def test_silent_peer_is_declared_dead() -> None:
    """No data for the heartbeat timeout closes the connection with heartbeat_timeout."""
    clock = FakeClock()
    server, _client = handshake(clock)
    clock.advance(14.9)
    server.on_timer()
    assert server.state is State.READY
    clock.advance(0.2)
    server.on_timer()
    events = server.events_received()
    assert Closed("heartbeat_timeout", "no data from peer within the heartbeat timeout") in events
    assert server.should_close


def test_a_stall_of_our_own_process_defers_the_verdict() -> None:
    """A timer call a whole interval late means this process could not run, so data the peer
    sent meanwhile may be unread: the verdict waits one call. Data read then keeps the peer
    alive; continued silence at the next on-time call closes as before."""
    for peer_spoke in (True, False):
        clock = FakeClock()
        server, client = handshake(clock)
        for _ in range(4):  # on time: every half interval
            clock.advance(2.5)
            server.on_timer()
        client.send_event("ticks", {"symbol": "X", "rows": []})  # sent during the stall
        sent_meanwhile = client.data_to_send()
        clock.advance(20.0)  # the stall: 30 s of silence on the clock, far past the timeout
        server.on_timer()
        assert server.state is State.READY
        if peer_spoke:
            feed(server, sent_meanwhile)
        clock.advance(2.5)
        server.on_timer()
        assert (server.state is State.READY) is peer_spoke, peer_spoke


def test_any_traffic_counts_as_liveness() -> None:
    """A peer that keeps sending data is alive even if it never pongs."""
    clock = FakeClock()
    server, client = handshake(clock)
    for _ in range(10):
        clock.advance(5.0)
        client.send_event("ticks", {"symbol": "X", "rows": []})
        feed(server, client.data_to_send())
        server.on_timer()
    assert server.state is State.READY


def test_bye_and_eof_close_with_reasons() -> None:
    """An orderly bye carries its reason to the peer; a bare EOF reads as eof."""
    server, client = handshake(FakeClock())
    server.send_bye("token_revoked", "the token was revoked")
    [closed] = feed(client, server.data_to_send())
    assert closed == Closed("token_revoked", "the token was revoked")
    assert client.state is State.CLOSED
    server2, _ = handshake(FakeClock())
    server2.receive_eof()
    assert server2.events_received() == [Closed("eof", "connection closed by peer")]


def test_ea_receives_requests() -> None:
    """The EA end reports requests with their id, method and params."""
    server, client = handshake(FakeClock())
    server.send_request("account_info", {})
    [event] = feed(client, server.data_to_send())
    assert isinstance(event, RequestReceived)
    assert (event.request.id, event.request.method) == (1, "account_info")


def test_operations_in_the_wrong_state_are_our_bug() -> None:
    """Sending a request before the handshake, or accepting twice, raises InvalidState."""
    clock = FakeClock()
    server = BridgeConnection(clock=clock, heartbeat=HB)
    with pytest.raises(InvalidState):
        server.send_request("ping", {})
    with pytest.raises(InvalidState):
        server.accept("x")
    client = EAConnection(HELLO, token_key(TOKEN), clock=clock)
    with pytest.raises(InvalidState):
        client.send_event("ticks", {})
    ready, _ = handshake(clock)
    with pytest.raises(InvalidState):
        ready.accept("again")


def test_heartbeat_settings_are_validated() -> None:
    """An interval not below the timeout is a configuration error."""
    with pytest.raises(ValueError):
        HeartbeatSettings(interval_s=15.0, timeout_s=15.0)


def test_a_peer_working_on_our_request_is_not_declared_dead() -> None:
    """An EA blocked in one of our requests (OrderSend waits for the broker, CopyTicks for
    history) cannot answer pings: while the caller still waits, silence is not death, so a slow
    fill does not become an unknown outcome. Once the caller gives up (its own timeout), or the
    answer comes, the usual verdict applies again."""
    clock = FakeClock()
    server, client = handshake(clock)
    request_id = server.send_request("order_send", {"request": {}})
    feed(client, server.data_to_send())
    for _ in range(12):  # 30 s of silence, twice the heartbeat timeout, timer on time
        clock.advance(2.5)
        server.on_timer()
    assert server.state is State.READY
    client.send_response(request_id, {"retcode": 10009})
    [answer] = [e for e in feed(server, client.data_to_send()) if isinstance(e, ResponseReceived)]
    assert answer.response.id == request_id
    for _ in range(6):  # answered: silence counts again
        clock.advance(2.5)
        server.on_timer()
    assert server.should_close and server.close_reason == "heartbeat_timeout"


def test_giving_up_on_a_request_restores_the_dead_peer_verdict() -> None:
    """The caller's timeout passed (give_up): the peer's silence is judged as usual, and a late
    answer is still accepted rather than treated as a violation."""
    clock = FakeClock()
    server, client = handshake(clock)
    request_id = server.send_request("copy_ticks_range", {})
    feed(client, server.data_to_send())
    for _ in range(4):
        clock.advance(2.5)
        server.on_timer()
    server.give_up(request_id)
    client.send_response(request_id, {"rows": []})  # late, but still a valid answer
    assert [e for e in feed(server, client.data_to_send()) if isinstance(e, ResponseReceived)]
    for _ in range(7):
        clock.advance(2.5)
        server.on_timer()
    assert server.should_close and server.close_reason == "heartbeat_timeout"
