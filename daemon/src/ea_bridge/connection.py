"""The bridge connection as a sans-I/O state machine, for both ends of the socket.

Bytes go in (:meth:`receive_data`, :meth:`receive_eof`), decisions come out as events
(:meth:`events_received`) and bytes to write (:meth:`data_to_send`). Nothing here touches a
socket, a task or the wall clock: the clock is injected, so handshake deadlines and heartbeat
timeouts are tested by moving a number, and the same code runs under the daemon's asyncio
server, the emulated terminal, and a unit test that feeds bytes one at a time.

The daemon side, :class:`BridgeConnection`::

    AWAITING_HELLO --hello--> AWAITING_AUTH --auth, accept()--> READY --bye/eof/timeout--> CLOSED
          \\                        \\--refuse()--> CLOSING --> CLOSED
           \\--deadline / bad frame--> CLOSING

The EA side, :class:`EAConnection`, mirrors it: AWAITING_CHALLENGE → AWAITING_WELCOME → READY.
It trusts nothing before the daemon has proved it holds the token's ``server_key``: a challenge
whose proof is wrong (a process squatting on the bridge port while the daemon is down) ends
the connection with ``daemon_unproven`` before the EA has sent its own proof or served a
single request.

Decisions that need the outside world stay outside: the shell sees :class:`HelloReceived`,
finds the token's record and answers with :meth:`BridgeConnection.send_challenge` (the
daemon's proof) or :meth:`~BridgeConnection.refuse`, sees :class:`AuthReceived` and calls
:meth:`~BridgeConnection.accept` or :meth:`~BridgeConnection.refuse` after asking whoever knows
the tokens. Everything that is pure protocol (version check, frame limits, sequence numbers,
heartbeats, answering pings, refusing out-of-order frames) is decided here.

A peer that breaks the protocol gets a ``bye`` with ``protocol_error`` (or a ``refuse`` during
the handshake) and the connection ends with a :class:`Closed` event; it never raises into the
shell. Calling an operation in the wrong state is *our* bug and raises :class:`InvalidState`.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Final, NamedTuple

from mtgateway.credential import (
    TokenKeys,
    ea_message,
    is_hex64,
    prove_holder,
    verify_server,
)

from .errors import FramingError, InvalidState, ProtocolViolation
from .framing import DEFAULT_MAX_FRAME_BYTES, FrameDecoder, encode_frame
from .messages import (
    PROTOCOL_VERSION,
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

__all__ = [
    "DAEMON_UNPROVEN",
    "ENDED_STATES",
    "HANDSHAKE_MAX_FRAME_BYTES",
    "AuthReceived",
    "BridgeConnection",
    "Closed",
    "ConnectionEvent",
    "EAConnection",
    "EventReceived",
    "HeartbeatSettings",
    "HelloReceived",
    "PongReceived",
    "Refused",
    "RequestReceived",
    "ResponseReceived",
    "State",
    "Welcomed",
]

#: Until the handshake completes a peer is unauthenticated: it gets small frames only.
HANDSHAKE_MAX_FRAME_BYTES: Final = 16 * 1024
#: The EA side's close reason when the peer's challenge does not prove it holds the token:
#: nothing was sent, nothing obeyed, and the EA tries again (the real daemon may be back).
DAEMON_UNPROVEN: Final = "daemon_unproven"


class State(enum.Enum):
    """Where a connection is in its life."""

    AWAITING_HELLO = "awaiting_hello"
    AWAITING_AUTH = "awaiting_auth"
    AWAITING_CHALLENGE = "awaiting_challenge"
    AWAITING_WELCOME = "awaiting_welcome"
    READY = "ready"
    #: We decided to close: whatever is in ``data_to_send`` goes out, then the socket closes.
    CLOSING = "closing"
    CLOSED = "closed"


#: The states in which the shell flushes what is queued and closes the socket
#: (:attr:`_Connection.should_close`; a shell on a hot path compares the state itself).
ENDED_STATES: Final = (State.CLOSING, State.CLOSED)
#: The states the per-frame paths compare with, read once: an attribute of an ``Enum``
#: class is read through its metaclass's ``__getattr__`` hook on CPython 3.11 (several times
#: a global's cost), and every call and answer compared four of them.
_READY: Final = State.READY
_AWAITING_HELLO: Final = State.AWAITING_HELLO
_AWAITING_AUTH: Final = State.AWAITING_AUTH

_HANDSHAKE_STATES: Final = frozenset(
    {State.AWAITING_HELLO, State.AWAITING_AUTH, State.AWAITING_CHALLENGE, State.AWAITING_WELCOME}
)


@dataclass(frozen=True, slots=True)
class HeartbeatSettings:
    """Liveness timing. Security policy default: ping every 5 s, dead after 15 s of silence."""

    interval_s: float = 5.0
    timeout_s: float = 15.0
    handshake_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if not 0 < self.interval_s < self.timeout_s:
            raise ValueError("heartbeat interval must be positive and below the timeout")
        if self.handshake_timeout_s <= 0:
            raise ValueError("handshake timeout must be positive")


@dataclass(frozen=True, slots=True)
class HelloReceived:
    """Daemon side: the EA introduced itself; answer with ``send_challenge``."""

    hello: Hello


@dataclass(frozen=True, slots=True)
class AuthReceived:
    """Daemon side: the EA's proof over the hello's nonce and ours; verify it, then accept or
    refuse."""

    hello: Hello
    nonce: str
    proof: str


@dataclass(frozen=True, slots=True)
class Welcomed:
    """EA side: the daemon accepted us; the session is live."""

    welcome: Welcome


@dataclass(frozen=True, slots=True)
class Refused:
    """EA side: the daemon refused the handshake with a reason word.

    ``confirmed`` is whether the peer had proved it holds the token's record before refusing
    (a refusal after the challenge's proof). An unconfirmed one may come from whatever
    squats on the port: an EA retries it, later, rather than stop for good on a stranger's
    word.
    """

    reason: str
    message: str
    confirmed: bool = True


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """EA side: a call to execute and answer."""

    request: Request


class ResponseReceived(NamedTuple):
    """Daemon side: the answer to one of our requests. One per call: a named tuple, made by
    ``tuple.__new__`` (:data:`_response_received`), so no ``__init__`` of Python's runs in
    either build (a frozen dataclass's sets its field through ``object.__setattr__``)."""

    response: Response | ErrorResponse


_response_received: Final = partial(tuple.__new__, ResponseReceived)


@dataclass(frozen=True, slots=True)
class EventReceived:
    """A pushed event; ``missed`` counts sequence numbers skipped before it (0 = no loss)."""

    event: Event
    missed: int


@dataclass(frozen=True, slots=True)
class PongReceived:
    """A heartbeat came back; ``rtt_s`` is the round trip measured on our clock."""

    rtt_s: float


@dataclass(frozen=True, slots=True)
class Closed:
    """The connection is over. ``reason`` is a protocol word (``eof``, ``heartbeat_timeout``,
    ``protocol_error``, or the peer's ``bye`` reason); always the last event.
    """

    reason: str
    message: str


ConnectionEvent = (
    HelloReceived | AuthReceived | Welcomed | Refused | RequestReceived | ResponseReceived
    | EventReceived | PongReceived | Closed
)


class _Connection(abc.ABC):
    """What both ends share: framing, heartbeats, event numbering, orderly and disorderly close."""

    def __init__(self, *, clock: Callable[[], float], heartbeat: HeartbeatSettings,
                 max_frame_bytes: int, state: State) -> None:
        self._clock = clock
        self.heartbeat = heartbeat
        self.max_frame_bytes = max_frame_bytes
        self.state = state
        self._decoder = FrameDecoder(min(HANDSHAKE_MAX_FRAME_BYTES, max_frame_bytes))
        #: The frames queued for the socket, until :meth:`data_to_send` takes them (the shell
        #: looks at it before it schedules a write: none is owed while it is empty).
        self.outbox: list[bytes] = []
        self._events: list[ConnectionEvent] = []
        now = clock()
        self._opened_at = now
        self._last_received = now
        self._last_ping = now
        self._last_timer = now
        self._out_seq = 0
        self._in_seq = 0
        #: Why the connection closed, once it has.
        self.close_reason: str | None = None

    # -- bytes in --------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Feed bytes read from the socket; may produce events and bytes to send."""
        if self.state in ENDED_STATES or not data:
            return
        self._last_received = self._clock()
        try:
            payloads = self._decoder.feed(data)
        except FramingError as exc:
            self._fail(str(exc))
            return
        for payload in payloads:
            if self.state in ENDED_STATES:
                return
            try:
                self._handle(decode(payload))
            except ProtocolViolation as violation:  # not `exc`: mypyc gives a name one type
                self._fail(str(violation))
                return

    def receive_eof(self) -> None:
        """The peer closed its end (or the socket broke)."""
        if self.state is State.CLOSED:
            return
        if self.state is not State.CLOSING:
            self._close("eof", "connection closed by peer")
        self.state = State.CLOSED

    # -- bytes and events out --------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """Everything queued since the last call, as one buffer: one write per loop iteration."""
        if not self.outbox:
            return b""
        data = b"".join(self.outbox)
        self.outbox.clear()
        return data

    def events_received(self) -> list[ConnectionEvent]:
        """Events produced since the last call, in order."""
        events, self._events = self._events, []
        return events

    @property
    def should_close(self) -> bool:
        """True once the shell should flush ``data_to_send`` and close the socket."""
        return self.state in ENDED_STATES

    # -- time ------------------------------------------------------------------------------

    def on_timer(self) -> None:
        """Enforce the handshake deadline and the dead-peer timeout; send a ping when due.

        The shell calls this periodically (at least every ``heartbeat.interval_s / 2``); a call
        that comes later than a whole interval after the previous one is taken as a stall of
        this process, and the dead-peer verdict waits for the next call.
        """
        now = self._clock()
        if self.state in _HANDSHAKE_STATES:
            if now - self._opened_at >= self.heartbeat.handshake_timeout_s:
                self._handshake_timeout()
            return
        if self.state is not State.READY:
            return
        # A gap since the previous call longer than a ping interval means our own process
        # could not run (a long callback, GC, CPU starvation): whatever the peer sent
        # meanwhile may still be unread, so silence is judged at the next call, not now.
        stalled = now - self._last_timer > self.heartbeat.interval_s
        self._last_timer = now
        # A peer busy with one of our own requests (an MQL EA blocks in OrderSend or CopyTicks
        # and cannot answer pings meanwhile) is not dead: that request's own timeout governs.
        if (now - self._last_received >= self.heartbeat.timeout_s and not stalled
                and not self._busy_for_us()):
            self._close("heartbeat_timeout", "no data from peer within the heartbeat timeout")
            self.state = State.CLOSED
            return
        if now - self._last_ping >= self.heartbeat.interval_s:
            self._last_ping = now
            self._send(Ping(int(now * 1000)))

    def _busy_for_us(self) -> bool:
        """Whether the peer is working on something we asked and still wait for."""
        return False

    def send_bye(self, reason: str, message: str = "") -> None:
        """Close in order, telling the peer why (shutdown, token revoked, ...)."""
        if self.state in (State.CLOSING, State.CLOSED):
            return
        self._send(Bye(reason, message))
        self._close(reason, message)

    # -- internals -------------------------------------------------------------------------

    def _send(self, message: Message) -> None:
        self.outbox.append(encode_frame(encode(message), max_frame_bytes=self.max_frame_bytes))

    def _close(self, reason: str, message: str) -> None:
        self.close_reason = reason
        self.state = State.CLOSING
        self._events.append(Closed(reason, message))

    def _fail(self, detail: str) -> None:
        """The peer broke the protocol: say so, then close."""
        if self.state in _HANDSHAKE_STATES and isinstance(self, BridgeConnection):
            self._send(Refuse("protocol_error", detail[:200]))
        else:
            self._send(Bye("protocol_error", detail[:200]))
        self._close("protocol_error", detail)

    def _become_ready(self) -> None:
        self.state = State.READY
        self._decoder.max_frame_bytes = self.max_frame_bytes
        now = self._clock()
        self._last_ping = now
        self._last_received = now

    def _next_event_seq(self) -> int:
        self._out_seq += 1
        return self._out_seq

    def _handle_common(self, message: Message) -> None:
        """Frames either side accepts once READY; anything else is a violation."""
        if isinstance(message, Ping):
            self._send(Pong(message.ts))
        elif isinstance(message, Pong):
            self._events.append(PongReceived(max(0.0, self._clock() - message.ts / 1000)))
        elif isinstance(message, Bye):
            self._close(message.reason, message.message)
            self.state = State.CLOSED
        elif isinstance(message, Event):
            if message.seq <= self._in_seq:
                raise ProtocolViolation(
                    f"event seq {message.seq} not above the previous {self._in_seq}")
            missed = message.seq - self._in_seq - 1
            self._in_seq = message.seq
            self._events.append(EventReceived(message, missed))
        else:
            raise ProtocolViolation(f"unexpected {type(message).__name__.lower()} frame")

    @abc.abstractmethod
    def _handle(self, message: Message) -> None:
        """Dispatch one decoded frame according to this side's state."""

    @abc.abstractmethod
    def _handshake_timeout(self) -> None:
        """The handshake deadline passed."""


class BridgeConnection(_Connection):
    """The daemon's end of one EA connection."""

    def __init__(self, *, clock: Callable[[], float], heartbeat: HeartbeatSettings,
                 max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        super().__init__(clock=clock, heartbeat=heartbeat, max_frame_bytes=max_frame_bytes,
                         state=State.AWAITING_HELLO)
        self.hello: Hello | None = None
        self._nonce: str | None = None
        self._next_request_id = 0
        self._outstanding: set[int] = set()
        #: Requests whose caller still waits: while any is, silence is not death (on_timer).
        self._awaited: set[int] = set()

    def send_challenge(self, nonce: str, server_time_ms: int, proof: str) -> None:
        """Answer the hello with a fresh nonce (hex of 32 random bytes from the shell) and the
        daemon's proof over both nonces (``mtgateway.credential.prove_server``)."""
        if self.state is not State.AWAITING_AUTH or self._nonce is not None:
            raise InvalidState(f"cannot send a challenge in state {self.state.value}")
        self._nonce = nonce
        self._send(Challenge(nonce, server_time_ms, proof))

    def accept(self, session_id: str) -> None:
        """The MAC checked out: go live and tell the EA the session's settings."""
        if self.state is not State.AWAITING_AUTH or self._nonce is None:
            raise InvalidState(f"cannot accept in state {self.state.value}")
        self._become_ready()
        self._send(Welcome(session_id, self.heartbeat.interval_s, self.heartbeat.timeout_s,
                           self.max_frame_bytes))

    def refuse(self, reason: str, message: str) -> None:
        """Refuse the handshake with a reason word and close."""
        if self.state not in (State.AWAITING_HELLO, State.AWAITING_AUTH):
            raise InvalidState(f"cannot refuse in state {self.state.value}")
        self._send(Refuse(reason, message))
        self._close(reason, message)

    def send_request(self, method: str, params: dict[str, Any]) -> int:
        """Queue a call to the EA and return its id.

        Raises:
            InvalidState: the session is not READY.
            FrameTooLarge: the request would not fit in one frame.
        """
        if self.state is not _READY:
            raise InvalidState(f"cannot send a request in state {self.state.value}")
        self._next_request_id += 1
        request_id = self._next_request_id
        self.outbox.append(encode_frame(encode_request(request_id, method, params),
                                      max_frame_bytes=self.max_frame_bytes))
        self._outstanding.add(request_id)
        self._awaited.add(request_id)
        return request_id

    def give_up(self, request_id: int) -> None:
        """The caller stopped waiting (its timeout passed): silence counts again.

        The answer stays acceptable if it comes late.
        """
        self._awaited.discard(request_id)

    def _busy_for_us(self) -> bool:
        return bool(self._awaited)

    def _handle(self, message: Message) -> None:
        if self.state is _AWAITING_HELLO:
            if not isinstance(message, Hello):
                raise ProtocolViolation("the first frame must be a hello")
            if message.protocol_version != PROTOCOL_VERSION:
                self.refuse("unsupported_version",
                            f"protocol version {message.protocol_version} is not supported; "
                            f"this daemon speaks version {PROTOCOL_VERSION} (EA 1.3): an older "
                            "EA does not check the gateway's proof, so install the EA this "
                            "gateway ships (mtgateway ea install)")
                return
            if not is_hex64(message.ea_nonce) or len(message.token_hint) != 32:
                raise ProtocolViolation("a version 2 hello needs ea_nonce (64 lowercase hex) "
                                        "and token_hint (32 lowercase hex)")
            self.hello = message
            self.state = State.AWAITING_AUTH
            self._events.append(HelloReceived(message))
        elif self.state is _AWAITING_AUTH:
            if not isinstance(message, Auth) or self._nonce is None or self.hello is None:
                raise ProtocolViolation("expected an auth frame answering the challenge")
            self._events.append(AuthReceived(self.hello, self._nonce, message.proof))
        elif type(message) is Response or type(message) is ErrorResponse:  # (exact types)
            if message.id not in self._outstanding:
                raise ProtocolViolation(f"response to unknown request id {message.id}")
            self._outstanding.discard(message.id)
            self._awaited.discard(message.id)
            self._events.append(_response_received((message,)))
        else:
            self._handle_common(message)

    def _handshake_timeout(self) -> None:
        self.refuse("handshake_timeout", "handshake not completed in time")


class EAConnection(_Connection):
    """The EA's end: what the emulated terminal (and a real EA, in MQL) implements.

    Sends the hello at once, with the token's hint and a fresh nonce (``hello.ea_nonce``);
    checks the challenge's proof with the token's ``server_key`` and only then answers with its
    own proof. A wrong or missing proof closes the connection (:data:`DAEMON_UNPROVEN`).
    """

    def __init__(self, hello: Hello, keys: TokenKeys, *, clock: Callable[[], float],
                 heartbeat: HeartbeatSettings | None = None,
                 max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        super().__init__(clock=clock, heartbeat=heartbeat or HeartbeatSettings(),
                         max_frame_bytes=max_frame_bytes, state=State.AWAITING_CHALLENGE)
        if not is_hex64(hello.ea_nonce) or hello.token_hint != keys.hint:
            raise ValueError("the hello needs a fresh ea_nonce and the token's hint")
        self.hello = hello
        self._keys = keys
        self._send(hello)

    def send_response(self, request_id: int, result: Any) -> None:
        """Answer a request with its result."""
        self._require_ready("a response")
        self._send(Response(request_id, result))

    def send_error(self, request_id: int, code: int, message: str, data: Any = None) -> None:
        """Answer a request with an error (a contract code)."""
        self._require_ready("an error")
        self._send(ErrorResponse(request_id, code, message, data))

    def send_event(self, name: str, payload: dict[str, Any]) -> int:
        """Push an event with the next sequence number, which is returned."""
        self._require_ready("an event")
        seq = self._next_event_seq()
        self._send(Event(seq, name, payload))
        return seq

    def _require_ready(self, what: str) -> None:
        if self.state is not State.READY:
            raise InvalidState(f"cannot send {what} in state {self.state.value}")

    def _handle(self, message: Message) -> None:
        if self.state is State.AWAITING_CHALLENGE:
            if isinstance(message, Refuse):
                self._refused(message)
                return
            if not isinstance(message, Challenge):
                raise ProtocolViolation("expected a challenge")
            hello = self.hello
            daemon_said = ea_message("daemon", hello.ea_nonce, message.nonce, hello.login,
                                     hello.server)
            if not is_hex64(message.nonce) or not verify_server(
                    self._keys.verifier.server_key, daemon_said, message.proof):
                # Whoever listens here does not hold the token's record: send nothing more.
                self._close(DAEMON_UNPROVEN, "the peer did not prove it is the gateway holding "
                            "this token; nothing was sent")
                self.state = State.CLOSED
                return
            self.state = State.AWAITING_WELCOME
            self._send(Auth(prove_holder(self._keys, ea_message(
                "ea", hello.ea_nonce, message.nonce, hello.login, hello.server))))
        elif self.state is State.AWAITING_WELCOME:
            if isinstance(message, Refuse):
                self._refused(message)
                return
            if not isinstance(message, Welcome):
                raise ProtocolViolation("expected a welcome")
            # The daemon's settings govern both ends, so neither side times the other out early.
            self.heartbeat = HeartbeatSettings(message.heartbeat_interval_s,
                                               message.heartbeat_timeout_s,
                                               self.heartbeat.handshake_timeout_s)
            self.max_frame_bytes = min(self.max_frame_bytes, message.max_frame_bytes)
            self._become_ready()
            self._events.append(Welcomed(message))
        elif isinstance(message, Request):
            self._events.append(RequestReceived(message))
        else:
            self._handle_common(message)

    def _refused(self, message: Refuse) -> None:
        confirmed = self.state is State.AWAITING_WELCOME  # the challenge's proof checked out
        self._events.append(Refused(message.reason, message.message, confirmed))
        self._close(message.reason, message.message)
        self.state = State.CLOSED

    def _handshake_timeout(self) -> None:
        self._close("handshake_timeout", "the daemon did not complete the handshake in time")
        self.state = State.CLOSED
