"""The bridge as the daemon sees it: listen for EAs, route calls to the right terminal.

:class:`Bridge` owns the listening socket and the table ``terminal → session``. It enforces one
live session per terminal (a second EA for the same login and server is refused with
``already_connected`` while the first is alive; the first's heartbeat timeout frees the slot if
it died silently), routes ``call(terminal, ...)``, and hands pushes to the injected listener.

Everything hangs off one instance; there is no module state, so a test can run several bridges
on port 0 side by side.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
import socket
import time
from collections.abc import Callable
from typing import Any, Final

from .connection import HeartbeatSettings
from .errors import TerminalNotConnected
from .framing import DEFAULT_MAX_FRAME_BYTES
from .interfaces import BridgeListener, EAVerifier, NullListener, SessionInfo, TerminalId
from .server import TICK_SLICE_NS, TerminalSession

__all__ = ["Bridge", "is_loopback", "not_connected"]

log = logging.getLogger(__name__)


def _wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class Bridge:
    """Accepts EA connections and forwards calls to them.

    Args:
        verifier: judges each handshake (the daemon's authenticator).
        listener: receives sessions, ticks and events; defaults to discarding them.
        host: address to listen on; loopback unless ``allow_non_loopback`` is set.
        port: TCP port; 0 picks a free one (see :attr:`port`).
        heartbeat: ping interval, dead-peer timeout and handshake deadline.
        max_frame_bytes: largest frame accepted after the handshake.
        max_pending: connections allowed before their handshake completes; a newcomer beyond
            it closes the oldest of them (each is also closed at the handshake deadline), so
            bare connections cannot exhaust the daemon's file descriptors.
        allow_non_loopback: the only way to listen beyond this machine; the EA's token MAC is
            not encryption, so this is for deliberate setups (a VPN, a VM host) only.
        clock: monotonic seconds, injected for tests.
        wall_clock_ms: epoch milliseconds, injected for tests.
        random_hex: ``n`` random bytes as hex (nonces, session ids), injected for tests.
        work_clock_ns: high-resolution nanoseconds that time a session's work on the loop
            (its tick slices), injected for tests.
        slice_ns: how long one session's tick rows may hold the loop in one stretch.
    """

    def __init__(self, verifier: EAVerifier, listener: BridgeListener | None = None, *,
                 host: str = "127.0.0.1", port: int = 8711,
                 heartbeat: HeartbeatSettings | None = None,
                 max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
                 max_pending: int = 16,
                 allow_non_loopback: bool = False,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock_ms: Callable[[], int] = _wall_clock_ms,
                 random_hex: Callable[[int], str] = secrets.token_hex,
                 work_clock_ns: Callable[[], int] = time.perf_counter_ns,
                 slice_ns: int = TICK_SLICE_NS) -> None:
        if not allow_non_loopback and not is_loopback(host):
            raise ValueError(f"refusing to listen on non-loopback address {host!r} "
                             "without allow_non_loopback")
        self.verifier = verifier
        self.listener: BridgeListener = listener or NullListener()
        self.host = host
        self._requested_port = port
        self.heartbeat = heartbeat or HeartbeatSettings()
        self.max_frame_bytes = max_frame_bytes
        self.clock = clock
        self.wall_clock_ms = wall_clock_ms
        self.random_hex = random_hex
        self.work_clock_ns = work_clock_ns
        if slice_ns <= 0:
            raise ValueError("slice_ns must be positive")
        self.slice_ns = slice_ns
        self._server: asyncio.Server | None = None
        #: The live sessions, by ``(login, server)`` of their terminal: a tuple hashes and
        #: compares in C, a ``TerminalId``'s generated ``__hash__`` and ``__eq__`` run as
        #: Python on every call's look-up (:meth:`route`).
        self._sessions: dict[tuple[int, str], TerminalSession] = {}
        self._all: set[TerminalSession] = set()
        self.max_pending = max_pending
        #: Sessions whose handshake has not completed, oldest first.
        self._pending: dict[TerminalSession, None] = {}
        self._pending_closed = 0
        self._changed = asyncio.Event()

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, sock: socket.socket | None = None) -> None:
        """Start listening on ``host:port``, or on ``sock``: a listening socket the caller
        bound earlier (the daemon binds its ports before it opens its journal, so a start
        that fails on a port in use has touched nothing)."""
        loop = asyncio.get_running_loop()
        if sock is not None:
            self._server = await loop.create_server(self._new_session, sock=sock)
        else:
            self._server = await loop.create_server(self._new_session, self.host,
                                                    self._requested_port)
        log.info("EA bridge listening on %s:%d", self.host, self.port)

    @property
    def port(self) -> int:
        """The port actually bound (useful after asking for port 0)."""
        # read untyped: uvloop's Server.sockets is a list where the stubs say a tuple, which a
        # compiled build (mypyc) checks and refuses
        sockets: Any = None if self._server is None else getattr(self._server, "sockets")  # noqa: B009
        if not sockets:
            return self._requested_port
        return int(sockets[0].getsockname()[1])

    async def close(self) -> None:
        """Stop listening, tell every EA ``shutting_down``, fail calls in flight."""
        if self._server is not None:
            self._server.close()
        for session in list(self._all):
            session.close("shutting_down", "the daemon is shutting down")
        if self._server is not None:
            # Let the byes flush before the transports are torn down.
            await asyncio.sleep(0)
            await self._server.wait_closed()
            self._server = None

    # -- what the daemon uses --------------------------------------------------------------

    async def call(self, terminal: TerminalId, method: str, params: dict[str, Any],
                   timeout_s: float) -> Any:
        """Call ``method`` on the terminal's EA and return its result.

        Raises:
            TerminalNotConnected: no EA is connected for ``terminal``; nothing was sent.
            TerminalTimeout: a read got no answer within ``timeout_s``.
            TradeOutcomeUnknown: a trade's answer was lost (timeout or disconnect).
            TerminalDisconnected: the EA dropped while a read was in flight.
            EAError: the EA answered with an error code.
        """
        session = self._sessions.get((terminal.login, terminal.server))
        if session is None:
            raise not_connected(terminal)
        return await session.call(method, params, timeout_s)

    def route(self, terminal: TerminalId) -> TerminalSession | None:
        """The live session of ``terminal``, for a caller that checks it before calling
        (``session.info``) and then calls it (``session.call``, what :meth:`call` does): one
        look-up for both, where :meth:`session` then :meth:`call` hash the terminal twice."""
        return self._sessions.get((terminal.login, terminal.server))

    def session(self, terminal: TerminalId) -> SessionInfo | None:
        """The live session for ``terminal``, if any."""
        session = self._sessions.get((terminal.login, terminal.server))
        return session.info if session is not None else None

    def sessions(self) -> list[SessionInfo]:
        """Every live session."""
        return [s.info for s in self._sessions.values() if s.info is not None]

    async def wait_for_terminal(self, terminal: TerminalId, timeout_s: float) -> SessionInfo:
        """Wait until an EA for ``terminal`` has completed its handshake.

        Raises:
            TimeoutError: none did within ``timeout_s``.
        """
        async with asyncio.timeout(timeout_s):
            while True:
                info = self.session(terminal)
                if info is not None:
                    return info
                self._changed.clear()
                await self._changed.wait()

    async def wait_for_terminal_down(self, terminal: TerminalId, timeout_s: float, *,
                                     session_id: str | None = None) -> None:
        """Wait until no session is live for ``terminal``; given ``session_id``, until that
        session is not the live one (an EA that closed its socket is still live here until the
        daemon has read the close: whoever connects the terminal again next would otherwise
        see the old session and take it for its own).

        Raises:
            TimeoutError: one (that one) still was after ``timeout_s``.
        """
        async with asyncio.timeout(timeout_s):
            while (info := self.session(terminal)) is not None and (
                    session_id is None or info.session_id == session_id):
                self._changed.clear()
                await self._changed.wait()

    def disconnect(self, terminal: TerminalId, reason: str, message: str) -> bool:
        """Close the terminal's session, telling the EA why (e.g. ``token_revoked``).

        Returns whether there was a session to close.
        """
        session = self._sessions.get((terminal.login, terminal.server))
        if session is None:
            return False
        session.close(reason, message)
        return True

    # -- what sessions use -----------------------------------------------------------------

    def admit(self, session: TerminalSession) -> None:
        """A connection was opened: count it as pending its handshake, closing the oldest
        pending one when there are ``max_pending`` already."""
        pending = self._pending
        if len(pending) >= self.max_pending:
            oldest = next(iter(pending))
            del pending[oldest]
            self._pending_closed += 1
            if self._pending_closed % 1000 == 1:  # a flood is one line per thousand, not each
                log.warning("EA port: %d connections pending a handshake; closed the oldest "
                            "(%d so far)", self.max_pending, self._pending_closed)
            oldest.abort()
        pending[session] = None

    def register(self, session: TerminalSession, info: SessionInfo) -> bool:
        """Claim the terminal's slot; False when another live session holds it."""
        self._pending.pop(session, None)
        key = (info.terminal.login, info.terminal.server)
        if key in self._sessions:
            return False
        self._sessions[key] = session
        self._changed.set()
        return True

    def unregister(self, session: TerminalSession, info: SessionInfo | None,
                   reason: str) -> None:
        """Forget the session; release its slot (if it held one) and tell the listener."""
        self._all.discard(session)
        self._pending.pop(session, None)
        if info is not None and self._sessions.get(
                key := (info.terminal.login, info.terminal.server)) is session:
            del self._sessions[key]
            self._changed.set()
            self.listener.session_down(info, reason)

    def _new_session(self) -> TerminalSession:
        session = TerminalSession(self)
        self._all.add(session)
        return session


def not_connected(terminal: TerminalId) -> TerminalNotConnected:
    """What a call to ``terminal`` raises when no EA is connected for it."""
    return TerminalNotConnected(f"no terminal connected for {terminal}")


#: The names a loopback host is almost always given by, answered without parsing an address.
_LOOPBACK_LITERALS: Final = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) names this machine only: the bridge's
    "loopback unless allow_non_loopback" rule. This package imports nothing of ``gateway``, so
    it keeps its own; the daemon and the authority ask ``mtgateway_base.loopback``, and
    ``tests/test_shared_facts.py`` holds the two to the same answers."""
    if host in _LOOPBACK_LITERALS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
