"""The bridge server on a real loopback socket: handshake, routing, failure of calls in flight."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest

from ea_bridge import (
    Bridge,
    EAError,
    FanOut,
    HeartbeatSettings,
    TerminalDisconnected,
    TerminalId,
    TerminalNotConnected,
    TerminalTimeout,
    TradeOutcomeUnknown,
)
from ea_bridge.connection import Closed, Refused, Welcomed
from ea_bridge.framing import encode_frame
from ea_bridge.server import (
    BACKLOG_PAUSE_FRAMES,
    MIN_SLICE_ROWS,
    ROW_COST_GUESS_NS,
    TICK_SLICE_NS,
    TerminalSession,
)
from gateway.hub import Hub, StreamKey
from gateway.terminals import TerminalDirectory
from tests.bridgekit import TIMEOUT_S, EAFactory, RecordingListener, ScriptedEA, StaticVerifier
from tests.testkit import FakeClock

pytestmark = pytest.mark.network_edge

TOKEN_A = "mtgw_" + "a" * 38
TOKEN_B = "mtgw_" + "b" * 38
TERM_A = TerminalId(1001, "Test-Server")
TERM_B = TerminalId(2002, "Other-Server")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def listener() -> RecordingListener:
    return RecordingListener()


@pytest.fixture
async def bridge(clock: FakeClock, listener: RecordingListener) -> AsyncIterator[Bridge]:
    verifier = StaticVerifier({TOKEN_A: (TERM_A, "tok-a"), TOKEN_B: (TERM_B, "tok-b")})
    # A short interval only makes the server's timer look at the fake clock often.
    heartbeat = HeartbeatSettings(interval_s=0.04, timeout_s=0.2, handshake_timeout_s=0.04)
    b = Bridge(verifier, listener, port=0, heartbeat=heartbeat, clock=clock)
    await b.start()
    yield b
    await b.close()


@pytest.fixture
async def make_ea() -> AsyncIterator[EAFactory]:
    factory = EAFactory()
    yield factory
    await factory.close_all()


async def connected(
    bridge: Bridge, make_ea: EAFactory, token: str = TOKEN_A, **kw: object
) -> ScriptedEA:
    ea = make_ea(token, **kw)
    assert isinstance(await ea.connect(bridge.port), Welcomed)
    return ea


async def raw_exchange(port: int, data: bytes, before_read: FakeClock | None = None) -> bytes:
    """Send ``data`` on a raw socket and read until the daemon closes it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        if before_read is not None:
            before_read.advance(1.0)
        async with asyncio.timeout(TIMEOUT_S):
            return await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()


async def test_handshake_registers_the_terminal(
    bridge: Bridge, listener: RecordingListener, make_ea: EAFactory
) -> None:
    """A correct MAC makes the terminal live, reported to the listener with its token id."""
    ea = await connected(bridge, make_ea)
    await listener.wait_for(lambda: bool(listener.ups))
    info = bridge.session(TERM_A)
    assert info is not None and info.token_id == "tok-a" and info.hello.platform == "MT5"
    assert [s.terminal for s in bridge.sessions()] == [TERM_A]
    await ea.close()


async def test_wrong_token_is_refused_and_nothing_is_served(
    bridge: Bridge, make_ea: EAFactory
) -> None:
    """An EA with an unknown token gets invalid_token; calls for its terminal stay offline."""
    ea = make_ea("mtgw_" + "z" * 38)
    event = await ea.connect(bridge.port)
    assert isinstance(event, Refused) and event.reason == "invalid_token"
    with pytest.raises(TerminalNotConnected):
        await bridge.call(TERM_A, "account_info", {}, 1.0)


async def test_token_for_another_terminal_is_refused(bridge: Bridge, make_ea: EAFactory) -> None:
    """A valid token presented by the wrong terminal gets terminal_mismatch."""
    ea = make_ea(TOKEN_B, login=1001, server="Test-Server")
    event = await ea.connect(bridge.port)
    assert isinstance(event, Refused) and event.reason == "terminal_mismatch"


async def test_second_ea_for_the_same_terminal_is_refused(
    bridge: Bridge, make_ea: EAFactory
) -> None:
    """While one EA is live, another for the same terminal gets already_connected."""
    first = await connected(bridge, make_ea)
    second = make_ea(TOKEN_A)
    event = await second.connect(bridge.port)
    assert isinstance(event, Refused) and event.reason == "already_connected"
    call = asyncio.create_task(bridge.call(TERM_A, "ping", {}, TIMEOUT_S))
    request = await first.next_request()
    first.respond(request.id, {})
    assert await call == {}


async def test_calls_are_routed_to_their_terminal(bridge: Bridge, make_ea: EAFactory) -> None:
    """With two terminals live, each call reaches its own EA."""
    ea_a = await connected(bridge, make_ea, TOKEN_A)
    ea_b = await connected(bridge, make_ea, TOKEN_B, login=2002, server="Other-Server")
    call_a = asyncio.create_task(bridge.call(TERM_A, "account_info", {}, TIMEOUT_S))
    call_b = asyncio.create_task(bridge.call(TERM_B, "account_info", {}, TIMEOUT_S))
    req_b = await ea_b.next_request()
    req_a = await ea_a.next_request()
    ea_b.respond(req_b.id, {"login": 2002})
    ea_a.respond(req_a.id, {"login": 1001})
    assert (await call_a, await call_b) == ({"login": 1001}, {"login": 2002})


async def test_answers_out_of_order_reach_the_right_callers(
    bridge: Bridge, make_ea: EAFactory
) -> None:
    """Concurrent calls on one EA are matched to their answers by id."""
    ea = await connected(bridge, make_ea)
    calls = [
        asyncio.create_task(bridge.call(TERM_A, "symbol_info_tick", {"symbol": s}, TIMEOUT_S))
        for s in ("X", "Y", "Z")
    ]
    requests = [await ea.next_request() for _ in range(3)]
    for request in reversed(requests):
        ea.respond(request.id, {"symbol": request.params["symbol"]})
    assert [await c for c in calls] == [{"symbol": "X"}, {"symbol": "Y"}, {"symbol": "Z"}]


async def test_requests_issued_together_leave_in_one_write(
    bridge: Bridge, make_ea: EAFactory
) -> None:
    """Frames queued in one loop iteration are coalesced into a single write."""
    ea = await connected(bridge, make_ea)
    calls = [asyncio.create_task(bridge.call(TERM_A, "ping", {}, TIMEOUT_S)) for _ in range(5)]
    assert ea.reader is not None
    async with asyncio.timeout(TIMEOUT_S):
        chunk = await ea.reader.read(65536)
    assert chunk.count(b'"t":"req"') == 5
    ea.conn.receive_data(chunk)
    for event in ea.conn.events_received():
        ea.respond(event.request.id, {})  # type: ignore[union-attr]
    assert [await c for c in calls] == [{}] * 5


async def test_ea_error_is_raised_with_its_code(bridge: Bridge, make_ea: EAFactory) -> None:
    """An error answer becomes EAError carrying the EA's code and message."""
    ea = await connected(bridge, make_ea)
    call = asyncio.create_task(bridge.call(TERM_A, "symbol_info", {"symbol": "NOPE"}, TIMEOUT_S))
    request = await ea.next_request()
    ea.error(request.id, -32006, "unknown symbol 'NOPE'")
    with pytest.raises(EAError) as info:
        await call
    assert (info.value.code, info.value.message) == (-32006, "unknown symbol 'NOPE'")


async def test_drop_fails_reads_and_trades_in_flight_at_once(
    bridge: Bridge, listener: RecordingListener, make_ea: EAFactory
) -> None:
    """When the EA vanishes, a read fails as disconnected and a trade as outcome unknown."""
    ea = await connected(bridge, make_ea)
    read = asyncio.create_task(bridge.call(TERM_A, "account_info", {}, 60.0))
    trade = asyncio.create_task(bridge.call(TERM_A, "order_send", {"request": {}}, 60.0))
    await ea.next_request()
    await ea.next_request()
    ea.abort()
    async with asyncio.timeout(TIMEOUT_S):  # far below the 60 s call deadline
        with pytest.raises(TerminalDisconnected):
            await read
        with pytest.raises(TradeOutcomeUnknown):
            await trade
    await listener.wait_for(lambda: bool(listener.downs))
    assert bridge.session(TERM_A) is None
    with pytest.raises(TerminalNotConnected):
        await bridge.call(TERM_A, "account_info", {}, 1.0)


async def test_deadline_fails_reads_as_timeout_and_trades_as_unknown(
    bridge: Bridge, make_ea: EAFactory
) -> None:
    """An unanswered read raises TerminalTimeout; an unanswered trade, TradeOutcomeUnknown."""
    ea = await connected(bridge, make_ea)
    with pytest.raises(TerminalTimeout):
        await bridge.call(TERM_A, "account_info", {}, 0.05)
    with pytest.raises(TradeOutcomeUnknown):
        await bridge.call(TERM_A, "order_send", {"request": {}}, 0.05)
    late = await ea.next_request()
    ea.respond(late.id, {"late": True})  # a late answer is dropped, the session lives on
    call = asyncio.create_task(bridge.call(TERM_A, "ping", {}, TIMEOUT_S))
    while True:
        request = await ea.next_request()
        if request.method == "ping":
            break
    ea.respond(request.id, {"pong": 1})
    assert await call == {"pong": 1}


async def test_each_call_keeps_its_own_deadline_under_one_session_timer(
    bridge: Bridge, make_ea: EAFactory
) -> None:
    """The session has one deadline timer for all its calls: a shorter deadline issued after
    a longer one still fires on time, a later one fires after the earlier one has, and a call
    with a far deadline is answered as usual meanwhile."""
    ea = await connected(bridge, make_ea)
    far = asyncio.create_task(bridge.call(TERM_A, "account_info", {}, 60.0))
    far_request = await ea.next_request()  # the 60 s deadline is armed first
    async with asyncio.timeout(TIMEOUT_S):  # far below the 60 s deadline
        with pytest.raises(TerminalTimeout):
            await bridge.call(TERM_A, "symbol_info", {"symbol": "X"}, 0.05)
        soon = asyncio.create_task(bridge.call(TERM_A, "ping", {}, 0.05))
        later = asyncio.create_task(bridge.call(TERM_A, "ping", {}, 0.2))
        with pytest.raises(TerminalTimeout):
            await soon
        with pytest.raises(TerminalTimeout):
            await later
    first = await ea.next_request()
    assert first.method == "symbol_info"
    assert not far.done()
    ea.respond(far_request.id, {"login": 1})
    assert await far == {"login": 1}


async def test_silent_ea_is_dropped_after_the_heartbeat_timeout(
    bridge: Bridge, clock: FakeClock, listener: RecordingListener, make_ea: EAFactory
) -> None:
    """An EA that sends nothing for the heartbeat timeout is disconnected; calls then fail."""
    await connected(bridge, make_ea)
    await listener.wait_for(lambda: bool(listener.ups))
    clock.advance(0.5)  # past the 0.2 s timeout on the injected clock
    await listener.wait_for(lambda: bool(listener.downs))
    assert listener.downs[0][1] == "heartbeat_timeout"
    with pytest.raises(TerminalNotConnected):
        await bridge.call(TERM_A, "account_info", {}, 60.0)


async def test_a_request_in_flight_governs_instead_of_the_heartbeat(
    bridge: Bridge, clock: FakeClock, listener: RecordingListener, make_ea: EAFactory
) -> None:
    """An EA silent while working on our request (a slow fill) is not declared dead: the
    request's own timeout decides (a trade's outcome stays known as long as it can), and only
    after it passes does the silence count."""
    await connected(bridge, make_ea)
    await listener.wait_for(lambda: bool(listener.ups))
    call = asyncio.create_task(bridge.call(TERM_A, "order_send", {"request": {}}, 0.5))
    await asyncio.sleep(0)  # the request is sent
    clock.advance(5.0)  # 25 heartbeat timeouts of silence on the injected clock
    with pytest.raises(TradeOutcomeUnknown, match="no answer to order_send within 0.5 s"):
        await call  # the call's own timeout ended it, not a dropped session
    clock.advance(0.5)
    await listener.wait_for(lambda: bool(listener.downs))
    assert listener.downs[0][1] == "heartbeat_timeout"


async def test_handshake_deadline_refuses_a_mute_client(bridge: Bridge, clock: FakeClock) -> None:
    """A client that connects and says nothing is refused with handshake_timeout."""
    data = await raw_exchange(bridge.port, b"", before_read=clock)
    assert b'"reason":"handshake_timeout"' in data


@pytest.mark.parametrize(
    "garbage",
    [
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        encode_frame(b'{"t":"req","id":1,"m":"x"}'),
        encode_frame(b"\xff\xfe not json"),
    ],
)
async def test_garbage_is_refused_with_protocol_error(bridge: Bridge, garbage: bytes) -> None:
    """Non-protocol bytes get a protocol_error refusal and the socket is closed."""
    data = await raw_exchange(bridge.port, garbage)
    assert b'"reason":"protocol_error"' in data
    assert bridge.sessions() == []


async def test_unsupported_version_is_refused(bridge: Bridge, make_ea: EAFactory) -> None:
    """An EA speaking another protocol version (1: EA 1.2, which trusts any listener) is told
    so, and no session starts."""
    event = await make_ea(TOKEN_A, version=1).connect(bridge.port)
    assert isinstance(event, Refused) and event.reason == "unsupported_version"


async def test_ticks_and_events_reach_the_listener_in_order(
    bridge: Bridge, listener: RecordingListener, make_ea: EAFactory
) -> None:
    """Tick rows and trade events are handed to the listener with their terminal."""
    ea = await connected(bridge, make_ea)
    ea.event(
        "ticks",
        {"symbol": "EURUSD", "rows": [[1, 1.1, 1.2, 0, 0, 6, 0], [2, 1.11, 1.21, 0, 0, 6, 0]]},
    )
    ea.event("trade", {"type": "deal_added", "time_msc": 3, "deal": {"ticket": 9}})
    await listener.wait_for(lambda: len(listener.events) == 1)
    assert [(t, s, r[0]) for t, s, r in listener.ticks_seen] == [
        (TERM_A, "EURUSD", 1),
        (TERM_A, "EURUSD", 2),
    ]
    assert listener.events == [
        (TERM_A, "trade", {"type": "deal_added", "time_msc": 3, "deal": {"ticket": 9}}, 0)]


async def test_bridge_close_tells_eas_why(bridge: Bridge, make_ea: EAFactory) -> None:
    """Shutting the bridge down sends each EA a bye with shutting_down."""
    ea = await connected(bridge, make_ea)
    await bridge.close()
    event = await ea.next_event((Closed,))
    assert isinstance(event, Closed) and event.reason == "shutting_down"


async def test_reconnect_after_drop_restores_service(
    bridge: Bridge, listener: RecordingListener, make_ea: EAFactory
) -> None:
    """After an EA drops, a new EA for the terminal is accepted and served."""
    first = await connected(bridge, make_ea)
    first.abort()
    await listener.wait_for(lambda: bool(listener.downs))
    second = await connected(bridge, make_ea)
    call = asyncio.create_task(bridge.call(TERM_A, "ping", {}, TIMEOUT_S))
    request = await second.next_request()
    second.respond(request.id, {})
    assert await call == {}


def test_non_loopback_listen_needs_the_explicit_flag() -> None:
    """Listening beyond loopback is refused unless asked for by name."""
    verifier = StaticVerifier({})
    with pytest.raises(ValueError, match="non-loopback"):
        Bridge(verifier, host="0.0.0.0")
    Bridge(verifier, host="::1")
    Bridge(verifier, host="0.0.0.0", allow_non_loopback=True)


class WorkClock:
    """The bridge's injected work clock: it moves only when the listener says a row cost it
    something, so slice sizes do not depend on this machine's speed."""

    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        return self.now


#: What one row costs the marking listener on the work clock unless a test says otherwise.
ROW_COST_NS = 10_000


class MarkingListener(RecordingListener):
    """Records, in one list, each tick slice it is handed and each callback that another part
    of the daemon scheduled on the loop while the first slice was being handed on; each row
    advances the work clock by ``row_cost_ns``."""

    def __init__(self, work: WorkClock) -> None:
        super().__init__()
        self.work = work
        self.row_cost_ns = ROW_COST_NS
        self.order: list[str | tuple[int, int]] = []
        #: the session's ``reading_paused`` when each slice was handed on
        self.paused_seen: list[bool] = []
        self.session: TerminalSession | None = None
        #: called during the first slice (another EA sends something meanwhile, say)
        self.during_first_slice: Callable[[], None] | None = None
        #: the work of each uninterrupted stretch of the loop that handed on rows, in order
        self.stretches: list[int] = []
        self._in_stretch = False

    def ticks(self, terminal: TerminalId, symbol: str, rows: list[list[Any]]) -> None:
        if not self.order:  # the first slice: something else becomes ready meanwhile
            asyncio.get_running_loop().call_soon(self.order.append, "other")
            if self.during_first_slice is not None:
                self.during_first_slice()
        self.order.append((rows[0][0], rows[-1][0]))
        self.work.now += self.row_cost_ns * len(rows)
        if not self._in_stretch:  # the first slice since the loop last ran other callbacks
            self._in_stretch = True
            self.stretches.append(0)
            asyncio.get_running_loop().call_soon(setattr, self, "_in_stretch", False)
        self.stretches[-1] += self.row_cost_ns * len(rows)
        if self.session is not None:
            self.paused_seen.append(self.session.reading_paused)
        super().ticks(terminal, symbol, rows)

    def slices(self) -> list[int]:
        """The row count of each slice handed on, in order."""
        return [o[1] - o[0] + 1 for o in self.order if isinstance(o, tuple)]

    def event(self, terminal: TerminalId, name: str, payload: dict[str, Any], missed: int) -> None:
        self.order.append(name)
        super().event(terminal, name, payload, missed)


@pytest.fixture
async def marking_bridge(clock: FakeClock) -> AsyncIterator[tuple[Bridge, MarkingListener]]:
    work = WorkClock()
    listener = MarkingListener(work)
    verifier = StaticVerifier({TOKEN_A: (TERM_A, "tok-a"), TOKEN_B: (TERM_B, "tok-b")})
    heartbeat = HeartbeatSettings(interval_s=0.04, timeout_s=0.2, handshake_timeout_s=0.04)
    b = Bridge(verifier, listener, port=0, heartbeat=heartbeat, clock=clock, work_clock_ns=work)
    await b.start()
    yield b, listener
    await b.close()


def tick_rows(first: int, count: int) -> list[list[Any]]:
    return [[first + i, 1.1, 1.2, 0, 0, 6, 0] for i in range(count)]


async def test_a_large_tick_batch_leaves_the_loop_between_slices_in_order(
    marking_bridge: tuple[Bridge, MarkingListener], make_ea: EAFactory
) -> None:
    """A storm-sized ticks event is handed on in slices, and a callback made ready during the
    first slice runs before the second (the loop is not held for the whole batch); the EA's
    later frames (a trade event, another batch) wait behind the rest of it, so every row
    arrives once, in the EA's order."""
    bridge, listener = marking_bridge
    ea = await connected(bridge, make_ea)
    count = 100
    ea.conn.send_event("ticks", {"symbol": "EURUSD", "rows": tick_rows(1, count)})
    ea.conn.send_event("trade", {"type": "deal_added", "time_msc": 3, "deal": {"ticket": 9}})
    ea.conn.send_event("ticks", {"symbol": "EURUSD", "rows": tick_rows(count + 1, 2)})
    ea.flush()  # the three frames leave in one write
    await listener.wait_for(lambda: len(listener.ticks_seen) == count + 2)
    first = int(TICK_SLICE_NS // ROW_COST_GUESS_NS)  # before any row was measured
    assert listener.order[:2] == [(1, first), "other"]
    assert listener.order[-2:] == ["trade", (count + 1, count + 2)]
    assert [r[0] for _, _, r in listener.ticks_seen] == list(range(1, count + 3))
    assert len(listener.slices()) > 5


async def test_another_terminals_frame_goes_before_the_next_slice(
    marking_bridge: tuple[Bridge, MarkingListener], make_ea: EAFactory
) -> None:
    """What another terminal sent while a slice ran (its answer to a call, an event) is
    handled before the next slice, not after it: a storm makes the others wait for the
    slice under way at most, not for two (the loop runs what was queued before it polls)."""
    bridge, listener = marking_bridge
    storm = await connected(bridge, make_ea)
    other = await connected(bridge, make_ea, TOKEN_B, login=2002, server="Other-Server")
    listener.during_first_slice = lambda: other.event(
        "trade", {"type": "deal_added", "time_msc": 3, "deal": {"ticket": 9}})
    storm.event("ticks", {"symbol": "EURUSD", "rows": tick_rows(1, 100)})
    await listener.wait_for(lambda: len(listener.ticks_seen) == 100 and bool(listener.events))
    first = int(TICK_SLICE_NS // ROW_COST_GUESS_NS)
    assert listener.order[:4] == [(1, first), "other", "trade", (first + 1, listener.order[3][1])]


async def test_slices_follow_what_rows_have_cost(
    marking_bridge: tuple[Bridge, MarkingListener], make_ea: EAFactory
) -> None:
    """The row count of a slice comes from what this session's rows have cost: from the guess
    at the first slice, it settles at what fits in TICK_SLICE_NS at the measured cost, so no
    later slice holds the loop much past it; rows that cost more than the whole budget still
    go MIN_SLICE_ROWS at a time (never one loop iteration per row)."""
    bridge, listener = marking_bridge
    ea = await connected(bridge, make_ea)
    count = 200
    ea.event("ticks", {"symbol": "EURUSD", "rows": tick_rows(1, count)})
    await listener.wait_for(lambda: len(listener.ticks_seen) == count)
    fits = TICK_SLICE_NS // ROW_COST_NS
    sizes = listener.slices()
    assert sizes[0] == int(TICK_SLICE_NS // ROW_COST_GUESS_NS) > fits
    assert sizes == sorted(sizes, reverse=True)[:-1] + sizes[-1:]  # shrinking as it learns
    assert all(size <= fits for size in sizes[8:])
    assert fits in sizes[8:-1]

    listener.order.clear()
    listener.stretches.clear()
    listener.row_cost_ns = ROW_COST_NS * 6 // 10  # rows got cheaper than the estimate says
    ea.event("ticks", {"symbol": "EURUSD", "rows": tick_rows(count + 1, 100)})
    await listener.wait_for(lambda: len(listener.ticks_seen) == count + 100)
    # a stretch stops where the smallest slice would no longer fit, not one slice after
    assert max(listener.stretches) <= TICK_SLICE_NS
    assert len(listener.slices()) > len(listener.stretches)  # (some held two slices)
    count += 100

    listener.order.clear()
    listener.row_cost_ns = 3 * TICK_SLICE_NS  # a hundred subscribers, say
    ea.event("ticks", {"symbol": "EURUSD", "rows": tick_rows(count + 1, 40)})
    await listener.wait_for(lambda: len(listener.ticks_seen) == count + 40)
    assert set(listener.slices()[3:-1]) == {MIN_SLICE_ROWS}  # (the last: what is left)


async def test_a_session_that_falls_behind_stops_reading_until_it_catches_up(
    marking_bridge: tuple[Bridge, MarkingListener], make_ea: EAFactory
) -> None:
    """An EA that sends more frames than the session can hand on in a stretch of the loop
    does not grow the daemon's memory without end: past BACKLOG_PAUSE_FRAMES held frames the
    session stops reading its socket (TCP's backpressure reaches the EA), reads again once
    the backlog is handled, and every row reaches the listener once, in order."""
    bridge, listener = marking_bridge
    ea = await connected(bridge, make_ea)
    await listener.wait_for(lambda: bool(listener.ups))
    listener.session = next(iter(bridge._sessions.values()))
    frames = 3 * BACKLOG_PAUSE_FRAMES
    for k in range(frames):
        ea.conn.send_event("ticks", {"symbol": "EURUSD", "rows": tick_rows(10 * k + 1, 10)})
    ea.flush()
    await listener.wait_for(lambda: len(listener.ticks_seen) == 10 * frames)
    assert any(listener.paused_seen) and not listener.session.reading_paused
    assert [r[0] for _, _, r in listener.ticks_seen] == [
        10 * k + i + 1 for k in range(frames) for i in range(10)]
    ea.event("ticks", {"symbol": "EURUSD", "rows": tick_rows(1, 3)})  # it reads again
    await listener.wait_for(lambda: len(listener.ticks_seen) == 10 * frames + 3)


async def test_a_session_going_down_hands_on_its_backlog_first(
    marking_bridge: tuple[Bridge, MarkingListener], make_ea: EAFactory
) -> None:
    """An EA that sends a large batch and hangs up at once loses none of it: every row reaches
    the listener, in order, before the session is reported down."""
    bridge, listener = marking_bridge
    ea = await connected(bridge, make_ea)
    await listener.wait_for(lambda: bool(listener.ups))
    count = 400
    ea.event("ticks", {"symbol": "EURUSD", "rows": tick_rows(1, count)})
    await ea.close()
    await listener.wait_for(lambda: bool(listener.downs))
    assert [r[0] for _, _, r in listener.ticks_seen] == list(range(1, count + 1))


async def test_a_sliced_batch_streams_with_gap_free_seq(
    clock: FakeClock, make_ea: EAFactory
) -> None:
    """Through the daemon's own listener (the terminal directory and its stream hub), a batch
    handed on in slices reaches a subscriber as one notification per row, in the EA's order,
    with seq 1, 2, 3, ... and nothing conflated."""
    hub = Hub()
    directory = TerminalDirectory(hub)
    recorder = RecordingListener()
    verifier = StaticVerifier({TOKEN_A: (TERM_A, "tok-a")})
    heartbeat = HeartbeatSettings(interval_s=0.04, timeout_s=0.2, handshake_timeout_s=0.04)
    b = Bridge(verifier, FanOut(directory, recorder), port=0, heartbeat=heartbeat, clock=clock)
    await b.start()
    try:
        ea = await connected(b, make_ea)
        await recorder.wait_for(lambda: bool(recorder.ups))
        client = hub.connect(StreamKey(TERM_A, "tok-a"))
        sid = client.subscribe("ticks", ["EURUSD"])
        count = 137
        ea.conn.send_event("ticks", {"symbol": "EURUSD", "rows": tick_rows(1, count)})
        ea.conn.send_event("ticks", {"symbol": "EURUSD", "rows": tick_rows(count + 1, 3)})
        ea.flush()
        await recorder.wait_for(lambda: len(recorder.ticks_seen) == count + 3)
        frames = [orjson.loads(f) for f in client.take(limit=10 * count)]
        ticks = [f["params"] for f in frames if f["method"] == "tick"]
        assert [t["seq"] for t in ticks] == list(range(1, count + 4))
        assert [t["time_msc"] for t in ticks] == list(range(1, count + 4))
        assert {t["subscription"] for t in ticks} == {sid}
        assert all(t["conflated"] == 0 for t in ticks)
    finally:
        await b.close()


async def test_a_large_malformed_batch_is_dropped_whole_with_one_warning(
    marking_bridge: tuple[Bridge, MarkingListener], make_ea: EAFactory,
    caplog: pytest.LogCaptureFixture
) -> None:
    """A storm-sized ticks event without a symbol is not sliced into one warning per slice:
    it is dropped with one, and the frame after it is handed on."""
    bridge, listener = marking_bridge
    ea = await connected(bridge, make_ea)
    ea.conn.send_event("ticks", {"symbol": 42, "rows": tick_rows(1, 300)})
    ea.conn.send_event("trade", {"type": "deal_added", "time_msc": 3, "deal": {"ticket": 9}})
    ea.flush()
    await listener.wait_for(lambda: bool(listener.events))
    assert listener.order == ["trade"] and listener.ticks_seen == []
    dropped = [r for r in caplog.records if "malformed ticks event dropped" in r.getMessage()]
    assert len(dropped) == 1


async def test_a_cancelled_call_stops_governing_the_heartbeat_at_once(
    bridge: Bridge, clock: FakeClock, listener: RecordingListener, make_ea: EAFactory
) -> None:
    """A call whose caller is cancelled is no longer waited for: the EA's silence counts
    again at the session's next look, long before the call's own deadline (a call answers
    with a future, which the session fails or forgets where each outcome is decided)."""
    await connected(bridge, make_ea)
    await listener.wait_for(lambda: bool(listener.ups))
    call = asyncio.create_task(bridge.call(TERM_A, "order_send", {"request": {}}, 600.0))
    await asyncio.sleep(0)  # the request is sent
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    clock.advance(5.0)  # 25 heartbeat timeouts of silence on the injected clock
    async with asyncio.timeout(TIMEOUT_S):  # far below the call's 600 s
        await listener.wait_for(lambda: bool(listener.downs))
    assert listener.downs[0][1] == "heartbeat_timeout"


class SlowReadClock(WorkClock):
    """A work clock on which, once ``slow``, each look costs a whole slice: as if decoding
    a read took longer than :data:`TICK_SLICE_NS` (a slow machine, a profiler, valgrind)."""

    slow = False

    def __call__(self) -> int:
        if self.slow:
            self.now += TICK_SLICE_NS
        return self.now


async def test_answers_are_resolved_in_the_read_that_brings_them_however_long_it_took(
    clock: FakeClock, make_ea: EAFactory
) -> None:
    """The answers to calls are set on their futures as they are read, even when the read
    used up the slice: only tick rows are sliced (before, such a read put the answers behind
    two loop hops, and with every read costing a slice they never came)."""
    work = SlowReadClock()
    listener = MarkingListener(work)
    verifier = StaticVerifier({TOKEN_A: (TERM_A, "tok-a")})
    heartbeat = HeartbeatSettings(interval_s=0.04, timeout_s=0.2, handshake_timeout_s=0.04)
    bridge = Bridge(verifier, listener, port=0, heartbeat=heartbeat, clock=clock,
                    work_clock_ns=work)
    await bridge.start()
    try:
        ea = await connected(bridge, make_ea)
        session = bridge.route(TERM_A)
        assert session is not None
        futures = [session.call("symbol_info_tick", {"symbol": s}, TIMEOUT_S)
                   for s in ("X", "Y", "Z")]
        requests = [await ea.next_request() for _ in range(3)]
        work.slow = True
        for request in requests:
            ea.conn.send_response(request.id, {"symbol": request.params["symbol"]})
        ea.flush()  # the three answers in one write
        async with asyncio.timeout(TIMEOUT_S):
            first = await futures[0]
        assert first == {"symbol": "X"}
        assert all(future.done() for future in futures)  # resolved in the same read
        assert [future.result() for future in futures] == [
            {"symbol": "X"}, {"symbol": "Y"}, {"symbol": "Z"}]
    finally:
        await bridge.close()
