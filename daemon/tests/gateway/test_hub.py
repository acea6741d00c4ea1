"""The streaming hub without sockets: routing, seq, conflation, bounded queues, encode-once."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ea_bridge import Hello, SessionInfo, TerminalId
from gateway.errors import InvalidParams
from gateway.hub import Hub, HubClient, HubLimits, StreamKey
from gateway.terminals import TERMS_CHANGED, TerminalDirectory
from mtgateway_base.wire.records import RiskPolicy, SignedRecord

A = StreamKey(TerminalId(5012345, "MTG-Demo"), "tok_a")
B = StreamKey(TerminalId(777, "Other-Broker"), "tok_b")
#: Another token record for A's terminal (another owner's, or a second one).
A2 = StreamKey(A.terminal, "tok_a2")


def row(time_msc: int, bid: float = 1.1, ask: float = 1.2) -> list[Any]:
    return [time_msc, bid, ask, 0.0, 0, 6, 0.0]


class Buffer:
    """A stand-in transport write buffer whose size the test sets."""

    def __init__(self) -> None:
        self.size = 0

    def __call__(self) -> int:
        return self.size


def drain(client: HubClient) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while frames := client.take():
        out += [orjson.loads(frame) for frame in frames]
    return out


def params(messages: list[dict[str, Any]], method: str = "tick") -> list[dict[str, Any]]:
    return [m["params"] for m in messages if m["method"] == method]


def test_tick_notification_has_the_contract_shape() -> None:
    """A tick becomes one JSON-RPC notification with every contract field and seq 1."""
    hub = Hub()
    client = hub.connect(A)
    sid = client.subscribe("ticks", ["EURUSD"])
    hub.publish_ticks(A, "EURUSD", [[1763650000123, 1.1521, 1.15212, 0.0, 0, 6, 0.0]])
    assert drain(client) == [{"jsonrpc": "2.0", "method": "tick", "params": {
        "subscription": sid, "seq": 1, "conflated": 0, "symbol": "EURUSD", "time": 1763650000,
        "time_msc": 1763650000123, "bid": 1.1521, "ask": 1.15212, "last": 0.0, "volume": 0,
        "flags": 6, "volume_real": 0.0}}]


def test_seq_counts_per_subscription() -> None:
    """Each subscription numbers its own notifications 1, 2, 3… independently of the others."""
    hub = Hub()
    client = hub.connect(A)
    both = client.subscribe("ticks", ["EURUSD", "USDJPY"])
    eur = client.subscribe("ticks", ["EURUSD"])
    hub.publish_ticks(A, "EURUSD", [row(1000), row(2000)])
    hub.publish_ticks(A, "USDJPY", [row(3000)])
    got = params(drain(client))
    assert [p["seq"] for p in got if p["subscription"] == both] == [1, 2, 3]
    assert [p["seq"] for p in got if p["subscription"] == eur] == [1, 2]


def test_healthy_client_gets_every_row_of_a_batch() -> None:
    """A client that keeps up receives every tick of an EA batch, in order, unconflated."""
    hub = Hub()
    client = hub.connect(A)
    client.subscribe("ticks", ["EURUSD"])
    hub.publish_ticks(A, "EURUSD", [row(t) for t in range(1000, 11000, 1000)])
    got = params(drain(client))
    assert [p["time_msc"] for p in got] == list(range(1000, 11000, 1000))
    assert {p["conflated"] for p in got} == {0}


def test_tick_is_encoded_once_for_all_subscribers() -> None:
    """However many clients and subscriptions receive a tick, it is JSON-encoded once."""
    calls: list[Any] = []

    def counting_dumps(obj: Any) -> bytes:
        calls.append(obj)
        return orjson.dumps(obj)

    hub = Hub(dumps=counting_dumps)
    clients = [hub.connect(A) for _ in range(20)]
    for client in clients:
        client.subscribe("ticks", ["EURUSD"])
        client.subscribe("ticks", ["EURUSD", "USDJPY"])
    hub.publish_ticks(A, "EURUSD", [row(1000), row(2000), row(3000)])
    assert len(calls) == 3 and hub.stats.tick_encodes == 3
    assert all(len(params(drain(c))) == 6 for c in clients)


def test_nobody_subscribed_means_no_encoding() -> None:
    """Ticks for a symbol nobody watches cost no encoding at all."""
    hub = Hub()
    hub.connect(A).subscribe("ticks", ["USDJPY"])
    hub.publish_ticks(A, "EURUSD", [row(1000)])
    assert (hub.stats.ticks_published, hub.stats.tick_encodes) == (1, 0)


def test_slow_client_ticks_are_conflated_per_symbol_with_counts() -> None:
    """Above the write-buffer high-water mark only the latest tick per symbol is kept, and it
    reports how many were dropped."""
    buffer = Buffer()
    hub = Hub(HubLimits(tick_high_water_bytes=1000))
    client = hub.connect(A, buffered=buffer)
    client.subscribe("ticks", ["EURUSD", "USDJPY"])
    buffer.size = 5000
    hub.publish_ticks(A, "EURUSD", [row(t) for t in range(1, 6)])
    hub.publish_ticks(A, "USDJPY", [row(t) for t in range(10, 13)])
    hub.publish_ticks(A, "EURUSD", [row(6)])
    assert client.pending_ticks == 2 and client.conflation_slots == 2
    got = params(drain(client))
    assert [(p["symbol"], p["time_msc"], p["conflated"], p["seq"]) for p in got] == [
        ("EURUSD", 6, 5, 1), ("USDJPY", 12, 2, 2)]
    assert client.conflated_total == 7


def test_queued_tick_cap_conflates_even_with_an_empty_buffer() -> None:
    """A client whose sender has not run yet holds at most max_queued_ticks ready ticks plus
    one slot per symbol."""
    hub = Hub(HubLimits(max_queued_ticks=4))
    client = hub.connect(A)
    client.subscribe("ticks", ["EURUSD", "USDJPY"])
    for t in range(100):
        hub.publish_ticks(A, "EURUSD" if t % 2 else "USDJPY", [row(t)])
    assert client.pending_ticks <= 4 + 2
    got = params(drain(client))
    assert [p["seq"] for p in got] == list(range(1, len(got) + 1))
    assert sum(p["conflated"] for p in got) + len(got) == 100
    assert got[-1]["time_msc"] in (98, 99)


def test_symbol_order_is_kept_after_the_client_catches_up() -> None:
    """Once a symbol is conflating, newer ticks of it join its slot until it is taken, so a
    newer tick is never delivered before an older one."""
    buffer = Buffer()
    hub = Hub(HubLimits(tick_high_water_bytes=10))
    client = hub.connect(A, buffered=buffer)
    client.subscribe("ticks", ["EURUSD"])
    buffer.size = 100
    hub.publish_ticks(A, "EURUSD", [row(1)])
    buffer.size = 0
    hub.publish_ticks(A, "EURUSD", [row(2)])
    assert [(p["time_msc"], p["conflated"]) for p in params(drain(client))] == [(2, 1)]
    hub.publish_ticks(A, "EURUSD", [row(3)])
    assert [(p["time_msc"], p["conflated"], p["seq"]) for p in params(drain(client))] == [
        (3, 0, 2)]


def test_trade_events_are_never_dropped_and_overflow_is_signalled() -> None:
    """Events queue up to the bound in order; one more marks the client overflowed, wakes its
    sender, frees its queues and detaches it."""
    wakes: list[None] = []
    hub = Hub(HubLimits(event_queue_max=3))
    client = hub.connect(A, wake=lambda: wakes.append(None))
    client.subscribe("ticks", ["EURUSD"])
    sid = client.subscribe("trades")
    for n in range(3):
        hub.publish_trade(A, {"type": "deal_added", "time_msc": n, "deal": {"ticket": n}})
    hub.publish_ticks(A, "EURUSD", [row(1)])
    assert not client.overflowed and client.pending_events == 3
    hub.publish_trade(A, {"type": "deal_added", "time_msc": 3, "deal": {"ticket": 3}})
    assert client.overflowed and wakes
    assert (client.pending_events, client.pending_ticks) == (0, 0)
    assert hub.clients(A) == [] and hub.stats.overflows == 1
    hub.publish_trade(A, {"type": "deal_added", "time_msc": 4, "deal": {"ticket": 4}})
    assert client.take() == []
    assert sid.startswith("sub-")


def test_events_are_delivered_in_order_before_ticks() -> None:
    """Trade events keep their order and seq and are handed out ahead of queued ticks."""
    hub = Hub()
    client = hub.connect(A)
    client.subscribe("ticks", ["EURUSD"])
    trades = client.subscribe("trades")
    hub.publish_ticks(A, "EURUSD", [row(1)])
    hub.publish_trade(A, {"type": "order_added", "time_msc": 5, "order": {"ticket": 7}})
    hub.publish_trade(A, {"type": "order_removed", "time_msc": 6, "order": {"ticket": 7}},
                      missed=2)
    got = drain(client)
    assert [m["method"] for m in got] == ["trade_event", "trade_event", "tick"]
    assert got[0]["params"] == {"subscription": trades, "seq": 1, "type": "order_added",
                                "time_msc": 5, "order": {"ticket": 7}}
    assert got[1]["params"]["seq"] == 2 and got[1]["params"]["missed"] == 2


def test_empty_event_payload_still_makes_valid_json() -> None:
    """An event with no fields of its own is still a well-formed notification."""
    hub = Hub()
    client = hub.connect(A)
    sid = client.subscribe("trades")
    hub.publish_trade(A, {})
    assert params(drain(client), "trade_event") == [{"subscription": sid, "seq": 1}]


def test_clients_only_see_their_own_terminal() -> None:
    """A client bound to one terminal gets nothing published for another."""
    hub = Hub()
    mine, other = hub.connect(A), hub.connect(B)
    for client in (mine, other):
        client.subscribe("ticks", ["EURUSD"])
        client.subscribe("trades")
    hub.publish_ticks(B, "EURUSD", [row(1)])
    hub.publish_trade(B, {"type": "deal_added", "time_msc": 1, "deal": {}})
    assert drain(mine) == [] and len(drain(other)) == 2


def test_another_token_of_the_same_terminal_sees_nothing_of_the_session() -> None:
    """A client whose token record is not the one the EA session opened with gets none of
    that session's ticks, trade events or terminal state, and sees the terminal as not
    connected; the session's own token record gets everything."""
    hub = Hub()
    directory = TerminalDirectory(hub)
    terminal = A.terminal
    hello = Hello(1, "MT5", 4000, "1.0", terminal.login, terminal.server, "Co",
                  "Co MetaTrader 5")
    directory.session_up(SessionInfo(terminal, "s1", A.token_id, hello, 0.0))
    mine, theirs = hub.connect(A), hub.connect(A2)
    for client in (mine, theirs):
        client.subscribe("ticks", ["EURUSD"])
        client.subscribe("trades")
        client.subscribe("terminal")
    directory.ticks(terminal, "EURUSD", [row(1)])
    directory.event(terminal, "trade", {"type": "deal_added", "time_msc": 1, "deal": {}}, 0)
    directory.event(terminal, "terminal", {"connected": True, "trade_allowed": True}, 0)
    got = drain(theirs)
    assert [(m["method"], m["params"]["connected"]) for m in got] == [
        ("terminal_status", False)]
    assert sorted(m["method"] for m in drain(mine)) == [
        "terminal_status", "terminal_status", "tick", "trade_event"]


def test_a_rebound_client_keeps_its_subscriptions_under_the_new_key() -> None:
    """After ``rebind`` (a renewed token on the same socket) the client receives the new key's
    publications, not the old one's, with its subscription ids unchanged."""
    hub = Hub()
    client = hub.connect(A)
    sid = client.subscribe("trades")
    hub.rebind(client, A2)
    hub.publish_trade(A, {"type": "deal_added", "time_msc": 1, "deal": {}})
    hub.publish_trade(A2, {"type": "deal_added", "time_msc": 2, "deal": {}})
    got = params(drain(client), "trade_event")
    assert [(p["subscription"], p["time_msc"]) for p in got] == [(sid, 2)]
    assert hub.clients(A) == [] and hub.clients(A2) == [client]


def test_terminal_channel_snapshot_and_changes() -> None:
    """Subscribing to terminal gives the current state, then each EA disconnect and reconnect."""
    hub = Hub()
    hub.publish_status(A, "ea_connected", connected=True)
    hub.publish_status(A, "terminal_state", broker_connected=True, trade_allowed=True)
    client = hub.connect(A)
    sid = client.subscribe("terminal")
    hub.publish_status(A, "eof", connected=False)
    hub.publish_status(A, "ea_connected", connected=True)
    got = params(drain(client), "terminal_status")
    assert got == [
        {"subscription": sid, "seq": 1, "connected": True, "reason": "snapshot",
         "broker_connected": True, "trade_allowed": True},
        {"subscription": sid, "seq": 2, "connected": False, "reason": "eof",
         "broker_connected": None, "trade_allowed": None},
        {"subscription": sid, "seq": 3, "connected": True, "reason": "ea_connected",
         "broker_connected": None, "trade_allowed": None},
    ]


def test_subscriptions_survive_an_ea_reconnect() -> None:
    """Ticks after the EA comes back reach the same subscription with the next seq."""
    hub = Hub()
    client = hub.connect(A)
    sid = client.subscribe("ticks", ["EURUSD"])
    hub.publish_ticks(A, "EURUSD", [row(1)])
    hub.publish_status(A, "heartbeat_timeout", connected=False)
    hub.publish_status(A, "ea_connected", connected=True)
    hub.publish_ticks(A, "EURUSD", [row(2)])
    assert [(p["subscription"], p["seq"]) for p in params(drain(client))] == [(sid, 1),
                                                                              (sid, 2)]


@pytest.mark.parametrize("channel, symbols", [
    ("quotes", ["EURUSD"]), (None, None), (7, None), ("ticks", None), ("ticks", []),
    ("ticks", "EURUSD"), ("ticks", [1]), ("ticks", [""]), ("ticks", ["X" * 65]),
    ("ticks", ["S"] * 257), ("trades", ["EURUSD"]), ("terminal", []),
    ("ticks", ["not a symbol!"]), ("ticks", ["EUR/USD"]), ("ticks", ["EURUSD\n"]),
    ("book", None), ("book", []), ("book", ["EUR/USD"]), ("books", ["EURUSD"]),
])
def test_bad_subscribe_params_are_refused(channel: Any, symbols: Any) -> None:
    """Unknown channels and missing, empty, oversize or mistyped symbol lists, and names no
    symbol can have (the same rule as every method's ``symbol`` param), are -32602."""
    with pytest.raises(InvalidParams):
        Hub().connect(A).subscribe(channel, symbols)


def test_subscription_count_is_bounded() -> None:
    """A connection cannot hold more than max_subscriptions."""
    client = Hub(HubLimits(max_subscriptions=2)).connect(A)
    client.subscribe("trades")
    client.subscribe("terminal")
    with pytest.raises(InvalidParams):
        client.subscribe("ticks", ["EURUSD"])


def test_unsubscribe_stops_delivery_and_frees_the_slot() -> None:
    """After unsubscribe no tick of its symbols is delivered, and its conflation slot is gone;
    an unknown id is refused."""
    buffer = Buffer()
    hub = Hub(HubLimits(tick_high_water_bytes=10))
    client = hub.connect(A, buffered=buffer)
    sid = client.subscribe("ticks", ["EURUSD"])
    buffer.size = 100
    hub.publish_ticks(A, "EURUSD", [row(1), row(2)])
    assert client.unsubscribe(sid) is True
    assert client.pending_ticks == 0
    hub.publish_ticks(A, "EURUSD", [row(3)])
    assert drain(client) == []
    for bad in (sid, "sub-999", 5, None):
        with pytest.raises(InvalidParams):
            client.unsubscribe(bad)


def test_wake_fires_when_frames_arrive() -> None:
    """The sender is woken by every publish that gives it something to take."""
    wakes: list[None] = []
    hub = Hub()
    client = hub.connect(A, wake=lambda: wakes.append(None))
    client.subscribe("ticks", ["EURUSD"])
    hub.publish_ticks(A, "USDJPY", [row(1)])
    assert wakes == [] and not client.has_pending
    hub.publish_ticks(A, "EURUSD", [row(1)])
    assert wakes and client.has_pending


def test_terminal_directory_forwards_pushes_to_the_hub() -> None:
    """The bridge listener streams ticks, trade events and session changes through the hub."""
    hub = Hub()
    directory = TerminalDirectory(hub)
    client = hub.connect(A)
    client.subscribe("ticks", ["EURUSD"])
    client.subscribe("trades")
    client.subscribe("terminal")
    terminal = A.terminal
    hello = Hello(1, "MT5", 4000, "1.0", terminal.login, terminal.server, "Co",
                  "Co MetaTrader 5")
    info = SessionInfo(terminal, "s1", A.token_id, hello, 0.0)
    directory.session_up(info)
    directory.event(terminal, "terminal", {"connected": True, "trade_allowed": False}, 0)
    directory.ticks(terminal, "EURUSD", [row(1)])
    directory.event(terminal, "trade", {"type": "deal_added", "time_msc": 1, "deal": {}}, 0)
    directory.session_down(info, "eof")
    got = drain(client)
    statuses = params(got, "terminal_status")
    assert [(s["reason"], s["connected"], s["trade_allowed"]) for s in statuses] == [
        ("snapshot", False, None), ("ea_connected", True, None),
        ("terminal_state", True, False), ("eof", False, None)]
    assert len(params(got, "tick")) == 1 and len(params(got, "trade_event")) == 1


def test_the_daemons_own_trade_events_stream_to_the_sessions_clients_only() -> None:
    """A trade event the daemon made (the paper book's) goes to the trades subscribers of the
    terminal's live session, as the EA's do, marked as given; it is not counted as the EA's,
    another token record of the terminal gets nothing, and without a session nobody does."""
    hub = Hub()
    directory = TerminalDirectory(hub)
    mine, theirs = hub.connect(A), hub.connect(A2)
    for client in (mine, theirs):
        client.subscribe("trades")
    terminal = A.terminal
    paper = {"type": "position_opened", "time_msc": 5, "position": {"ticket": 1001},
             "paper": True}
    directory.stream_trade(terminal, paper)  # no session yet: nobody may receive it
    hello = Hello(1, "MT5", 4000, "1.0", terminal.login, terminal.server, "Co",
                  "Co MetaTrader 5")
    info = SessionInfo(terminal, "s1", A.token_id, hello, 0.0)
    directory.session_up(info)
    directory.stream_trade(terminal, paper)
    directory.session_down(info, "eof")
    directory.stream_trade(terminal, {**paper, "time_msc": 6})
    got = params(drain(mine), "trade_event")
    assert [(p["type"], p["time_msc"], p["paper"], p["seq"]) for p in got] == [
        ("position_opened", 5, True, 1)]
    assert params(drain(theirs), "trade_event") == []
    state = directory.state(terminal)
    assert state is not None and state.events_received == 0


def test_the_eas_trade_events_say_the_live_book_and_cannot_say_paper() -> None:
    """Every trade event of the EA reaches the stream with ``book: "live"``: its identifiers
    are the broker's; one that says ``paper`` or another book is told as live all the same
    (only the daemon's paper book marks its own, ``stream_trade``)."""
    hub = Hub()
    directory = TerminalDirectory(hub)
    client = hub.connect(A)
    client.subscribe("trades")
    terminal = A.terminal
    hello = Hello(1, "MT5", 4000, "1.0", terminal.login, terminal.server, "Co",
                  "Co MetaTrader 5")
    directory.session_up(SessionInfo(terminal, "s1", A.token_id, hello, 0.0))
    deal = {"type": "deal_added", "time_msc": 1, "deal": {"ticket": 1001}}
    directory.event(terminal, "trade", deal, 0)
    directory.event(terminal, "trade", {**deal, "paper": True, "book": "paper"}, 0)
    directory.stream_trade(terminal, {**deal, "paper": True, "book": "paper"})
    got = params(drain(client), "trade_event")
    assert [(p["book"], p.get("paper")) for p in got] == [
        ("live", None), ("live", None), ("paper", True)]
    assert got[0]["deal"] == {"ticket": 1001}


def _record(key: StreamKey, **risk: Any) -> SignedRecord:
    """The record of ``key``'s token as the cache stores it, with ``risk``'s terms."""
    return SignedRecord(
        token_id=key.token_id, stored_key="00", token_hint="h", login=key.terminal.login,
        server=key.terminal.server, scopes=frozenset({"trade"}), owner_email="o@example.com",
        device_id="d1", created_at=0, expires_at=None, revoked_at=None, issued_at=1,
        valid_until=2**40, risk=RiskPolicy(**risk), kid="k", envelope={})


def test_a_tokens_new_trading_terms_are_told_to_its_terminal_subscribers() -> None:
    """A record that arrives with other terms than its token's last (paper on, a lower lot
    cap) is told on the token's ``terminal`` channel, reason ``trading_terms``; the token's
    first record, and one with the same terms (a refresh), are not; another token's
    subscribers hear nothing of it."""
    hub = Hub()
    directory = TerminalDirectory(hub)
    mine, theirs = hub.connect(A), hub.connect(A2)
    for client in (mine, theirs):
        client.subscribe("terminal")
    directory.record_stored(_record(A))
    directory.record_stored(_record(A))
    directory.record_stored(_record(A, paper_trade_enabled=True))
    directory.record_stored(_record(A, paper_trade_enabled=True, max_lot_size="0.5"))
    directory.record_stored(_record(A, paper_trade_enabled=True, max_lot_size="0.5"))
    reasons = [p["reason"] for p in params(drain(mine), "terminal_status")]
    assert reasons == ["snapshot", TERMS_CHANGED, TERMS_CHANGED]
    assert [p["reason"] for p in params(drain(theirs), "terminal_status")] == ["snapshot"]


def level(kind: int, price: float) -> dict[str, Any]:
    return {"type": kind, "price": price, "volume": 1, "volume_dbl": 1.0}


def test_books_are_latest_wins_per_symbol_and_only_for_book_subscribers() -> None:
    """A book subscriber gets each symbol's newest book (an older one not yet taken is
    replaced, never queued), seq without gaps; a ticks subscriber of the symbol gets no book;
    a malformed book is counted and dropped; after unsubscribe nothing more comes."""
    hub = Hub()
    books, ticks = hub.connect(A), hub.connect(A)
    sid = books.subscribe("book", ["EURUSD", "BTCUSD"])
    ticks.subscribe("ticks", ["EURUSD"])
    hub.publish_book(A, "EURUSD", [level(1, 1.2), level(2, 1.1)])
    hub.publish_book(A, "EURUSD", [level(1, 1.3), level(2, 1.2)])
    hub.publish_book(A, "BTCUSD", [level(1, 90_000.0)])
    hub.publish_book(A, "GBPUSD", [level(1, 1.3)])
    hub.publish_book(A, "BTCUSD", [{"type": 1, "price": 2.0}])
    assert hub.stats.malformed_books == 1
    got = params(drain(books), "book")
    assert got == [
        {"subscription": sid, "seq": 1, "symbol": "EURUSD",
         "book": [level(1, 1.3), level(2, 1.2)]},
        {"subscription": sid, "seq": 2, "symbol": "BTCUSD", "book": [level(1, 90_000.0)]}]
    assert drain(ticks) == []
    assert books.unsubscribe(sid)
    hub.publish_book(A, "EURUSD", [level(1, 1.4)])
    assert not books.has_pending and drain(books) == []


def test_terminal_directory_streams_book_events() -> None:
    """An EA ``book`` event reaches the book subscribers of its session's key only."""
    hub = Hub()
    directory = TerminalDirectory(hub)
    mine, other = hub.connect(A), hub.connect(A2)
    mine.subscribe("book", ["EURUSD"])
    other.subscribe("book", ["EURUSD"])
    terminal = A.terminal
    hello = Hello(1, "MT5", 4000, "1.0", terminal.login, terminal.server, "Co",
                  "Co MetaTrader 5")
    directory.session_up(SessionInfo(terminal, "s1", A.token_id, hello, 0.0))
    directory.event(terminal, "book", {"symbol": "EURUSD", "book": [level(2, 1.1)]}, 0)
    directory.event(terminal, "book", {"symbol": 7, "book": []}, 0)
    assert [b["book"] for b in params(drain(mine), "book")] == [[level(2, 1.1)]]
    assert params(drain(other), "book") == []
