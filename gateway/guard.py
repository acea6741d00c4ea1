"""Slow and greedy clients on the HTTP listener: connection budgets and a header deadline.

aiohttp has neither (``security.md``: no total header-read deadline, so slowloris protection is
ours), and a daemon that can place trades must not be starved by a client that opens sockets
and trickles bytes or parks idle keep-alive connections. Three parts:

* :class:`HeaderWatch` -- sans-I/O. Fed the bytes of one connection, it says when a request's
  header block is complete and when its body has arrived (by ``Content-Length``, or by
  following the chunked encoding to its last chunk and trailers), so the deadline is re-armed
  for the next request on a keep-alive connection. It stops watching only for a WebSocket
  upgrade (what follows is frames, not HTTP) or a chunk size it cannot read (aiohttp refuses
  that request and closes).
* :class:`ConnectionBudget` -- the open connections of one listening port (issue 8, item 10).
  At most ``max_connections`` per port and ``max_connections_per_peer`` per remote address.
  When a newcomer finds the budget spent, a connection that is doing no work for a token
  holder leaves for it, in this order: an idle keep-alive connection that never
  authenticated (idle longest first), a connection still sending its first header block
  without having authenticated (oldest first: a trickler), a connection that never
  authenticated with a request in progress (a body still arriving before its token is
  checked, a WebSocket still waiting for its first-message ``authenticate``; oldest first),
  then an idle authenticated one. Only a request or WebSocket on a connection that carried a
  valid token is never evicted (issue 16 F5: unauthenticated slow bodies and silent
  WebSockets once counted as working, so one local process locked every client out); only
  when every connection is such work is the newcomer refused with 503. So no number of
  sockets without a token keeps the owner's bots out, and those bots are the last to give up
  a slot.
* :class:`GuardedProtocol` -- wraps the per-connection protocol (aiohttp's, or the llhttp
  ``/rpc`` edge, which parses the requests itself and tells the guard where the stream stands
  (:class:`ParsesRequests`), so no second watch runs over its bytes): asks the budget to
  admit each connection, closes one whose headers are not complete within
  ``header_timeout_s`` of the request's first byte (or of the connection opening), and
  answers a request without exactly one ``Host`` header with 421 itself, before aiohttp's
  parser (which would say 400) sees the end of that header block.

* The port's :class:`~gateway.authority.edge.HostRefusals` (one ``gateway.security`` line
  per window for the 421 refusals), held by the budget so every path that refuses reports.

Which connections are working and which authenticated is told by the application
(``middleware.connection_middleware`` and the handlers), through :meth:`ConnectionBudget.find`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Final, Protocol, cast

from .authority.edge import HostRefusals
from .errors import MISDIRECTED, TOO_MANY_CONNECTIONS

__all__ = ["ConnectionBudget", "ConnectionLimits", "GuardedProtocol", "HeaderWatch",
           "ParsesRequests"]

log = logging.getLogger("gateway.guard")

_END_OF_HEADERS: Final = b"\r\n\r\n"
_CRLF: Final = b"\r\n"
#: aiohttp refuses longer header blocks anyway; past this we stop buffering and close.
_MAX_HEADER_BYTES: Final = 64 * 1024
#: A chunk-size line (with extensions) or a trailer line longer than this is refused.
_MAX_CHUNK_LINE: Final = 4096
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d{1,12})[ \t]*\r\n", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:[^\r\n]*chunked", re.IGNORECASE)
_UPGRADE = re.compile(rb"\r\nupgrade:", re.IGNORECASE)
_HOST = re.compile(rb"\r\nhost:", re.IGNORECASE)


#: Refusals made before aiohttp has parsed anything, as whole responses (decided in errors.py).
_MISDIRECTED_RESPONSE: Final = MISDIRECTED.raw()
_BUSY_RESPONSE: Final = TOO_MANY_CONNECTIONS.raw()


class HeaderWatch:
    """Tracks request boundaries on one connection's byte stream (no I/O, no clock).

    States: *idle* (between requests), *headers* (a request has started, headers incomplete),
    *body* (counting ``Content-Length`` bytes), *chunk-size*, *chunk-data* and *trailers*
    (following a chunked body), *off* (an upgrade, or a chunk size it cannot read).
    """

    __slots__ = ("_buffer", "_body_left", "state")

    def __init__(self) -> None:
        self.state = "idle"
        self._buffer = bytearray()
        self._body_left = 0

    @property
    def awaiting_headers(self) -> bool:
        """True while a request's header block is incomplete (the deadline applies)."""
        return self.state == "headers"

    def feed(self, data: bytes) -> list[bytes] | None:
        """Account for ``data``; returns the header blocks it completed (request line and
        headers), or None when a header block or chunk line is absurdly large."""
        heads: list[bytes] = []
        while data and self.state != "off":
            state = self.state
            if state == "idle":
                self.state = "headers"
            elif state == "headers":
                start = max(0, len(self._buffer) - 3)
                self._buffer += data
                end = self._buffer.find(_END_OF_HEADERS, start)
                if end < 0:
                    return heads if len(self._buffer) <= _MAX_HEADER_BYTES else None
                head = bytes(self._buffer[: end + 2])
                data = bytes(self._buffer[end + 4:])
                self._buffer.clear()
                heads.append(head)
                if _UPGRADE.search(head):
                    self.state = "off"
                    return heads
                if _CHUNKED.search(head):
                    self.state = "chunk-size"
                    continue
                match = _CONTENT_LENGTH.search(head)
                self._body_left = int(match.group(1)) if match else 0
                self.state = "body" if self._body_left else "idle"
            elif state == "body" or state == "chunk-data":
                taken = min(self._body_left, len(data))
                self._body_left -= taken
                data = data[taken:]
                if self._body_left == 0:
                    self.state = "idle" if state == "body" else "chunk-size"
            else:  # chunk-size or trailers: one CRLF-terminated line at a time
                line, data = self._line(data)
                if line is None:
                    return heads if len(self._buffer) <= _MAX_CHUNK_LINE else None
                if state == "trailers":
                    if not line:  # the empty line ends the trailer section and the request
                        self.state = "idle"
                    continue
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    self.state = "off"  # aiohttp refuses the request and closes
                    return heads
                if size == 0:
                    self.state = "trailers"
                else:
                    self._body_left = size + 2  # the chunk and its CRLF
                    self.state = "chunk-data"
        return heads

    def _line(self, data: bytes) -> tuple[bytes | None, bytes]:
        """One CRLF-terminated line from the buffer plus ``data``, and the bytes after it."""
        start = max(0, len(self._buffer) - 1)
        self._buffer += data
        end = self._buffer.find(_CRLF, start)
        if end < 0:
            return None, b""
        line = bytes(self._buffer[:end])
        rest = bytes(self._buffer[end + 2:])
        self._buffer.clear()
        return line, rest


class ParsesRequests(Protocol):
    """An inner protocol that parses the requests itself (``rpcedge.RpcEdge``): the guard
    reads where it stands instead of running a :class:`HeaderWatch` over every chunk, until
    it hands the connection on (:meth:`GuardedProtocol.watch_from`)."""

    @property
    def watch_state(self) -> str:
        """A :class:`HeaderWatch` state: ``idle``, ``headers``, ``body`` or ``off``."""
        ...


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """The listener's limits (``[server]`` config: ``max_connections``,
    ``max_connections_per_peer``, ``header_timeout_s``)."""

    max_connections: int
    header_timeout_s: float
    max_connections_per_peer: int | None = None


class ConnectionBudget:
    """The open connections of one listening port: who is admitted, and who leaves for them.

    Connections are kept in arrival order; choosing whom to evict walks them (a few hundred at
    most, and only when the budget is spent).
    """

    def __init__(self, limits: ConnectionLimits, host_refusals: HostRefusals | None = None
                 ) -> None:
        self.limits = limits
        #: The port's 421 log (the listener, the middleware and the protocol report to it).
        self.host_refusals = host_refusals or HostRefusals()
        self._open: dict[GuardedProtocol, None] = {}
        self._by_transport: dict[object, GuardedProtocol] = {}
        #: Connections admitted and not evicted, in all and by peer.
        self.active = 0
        self._per_peer: dict[str, int] = {}

    def find(self, transport: object) -> GuardedProtocol | None:
        """The guarded connection of ``transport`` (a request's), or None."""
        return self._by_transport.get(transport)

    def admit(self, conn: GuardedProtocol) -> bool:
        """Admit ``conn``, evicting an idle or unfinished connection if the budget is spent;
        False when every connection is working (refuse the newcomer)."""
        limits = self.limits
        per_peer = limits.max_connections_per_peer
        if per_peer is not None and self._per_peer.get(conn.peer, 0) >= per_peer:
            if not self._evict(conn.peer):
                log.warning("connection from %s refused: its %d connections are all working",
                            conn.peer, per_peer)
                return False
        elif self.active >= limits.max_connections and not self._evict(None):
            log.warning("connection refused: all %d connections are working",
                        limits.max_connections)
            return False
        if len(self._open) >= 2 * limits.max_connections:
            return False  # evicted ones still closing: the file descriptors are the limit
        self._open[conn] = None
        self._by_transport[conn.transport] = conn
        self._count(conn, 1)
        return True

    def release(self, conn: GuardedProtocol) -> None:
        """``conn`` is closed."""
        if conn in self._open:
            del self._open[conn]
            self._by_transport.pop(conn.transport, None)
            if not conn.evicting:
                self._count(conn, -1)

    def _count(self, conn: GuardedProtocol, delta: int) -> None:
        self.active += delta
        left = self._per_peer.get(conn.peer, 0) + delta
        if left:
            self._per_peer[conn.peer] = left
        else:
            del self._per_peer[conn.peer]

    def _evict(self, peer: str | None) -> bool:
        """Evict the connection that should leave first (of ``peer`` only, if given)."""
        best: GuardedProtocol | None = None
        best_key: tuple[int, float] | None = None
        for conn in self._open:
            if conn.evicting or (peer is not None and conn.peer != peer):
                continue
            rank = conn.eviction_rank()
            if rank is None:
                continue
            key = (rank, conn.since)
            if best_key is None or key < best_key:
                best, best_key = conn, key
        if best is None:
            return False
        best.evict()
        self._count(best, -1)
        return True


class GuardedProtocol(asyncio.Protocol):
    """Forwards everything to aiohttp's protocol, within the budget and the header deadline.

    ``busy`` (requests in progress, the middleware's count) and ``authenticated`` are set by
    the application; the rest is this connection's own view of its byte stream.
    """

    def __init__(self, inner: asyncio.Protocol, budget: ConnectionBudget,
                 parser: ParsesRequests | None = None) -> None:
        """``parser``: ``inner`` itself when it parses the requests (no watch while it does);
        it refuses a request without exactly one Host through :meth:`misdirected`."""
        self._inner = inner
        self._parser = parser
        self._budget = budget
        self._limits = budget.limits
        self._watch = HeaderWatch()
        self._timer: asyncio.TimerHandle | None = None
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self._admitted = False
        #: Until the first byte, the deadline also covers an opened-but-silent connection.
        self._fresh = True
        self.busy = 0
        self.authenticated = False
        self.evicting = False
        #: Loop time of arrival, or of becoming idle: the eviction order within a rank.
        self.since = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing asyncio.Transport
        # (an isinstance check here once kept every 421 and 503 from being written on uvloop).
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if isinstance(peer, tuple) else str(peer)
        self.since = asyncio.get_running_loop().time()
        if not self._budget.admit(self):
            self.transport.write(_BUSY_RESPONSE)
            self.transport.close()
            return
        self._admitted = True
        self._inner.connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if not self._admitted:
            return
        self._fresh = False
        watch = self._watch
        was_idle = not watch.awaiting_headers
        if self._parser is not None:  # the inner protocol knows where each header block ends
            self._inner.data_received(data)
            if self._parser is None:  # it handed the connection on: watch_from took over
                return
            watch.state = self._parser.watch_state
        elif not self._watched(data):
            return
        if watch.awaiting_headers:
            if was_idle:
                self._arm()
        else:
            self._disarm()
        if self._parser is None:
            self._inner.data_received(data)

    def watch_from(self, data: bytes) -> bool:
        """The inner protocol stops parsing: watch the stream from ``data`` (the bytes from the
        start of a request on) as for any connection; False when that closed it."""
        self._parser = None
        self._watch = HeaderWatch()
        if not self._watched(data):
            return False
        if self._watch.awaiting_headers:
            self._arm()  # from now: the bytes handed on end inside a header block
        else:
            self._disarm()
        return True

    def _watched(self, data: bytes) -> bool:
        """Feed the watch; False when the connection was closed for what it saw."""
        heads = self._watch.feed(data)
        if heads is None:
            self._close("header block too large")
            return False
        if any(len(_HOST.findall(head)) != 1 for head in heads):
            self.misdirected()
            return False
        return True

    def misdirected(self) -> None:
        """Answer 421 for a request without exactly one Host header and close."""
        self._disarm()
        self._budget.host_refusals.note(None, self.peer)
        if self.transport is not None:
            self.transport.write(_MISDIRECTED_RESPONSE)
        self._close("request without exactly one Host header")

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._admitted else None

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._admitted:
            self._admitted = False
            self._budget.release(self)
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    # -- told by the application ------------------------------------------------------------

    def request_started(self) -> None:
        self.busy += 1

    def request_finished(self) -> None:
        self.busy -= 1
        if not self.busy:
            self.since = asyncio.get_running_loop().time()

    # -- the budget's view ------------------------------------------------------------------

    def eviction_rank(self) -> int | None:
        """0 idle and never authenticated, 1 still sending a first header block without
        having authenticated, 2 a request or WebSocket in progress that never authenticated,
        3 idle and authenticated; None: work for a token holder, never evicted."""
        if self.busy:
            return None if self.authenticated else 2
        unfinished = self._fresh or self._watch.awaiting_headers
        idle = not unfinished and self._watch.state == "idle"
        if self.authenticated:
            return 3 if idle else None
        if idle:
            return 0
        return 1 if unfinished else None

    def evict(self) -> None:
        """Close this connection for a newcomer: it is doing no work for a token holder (no
        request in progress, a response, if any, written before ``busy`` dropped; or a
        request or WebSocket that never showed a valid token, cut off mid-way)."""
        self.evicting = True
        log.info("evicting a connection from %s for a newcomer (%s)", self.peer,
                 "unauthenticated request or WebSocket" if self.busy
                 else "unfinished headers" if self._fresh or self._watch.awaiting_headers
                 else "idle")
        self._disarm()
        if self.transport is not None:
            self.transport.close()

    # -- the header deadline ------------------------------------------------------------------

    def _arm(self) -> None:
        self._disarm()
        self._timer = asyncio.get_running_loop().call_later(self._limits.header_timeout_s,
                                                            self._on_deadline)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_deadline(self) -> None:
        self._timer = None
        if self._fresh or self._watch.awaiting_headers:
            self._close("request headers not received in time")

    def _close(self, why: str) -> None:
        log.warning("closing a slow HTTP connection: %s", why)
        if self.transport is not None:
            self.transport.close()
