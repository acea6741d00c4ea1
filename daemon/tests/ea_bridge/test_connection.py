"""The bridge connection state machine, both ends, driven by bytes and a fake clock."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ea_bridge.connection import (
    DAEMON_UNPROVEN,
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
    PROTOCOL_VERSION,
    Auth,
    Challenge,
    ErrorResponse,
    Event,
    Hello,
    Refuse,
    Response,
    decode,
    encode,
)
from mtgateway.credential import TokenKeys, ea_message, prove_server, verify_holder
from tests.testkit import FakeClock, splits

TOKEN = "mtgw_" + "Q" * 32 + "ZZZZZZ"
KEYS = TokenKeys.of(TOKEN)
EA_NONCE = "e1" * 32
HELLO = Hello(PROTOCOL_VERSION, "MT5", 4755, "1.3.0", 5012345, "MTG-Demo", "MT Gateway",
              token_hint=KEYS.hint, ea_nonce=EA_NONCE)
HB = HeartbeatSettings(interval_s=5.0, timeout_s=15.0, handshake_timeout_s=5.0)


def daemon_proof(daemon_nonce: str, keys: TokenKeys = KEYS, hello: Hello = HELLO) -> str:
    """What a daemon holding ``keys``' record answers the hello with."""
    return prove_server(keys.verifier.server_key, ea_message(
        "daemon", hello.ea_nonce, daemon_nonce, hello.login, hello.server))


def ea_proof_checks(proof: str, daemon_nonce: str, keys: TokenKeys = KEYS) -> bool:
    """Whether ``proof`` is the EA's proof of ``keys``' token (the daemon's check)."""
    return verify_holder(keys.verifier.stored_key, ea_message(
        "ea", HELLO.ea_nonce, daemon_nonce, HELLO.login, HELLO.server), proof)


def feed(conn: BridgeConnection | EAConnection, data: bytes, how: list[bytes] | None = None
         ) -> list[ConnectionEvent]:
    for chunk in how if how is not None else [data]:
        conn.receive_data(chunk)
    return conn.events_received()


def handshake(clock: FakeClock, token: str = TOKEN) -> tuple[BridgeConnection, EAConnection]:
    """Run a full handshake with an accepting daemon; return both READY ends."""
    server = BridgeConnection(clock=clock, heartbeat=HB)
    keys = TokenKeys.of(token)
    client = EAConnection(replace(HELLO, token_hint=keys.hint), keys, clock=clock)
    [hello] = feed(server, client.data_to_send())
    assert isinstance(hello, HelloReceived)
    server.send_challenge("ab" * 32, 1_700_000_000_000,
                          daemon_proof("ab" * 32, keys, hello.hello))
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
    hello_bytes = EAConnection(HELLO, KEYS, clock=clock).data_to_send()
    for name, chunks in splits(hello_bytes):
        server = BridgeConnection(clock=clock, heartbeat=HB)
        assert feed(server, b"", chunks) == [HelloReceived(HELLO)], name
        assert server.state is State.AWAITING_AUTH
    server.send_challenge("cd" * 32, 1, daemon_proof("cd" * 32))
    challenge_bytes = server.data_to_send()
    for name, chunks in splits(challenge_bytes):
        client = EAConnection(HELLO, KEYS, clock=clock)
        client.data_to_send()
        assert feed(client, b"", chunks) == [], name
        assert client.state is State.AWAITING_WELCOME
        auth_bytes = client.data_to_send()
        auth = decode(auth_bytes[4:])
        assert isinstance(auth, Auth) and ea_proof_checks(auth.proof, "cd" * 32), name
    for name, chunks in splits(auth_bytes):
        server = BridgeConnection(clock=clock, heartbeat=HB)
        feed(server, hello_bytes)
        server.send_challenge("cd" * 32, 1, daemon_proof("cd" * 32))
        assert feed(server, b"", chunks) == [AuthReceived(HELLO, "cd" * 32, auth.proof)], name


def test_the_ea_sends_and_obeys_nothing_before_the_daemon_proves_the_token() -> None:
    """A challenge whose proof is not the token's (a process squatting on the bridge port)
    closes the EA's end with daemon_unproven: no auth is sent, and a request that follows is
    never reported to the EA's shell (review round 4, T4-F1)."""
    clock = FakeClock()
    other = TokenKeys.of("mtgw_" + "R" * 32 + "ZZZZZZ")
    for proof in ("", "00" * 32, daemon_proof("cd" * 32, other),
                  daemon_proof("cd" * 32, KEYS, replace(HELLO, ea_nonce="f0" * 32))):
        client = EAConnection(HELLO, KEYS, clock=clock)
        client.data_to_send()
        squatter = encode_frame(encode(Challenge("cd" * 32, 1, proof)))
        squatter += encode_frame(b'{"t":"welcome","session_id":"x","heartbeat_interval_s":5,'
                                 b'"heartbeat_timeout_s":15,"max_frame_bytes":8388608}')
        squatter += encode_frame(b'{"t":"req","id":3,"m":"order_send","p":{}}')
        events = feed(client, squatter)
        assert events == [Closed(DAEMON_UNPROVEN, events[0].message)], proof  # type: ignore[union-attr]
        assert client.data_to_send() == b"", proof
        assert client.state is State.CLOSED


def test_an_older_ea_is_refused_with_the_reason_to_update() -> None:
    """A version 1 hello (EA 1.2 and older, which trusts any listener) is refused as
    unsupported_version, with a message telling the user to install the new EA."""
    server = BridgeConnection(clock=FakeClock(), heartbeat=HB)
    events = feed(server, encode_frame(encode(replace(HELLO, protocol_version=1))))
    assert events[0] == Closed("unsupported_version", events[0].message)  # type: ignore[union-attr]
    reply = decode(server.data_to_send()[4:])
    assert isinstance(reply, Refuse) and reply.reason == "unsupported_version"
    assert "ea install" in reply.message


@pytest.mark.parametrize("hello", [replace(HELLO, ea_nonce=""), replace(HELLO, token_hint=""),
                                   replace(HELLO, ea_nonce="E1" * 32)])
def test_a_hello_without_its_nonce_or_hint_is_a_protocol_error(hello: Hello) -> None:
    """Version 2 needs the EA's nonce (64 lowercase hex) and the token's hint."""
    server = BridgeConnection(clock=FakeClock(), heartbeat=HB)
    events = feed(server, encode_frame(encode(hello)))
    assert [type(e) for e in events] == [Closed]
    assert events[0].reason == "protocol_error"  # type: ignore[union-attr]


def test_accept_makes_both_ends_ready_and_adopts_heartbeat() -> None:
    """After accept, both ends are READY and the EA uses the daemon's heartbeat settings."""
    server, client = handshake(FakeClock())
    assert server.state is State.READY and client.state is State.READY
    assert client.heartbeat.interval_s == 5.0 and client.heartbeat.timeout_s == 15.0


def test_refusal_reaches_the_ea_with_its_reason() -> None:
    """A refused handshake gives the EA the reason word and closes both ends."""
    clock = FakeClock()
    server = BridgeConnection(clock=clock, heartbeat=HB)
    client = EAConnection(HELLO, KEYS, clock=clock)
    feed(server, client.data_to_send())
    server.send_challenge("ef" * 32, 1, daemon_proof("ef" * 32))
    feed(client, server.data_to_send())
    [auth] = feed(server, client.data_to_send())
    assert isinstance(auth, AuthReceived)
    server.refuse("invalid_token", "the token is not valid for this daemon")
    assert server.should_close
    events = feed(client, server.data_to_send())
    assert events[0] == Refused("invalid_token", "the token is not valid for this daemon")
    assert client.state is State.CLOSED


def test_unsupported_version_is_refused_without_the_shell() -> None:
    """A hello with another protocol version is refused by the state machine itself."""
    server = BridgeConnection(clock=FakeClock(), heartbeat=HB)
    hello = Hello(3, "MT5", 1, "9", 1, "S", "C")
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
    client = EAConnection(HELLO, KEYS, clock=clock)
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
