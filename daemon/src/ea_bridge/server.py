"""The socket side of the bridge: one asyncio Protocol per EA connection, and nothing clever.

:class:`TerminalSession` moves bytes between the transport and its :class:`BridgeConnection`,
keeps ``request id → Future`` for calls in flight, and turns connection events into callbacks
on its owner (a :class:`SessionOwner`: the :class:`~ea_bridge.bridge.Bridge`, which this module
does not import). A Protocol rather than streams because
the EA path is latency-bound: no reader task, no extra copies, and writes are **coalesced**:
everything the connection queues in one loop iteration leaves in a single ``transport.write``
scheduled with ``call_soon`` (the performance spec measured +17 % RPC throughput from this).

A large ``ticks`` event is handed to the listener in **slices** that each hold the loop for
about :data:`TICK_SLICE_NS` at most (the frame's decode counts toward the first): every
terminal shares the daemon's one event loop, and a storm terminal's 100-row events (5k ticks/s)
held it for 0.6-1.3 ms each, which every other terminal's ``/rpc`` answer met at its tail
(docs/history/performance-notes.md, "Many terminals on one daemon"). A slice's row count comes
from what this session's rows have cost so far (a moving average, measured on an injected work
clock): a row costs about a hundred times more with a hundred subscribers than with one, so
a fixed count would be either too coarse or too fine. Between slices the loop runs whatever else
is ready (another session's answer, a WebSocket write). The session's later frames wait in its
backlog behind the rest of the batch, so its own order is kept: rows, events and answers reach
their consumers in the order the EA sent them, and none is dropped (a session that goes down
hands on its backlog first). A read that brings only answers to calls, with nothing of the
session's waiting before them, sets them on their futures at once, whatever the read cost:
each is a future's result, no slice is needed for it. A session whose backlog grows past
:data:`BACKLOG_PAUSE_FRAMES` stops reading its socket until the backlog is handled, so an EA
that sends faster than the daemon can hand on meets TCP's backpressure instead of growing the
daemon's memory.

When the session ends, for any reason, every call in flight fails at once: reads with
:class:`TerminalDisconnected`, trades with :class:`TradeOutcomeUnknown`. Nothing is left hanging.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, Final, Protocol, cast

from .connection import (
    ENDED_STATES,
    AuthReceived,
    BridgeConnection,
    Closed,
    ConnectionEvent,
    EventReceived,
    HeartbeatSettings,
    HelloReceived,
    ResponseReceived,
)
from .errors import (
    AuthRefused,
    BridgeError,
    EAError,
    TerminalDisconnected,
    TerminalNotConnected,
    TerminalTimeout,
    TradeOutcomeUnknown,
)
from .interfaces import BridgeListener, EAVerifier, SessionInfo, TerminalId
from .messages import (
    EVENT_TICKS,
    TRADE_METHODS,
    ErrorResponse,
    Hello,
    Response,
    event_problem,
    tick_row_problem,
)

__all__ = ["BACKLOG_PAUSE_FRAMES", "MIN_SLICE_ROWS", "ROW_COST_GUESS_NS", "TICK_SLICE_NS",
           "SessionOwner", "TerminalSession"]

log = logging.getLogger(__name__)
#: Refusals that are a step of the normal flow, logged at INFO: a new device waits for its
#: owner's approval (the owner was e-mailed a code; the EA retries until it is approved).
_EXPECTED: Final = frozenset({"device_not_approved"})

#: How often a session checks its deadlines, as a share of the heartbeat interval.
_TIMER_FRACTION: Final = 0.25
#: A call whose deadline is this close when the deadline timer fires has expired (uvloop's
#: timers count milliseconds, asyncio's may fire a clock resolution early).
_DEADLINE_SLACK_S: Final = 0.001
#: How long one session's frames may hold the loop in one stretch, in nanoseconds of its work
#: clock. A ``/rpc`` call passes the loop two or three times (the request out, the answer back,
#: the response), so a storm can add about this much at each pass to another terminal's call;
#: a smaller slice costs a loop iteration and a WebSocket write per subscriber more often.
TICK_SLICE_NS: Final = 50_000
#: The fewest rows a slice hands on, however costly rows have been, so a ticks event to many
#: subscribers still shares each subscriber's write among a few rows.
MIN_SLICE_ROWS: Final = 2
#: What a row is assumed to cost before this session has measured one (about what a row to
#: one subscriber was measured to cost on a small machine).
ROW_COST_GUESS_NS: Final = 4_000.0
#: The weight of the newest slice in the row cost's moving average.
_ROW_COST_WEIGHT: Final = 0.25
#: Frames held unhandled past which the session stops reading its socket until they are.
BACKLOG_PAUSE_FRAMES: Final = 64


class SessionOwner(Protocol):
    """What a session needs from whoever accepted it: settings, the injected clocks and
    randomness, the verifier and listener, and the terminal slot table."""

    clock: Callable[[], float]
    wall_clock_ms: Callable[[], int]
    #: a high-resolution monotonic clock in nanoseconds that times the session's work
    #: (``time.perf_counter_ns``: ``time.monotonic`` ticks every 15.6 ms on Windows)
    work_clock_ns: Callable[[], int]
    #: :data:`TICK_SLICE_NS` unless a test or a benchmark says otherwise
    slice_ns: int
    random_hex: Callable[[int], str]
    heartbeat: HeartbeatSettings
    max_frame_bytes: int
    verifier: EAVerifier
    listener: BridgeListener

    def admit(self, session: TerminalSession) -> None:
        """A connection was opened (it may close the oldest one pending a handshake)."""
        ...

    def register(self, session: TerminalSession, info: SessionInfo) -> bool:
        """Claim the terminal's slot; False when another live session holds it."""
        ...

    def unregister(self, session: TerminalSession, info: SessionInfo | None,
                   reason: str) -> None:
        """Forget the session; release its slot (if it held one) and tell the listener."""
        ...


class TerminalSession(asyncio.Protocol):
    """One EA connection: the I/O shell around a :class:`BridgeConnection`."""

    def __init__(self, owner: SessionOwner) -> None:
        self._owner = owner
        self._loop = asyncio.get_running_loop()
        self.conn = BridgeConnection(clock=owner.clock, heartbeat=owner.heartbeat,
                                     max_frame_bytes=owner.max_frame_bytes)
        self.info: SessionInfo | None = None
        self._transport: asyncio.Transport | None = None
        #: calls in flight by request id: the caller's future, the method, its deadline and
        #: its timeout (for the refusal that says it passed)
        self._pending: dict[int, tuple[asyncio.Future[Any], str, float, float]] = {}
        self._deadline_timer: asyncio.TimerHandle | None = None  # the nearest call deadline
        self._deadline_at = 0.0
        self._flush_scheduled = False
        self._timer: asyncio.TimerHandle | None = None
        self._verifying: asyncio.Task[None] | None = None
        self._peer = "?"
        self._down = False
        #: frames received and not yet handled, oldest first (see "slices" above)
        self._backlog: deque[ConnectionEvent] = deque()
        #: rows of the backlog's first event (a ``ticks`` event) already handed on
        self._sliced = 0
        self._resume_scheduled = False
        self._draining = False
        #: what one tick row has cost the listener lately, in work-clock nanoseconds
        self._row_cost_ns = ROW_COST_GUESS_NS
        self._reading_paused = False

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing asyncio.Transport.
        self._transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self._peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self._arm_timer()
        self._owner.admit(self)

    def data_received(self, data: bytes) -> None:
        started = self._owner.work_clock_ns()  # the decode counts toward the first slice
        self.conn.receive_data(data)
        self._process(started)

    def eof_received(self) -> bool | None:
        self.conn.receive_eof()
        self._process()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.conn.receive_eof()
        self._process()
        self._went_down(self.conn.close_reason or "eof")
        self._transport = None

    @property
    def reading_paused(self) -> bool:
        """True while the session has stopped reading its socket (its backlog is too long)."""
        return self._reading_paused

    # -- calls -----------------------------------------------------------------------------

    def call(self, method: str, params: dict[str, Any], timeout_s: float) -> asyncio.Future[Any]:
        """Send a request; the future of its answer, for the caller to await. The future, not
        a coroutine awaiting it: every outcome is set on it where it is decided (the answer,
        the EA's error, the deadline, the disconnect), so no coroutine of the session's own
        is resumed on every call.

        Raises:
            TerminalNotConnected: the session is closing (at once).
            FrameTooLarge: the request does not fit in a frame (at once).

        The future raises:
            TerminalTimeout: a read got no answer in ``timeout_s``.
            TradeOutcomeUnknown: a trade got no answer (timeout or disconnect).
            TerminalDisconnected: the session dropped while a read was in flight.
            EAError: the EA answered with an error.
        """
        conn = self.conn
        if self._down or conn.state in ENDED_STATES:  # (``should_close``, without a call)
            raise TerminalNotConnected("the terminal's session is closing")
        request_id = conn.send_request(method, params)
        future: asyncio.Future[Any] = self._loop.create_future()
        due = self._loop.time() + timeout_s
        self._pending[request_id] = (future, method, due, timeout_s)
        if not self._flush_scheduled and self._transport is not None:  # (_schedule_flush)
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)
        # Not ``asyncio.timeout`` (its Timeout object, current_task lookup, reschedule and
        # uncancel bookkeeping on every call) and not a timer per call: one
        # timer per session at the nearest deadline fails the futures that are due
        # (``_deadlines_due``); the answer and the deadline race on the future, whichever sets
        # it first wins (``_resolve`` ignores a done future).
        if self._deadline_timer is None or due < self._deadline_at:
            self._arm_deadline(due)
        return future

    def close(self, reason: str, message: str) -> None:
        """End the session in order (bye with ``reason``), failing calls in flight."""
        self.conn.send_bye(reason, message)
        self._process()

    def abort(self) -> None:
        """Drop a connection that has not completed its handshake (no goodbye: it has no
        session to end); ``connection_lost`` then forgets it as usual."""
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    # -- internals -------------------------------------------------------------------------

    def _process(self, started: int | None = None) -> None:
        """Take the connection's new events into the backlog and handle what fits in this
        stretch of the loop (``started``: when it began, on the work clock; now if None)."""
        conn = self.conn
        events = conn.events_received()
        backlog = self._backlog
        if not backlog and not self._resume_scheduled and not self._draining:
            # the usual read: answers to calls with nothing before them waiting, each only
            # set on its future here (``_drain`` would resolve them alike, one at a time
            # under the slice's clock: no slice is needed for them)
            for event in events:
                if type(event) is not ResponseReceived:
                    break
            else:
                for event in events:
                    if type(event) is ResponseReceived:  # (each is: the type, for mypy)
                        self._resolve(event)
                events = []
        if events:
            backlog.extend(events)
            if not self._resume_scheduled and not self._draining:
                self._drain(self._owner.work_clock_ns() if started is None else started)
        if (len(self._backlog) > BACKLOG_PAUSE_FRAMES and not self._reading_paused
                and self._transport is not None and not self._transport.is_closing()):
            self._reading_paused = True
            self._transport.pause_reading()
        if conn.outbox or conn.state in ENDED_STATES:  # a write owed, or a close
            self._schedule_flush()

    def _yield_to_loop(self) -> None:
        if not self._resume_scheduled:
            self._resume_scheduled = True
            self._loop.call_soon(self._behind_the_rest)

    def _behind_the_rest(self) -> None:
        """Queue the next slice behind what the loop's next poll finds ready.

        Both loops run the callbacks queued before an iteration ahead of the socket reads
        that iteration's poll finds (asyncio appends them after; uvloop runs its queue
        before it polls): a slice queued straight away would run before another terminal's
        request or answer that came during this one, which would wait for two slices. One
        hop more puts the slice behind them (the cost: a callback and an empty poll)."""
        self._loop.call_soon(self._resume)

    def _resume(self) -> None:
        """The next slice of the backlog, after whatever became ready during the last."""
        self._resume_scheduled = False
        if not self._draining:
            self._drain(self._owner.work_clock_ns())
        if self._reading_paused and not self._backlog:
            self._reading_paused = False
            if self._transport is not None and not self._transport.is_closing():
                self._transport.resume_reading()
        self._schedule_flush()

    def _drain(self, started: int | None) -> None:
        """Handle the backlog in order until the stretch that began at ``started`` (work-clock
        ns) has used its :data:`TICK_SLICE_NS` (None: all of it, at once); what is left waits
        for :meth:`_resume`, scheduled on the loop."""
        backlog = self._backlog
        clock = self._owner.work_clock_ns
        budget = self._owner.slice_ns
        sliced = False  # whether this stretch has handed on a slice yet
        self._draining = True
        try:
            while backlog:
                room_ns = 0 if started is None else budget - (clock() - started)
                if started is not None and room_ns <= 0:
                    self._yield_to_loop()
                    return
                event = backlog.popleft()
                if type(event) is ResponseReceived:  # the usual event: the answer to a call
                    self._resolve(event)
                    continue
                if not isinstance(event, EventReceived):
                    self._handle(event)
                    continue
                start = self._sliced
                payload = event.event.payload
                rows = payload.get("rows")
                if (event.event.name != EVENT_TICKS or not isinstance(rows, list)
                        or not isinstance(payload.get("symbol"), str)):
                    self._deliver(event)  # (a malformed ticks event is dropped whole)
                    continue
                end = len(rows)
                if started is not None:
                    fits = int(room_ns / self._row_cost_ns)
                    if fits < min(MIN_SLICE_ROWS, end - start) and sliced:
                        # what is left of the stretch would not hold the smallest slice:
                        # the next one starts a stretch of its own
                        backlog.appendleft(event)
                        self._yield_to_loop()
                        return
                    end = min(end, start + max(MIN_SLICE_ROWS, fits))
                    sliced = True
                began = clock()
                self._deliver(event, start, end)
                if end > start:
                    cost = (clock() - began) / (end - start)
                    self._row_cost_ns += (cost - self._row_cost_ns) * _ROW_COST_WEIGHT
                if end < len(rows):
                    self._sliced = end
                    backlog.appendleft(event)  # the rest of the batch goes first
                else:
                    self._sliced = 0
        finally:
            self._draining = False

    def _handle(self, event: ConnectionEvent) -> None:
        if isinstance(event, ResponseReceived):
            self._resolve(event)
        elif isinstance(event, HelloReceived):
            self._verifying = self._loop.create_task(self._challenge(event))
        elif isinstance(event, AuthReceived):
            self._verifying = self._loop.create_task(self._verify(event))
        elif isinstance(event, Closed):
            quiet = event.reason in ("eof", "shutting_down") or event.reason in _EXPECTED
            level = logging.INFO if quiet else logging.WARNING
            log.log(level, "EA %s (%s) closed: %s %s", self._peer,
                    self.info.terminal if self.info else "unauthenticated", event.reason,
                    event.message)
            self._went_down(event.reason)

    def _resolve(self, event: ResponseReceived) -> None:
        response = event.response
        entry = self._pending.pop(response.id, None)
        if entry is None:
            return  # answer to a call that already timed out: the caller has moved on
        future = entry[0]
        if future.done():
            return
        if type(response) is Response:  # (the exact type: no isinstance call)
            future.set_result(response.result)
        else:
            error = cast(ErrorResponse, response)
            future.set_exception(EAError(error.code, error.message, error.data))

    def _deliver(self, event: EventReceived, start: int = 0, end: int | None = None) -> None:
        """Hand one event to the listener; of a ``ticks`` event, its rows ``start:end`` (the
        event's first slice says what was lost before it)."""
        if self.info is None:
            return
        terminal = self.info.terminal
        payload = event.event.payload
        if event.missed and start == 0:
            log.warning("EA %s: %d event(s) lost before seq %d", terminal, event.missed,
                        event.event.seq)
        name = event.event.name
        if name == EVENT_TICKS:
            symbol, rows = payload.get("symbol"), payload.get("rows")
            if not isinstance(symbol, str) or not isinstance(rows, list):
                log.warning("EA %s: malformed ticks event dropped (seq %d): %s", terminal,
                            event.event.seq, "symbol: expected a string"
                            if not isinstance(symbol, str) else "rows: expected an array")
                return
            if start or (end is not None and end < len(rows)):
                rows = rows[start:end]
            problems = [(i, p) for i, row in enumerate(rows)
                        if (p := tick_row_problem(row)) is not None]
            if problems:
                index, problem = problems[0]
                log.warning("EA %s: %d malformed tick row(s) of %s dropped (seq %d; row %d: %s)",
                            terminal, len(problems), symbol, event.event.seq, start + index,
                            problem)
                bad = {i for i, _ in problems}
                rows = [row for i, row in enumerate(rows) if i not in bad]
                if not rows:
                    return
            self._owner.listener.ticks(terminal, symbol, rows)
        else:
            broken = event_problem(name, payload)
            if broken is not None:
                log.warning("EA %s: malformed %s event dropped (seq %d): %s", terminal, name,
                            event.event.seq, broken)
                return
            self._owner.listener.event(terminal, name, payload, event.missed)

    def _refused(self, hello: Hello, exc: AuthRefused) -> None:
        """Log (expected reasons at INFO) and send the refusal of either handshake step."""
        log.log(logging.INFO if exc.reason in _EXPECTED else logging.WARNING,
                "EA %s refused for %d@%s: %s (%s)", self._peer, hello.login, hello.server,
                exc.reason, exc.message)
        self._refuse(exc.reason, exc.message)

    async def _challenge(self, event: HelloReceived) -> None:
        """Prove this daemon holds the hinted token's record, or refuse the hello."""
        hello, nonce = event.hello, self._owner.random_hex(32)
        try:
            proof = await self._owner.verifier.prove_daemon(hello, nonce)
        except AuthRefused as exc:
            self._refused(hello, exc)
            return
        except Exception:
            log.exception("EA challenge failed unexpectedly")
            self._refuse("invalid_token", "the daemon could not find the token")
            return
        if self.conn.should_close:
            return
        self.conn.send_challenge(nonce, self._owner.wall_clock_ms(), proof)
        self._schedule_flush()

    async def _verify(self, event: AuthReceived) -> None:
        hello = event.hello
        try:
            token_id = await self._owner.verifier.verify_ea(hello, event.nonce, event.proof)
        except AuthRefused as exc:
            self._refused(hello, exc)
            return
        except Exception:
            log.exception("EA verification failed unexpectedly")
            self._refuse("invalid_token", "the daemon could not verify the token")
            return
        if self.conn.should_close:
            return
        info = SessionInfo(TerminalId(hello.login, hello.server), self._owner.random_hex(8),
                           token_id, hello, self._owner.wall_clock_ms() / 1000)
        if not self._owner.register(self, info):
            self._refuse("already_connected",
                         f"another EA is already connected for {info.terminal}")
            return
        self.info = info
        self.conn.accept(info.session_id)
        self._schedule_flush()
        log.info("EA %s connected: %s %s build %d, EA %s", self._peer, info.terminal,
                 hello.platform, hello.build, hello.ea_version)
        self._owner.listener.session_up(info)

    def _refuse(self, reason: str, message: str) -> None:
        if not self.conn.should_close:
            self.conn.refuse(reason, message)
        self._process()

    def _went_down(self, reason: str) -> None:
        if self._down:
            return
        self._down = True
        if not self._draining:
            self._drain(None)  # what the EA sent before it went reaches the listener first
        if self._timer is not None:
            self._timer.cancel()
        if self._deadline_timer is not None:
            self._deadline_timer.cancel()
            self._deadline_timer = None
        if self._verifying is not None and not self._verifying.done():
            self._verifying.cancel()
        pending, self._pending = self._pending, {}
        for future, method, _due, _timeout_s in pending.values():
            if future.done():
                continue
            error: BridgeError
            if method in TRADE_METHODS:
                error = TradeOutcomeUnknown(
                    f"the terminal disconnected ({reason}) with {method} in flight",
                    method=method)
            else:
                error = TerminalDisconnected(f"the terminal disconnected ({reason})")
            future.set_exception(error)
        self._owner.unregister(self, self.info, reason)

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled and self._transport is not None:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        transport = self._transport
        if transport is None:
            return
        conn = self.conn
        data = conn.data_to_send()
        if data and not transport.is_closing():
            transport.write(data)
        if conn.state in ENDED_STATES and not transport.is_closing():  # (``should_close``)
            transport.close()

    def _arm_deadline(self, at: float) -> None:
        if self._deadline_timer is not None:
            self._deadline_timer.cancel()
        self._deadline_at = at
        self._deadline_timer = self._loop.call_at(at, self._deadlines_due)

    def _deadlines_due(self) -> None:
        """Fail every call whose deadline has come (a trade's outcome is unknown, a read
        timed out), and forget it: the connection stops waiting for it (``give_up``: the
        peer's silence counts again; a late answer is still accepted), as for a call whose
        caller was cancelled meanwhile (its future done); re-arm for the nearest deadline
        left. An answer that came took its request off the awaited ones itself."""
        self._deadline_timer = None
        now = self._loop.time()
        nearest: float | None = None
        for request_id, (future, method, due, timeout_s) in list(self._pending.items()):
            if due - now <= _DEADLINE_SLACK_S:
                del self._pending[request_id]
                self.conn.give_up(request_id)
                if future.done():  # its caller was cancelled: nobody waits for the answer
                    continue
                if method in TRADE_METHODS:
                    future.set_exception(TradeOutcomeUnknown(
                        f"no answer to {method} within {timeout_s:g} s", method=method))
                else:
                    future.set_exception(TerminalTimeout(
                        f"no answer to {method} within {timeout_s:g} s"))
            elif nearest is None or due < nearest:
                nearest = due
        if nearest is not None and not self._down:
            self._arm_deadline(nearest)

    def _arm_timer(self) -> None:
        period = min(self._owner.heartbeat.interval_s, self._owner.heartbeat.handshake_timeout_s)
        self._timer = self._loop.call_later(period * _TIMER_FRACTION, self._on_timer)

    def _on_timer(self) -> None:
        # A call whose caller was cancelled (its future done, still pending: an answer, the
        # deadline and a disconnect each take theirs off) is no longer waited for: given up
        # here, before the connection judges the peer's silence, which it does only here.
        for request_id, entry in list(self._pending.items()):
            if entry[0].done():
                del self._pending[request_id]
                self.conn.give_up(request_id)
        self.conn.on_timer()
        self._process()
        if not self._down and not self.conn.should_close:
            self._arm_timer()
