"""Slow and greedy clients on an HTTP listener: connection budgets, header and body deadlines.

aiohttp has none of them (no total header-read deadline, so slowloris protection is ours;
``docs/security.md``, "Connections"), and neither a daemon that can place trades nor the console
that issues its tokens may be starved by a client that opens sockets and trickles bytes or parks
idle keep-alive connections. Both processes serve through this one module, on the ground floor
they share (``mtgateway_base``), each with its own refusal answers (the daemon's from its error
table, ``app.py``; the console's, ``console.py``). The parts:

* :class:`HeaderWatch` -- sans-I/O. Fed the bytes of one connection, it says when a request's
  header block is complete and when its body has arrived (by ``Content-Length``, or by
  following the chunked encoding to its last chunk and trailers), so the deadline is re-armed
  for the next request on a keep-alive connection. A request that asks to switch protocols
  (``Upgrade:``) is followed like any other, and what comes after it is kept unread until the
  server has answered it: a ``101 Switching Protocols`` written (:func:`note_switch`, on the
  application's ``on_response_prepare``) stops the watch, since frames follow, not HTTP; any
  other answer makes it an ordinary connection again, the kept bytes read as the next
  requests (as aiohttp's parser does). A header in a request switches nothing off: once any
  ``Upgrade:`` stopped the watch for good, and a credential holder's trickled requests behind
  one held every connection again. It stops watching too at a chunk size it cannot read
  (aiohttp refuses that request and closes).
* :class:`ConnectionBudget` -- the open connections of one listening port.
  At most ``max_connections`` per port and ``max_connections_per_peer`` per remote address
  (an IPv6 address counts by its /64: ``fairshare.address_key``). When a newcomer finds the
  budget spent, a connection that is doing no work for a token holder leaves for it, in this
  order: an idle keep-alive connection that never authenticated (idle longest first), a
  connection whose header block is still arriving (oldest first: a trickler), one whose body
  is still arriving or that never authenticated with a request in progress (a WebSocket still
  waiting for its first-message ``authenticate``; oldest first), then an idle authenticated
  one, then an answer a credential holder is held open for that the application said may end
  (:func:`mark_held`: the console's live-page streams, then its revocation long-polls; oldest
  first). A request still arriving is never protected, whoever's connection it is on: a
  credential shown once on a keep-alive connection once made every later request on it, its
  header block or body trickled, work never evicted, and one signed-in session held every
  connection of the console (``mtgateway_console.fairshare``). Only a request, whole,
  in progress, or a WebSocket, on a connection that carried a valid token is never evicted
  (unauthenticated slow bodies and silent WebSockets once counted as working, so one local
  process locked every client out; held streams once counted as working, so one signed-in
  page session locked every client out); only when every connection is such work is the
  newcomer refused with 503. So no number of sockets without a token, nor of streams, nor of
  a token holder's unfinished requests, keeps the owner's bots out, and those bots are the
  last to give up a slot.
* :class:`GuardedProtocol` -- wraps the per-connection protocol (aiohttp's), or admits the
  connection and steps out of the data path for one that parses the requests itself (the
  llhttp ``/rpc`` edge: ``transport.set_protocol``, and the edge tells the guard where its
  stream stands, so no second watch runs over its bytes): asks the budget to admit each
  connection, closes one whose headers are not complete within
  ``header_timeout_s`` of the request's first byte (or of the connection opening), with
  ``body_timeout_s`` set also one whose body has not arrived that long after its headers,
  and answers a request without exactly one ``Host`` header with 421 itself, before
  aiohttp's parser (which would say 400) sees the end of that header block.
* **Behind a reverse proxy** (the budget's ``proxies``: ``[console] trusted_proxies``) a
  connection from a configured proxy is admitted only once the PROXY header it begins with
  is read (``proxyheader.py``), as the client the header names: its address is
  :attr:`GuardedProtocol.peer`, counted against ``max_connections_per_peer`` and in the
  order of evictions, and every per-address bound of the application reads it (the
  console's door makes it the request's ``remote``). Without one in time, or with bytes
  that are not one, the connection is closed; from any other address nothing is read so.
* :class:`GuardedSite` -- an aiohttp site (the public ``BaseSite`` extension point) whose
  connections pass through the guard, over TLS when given a context; on uvloop it accepts
  each burst until ``EAGAIN`` itself (``accepts.py``).

* The port's :class:`~mtgateway_base.edge.HostRefusals` (one ``gateway.security`` line
  per window for the 421 refusals), held by the budget so every path that refuses reports,
  and its :class:`Refusals`: the whole 421 and 503 answers in the serving process's own error
  shape (the daemon's JSON-RPC error table, the console's ``{"error": ...}``).

Which connections are working and which authenticated is told by the application (the
console through :func:`work_middleware`, the daemon in ``edge/listener.rpc_fast_path``, both
through :func:`serve_as_work`; a valid credential through :func:`mark_authenticated`, the one
function both processes mark with, finding a request's connection under the one key
:data:`BUDGET`; an answer held open that may end for a newcomer through :func:`mark_held`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import ssl
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Final, TypeVar, cast

from aiohttp import web

from .accepts import AcceptingServer, accepts_one_per_pass
from .edge import HostRefusals
from .fairshare import address_key
from .proxyheader import ProxyHeaderError, TrustedProxies, read_header

__all__ = ["BUDGET", "ConnectionBudget", "ConnectionLimits", "GuardedProtocol", "GuardedSite",
           "HeaderWatch", "Refusals", "connection_of", "mark_authenticated", "mark_held",
           "note_switch", "raw_response", "serve_as_work", "work_middleware"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_Req = TypeVar("_Req", bound=web.BaseRequest)

log = logging.getLogger(__name__)

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
#: How long a refused connection stays half-closed after its 503 (what the peer sends is
#: read and dropped) before it is closed: closing a socket holding unread bytes sends RST,
#: and a peer whose request arrived before the refusal would lose the 503 to it.
REFUSAL_LINGER_S: Final = 2.0
#: Refused connections of one address lingering at once (:meth:`ConnectionBudget.start_lingering`);
#: past it its refusals close at once.
LINGERING_PER_PEER: Final = 8
#: :class:`HeaderWatch` states in which a request body is still arriving.
_BODY_STATES: Final = frozenset({"body", "chunk-size", "chunk-data", "trailers"})


@dataclass(frozen=True, slots=True)
class Refusals:
    """The guard's own answers, written before aiohttp has parsed anything: whole HTTP
    responses, each closing the connection, in the serving process's error shape."""

    #: 421: a request without exactly one ``Host`` header.
    misdirected: bytes
    #: 503: a newcomer when every connection is working.
    busy: bytes
    #: 400: a connection from a configured proxy whose first bytes are not a PROXY header
    #: (``proxyheader.py``); empty: closed without an answer.
    unproxied: bytes = b""


def raw_response(status: int, reason: str, body: bytes) -> bytes:
    """A whole HTTP/1.1 JSON response that closes the connection (for :class:`Refusals`)."""
    return (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode("latin-1") + body


class HeaderWatch:
    """Tracks request boundaries on one connection's byte stream (no I/O, no clock).

    States: *idle* (between requests), *headers* (a request has started, headers incomplete),
    *body* (counting ``Content-Length`` bytes), *chunk-size*, *chunk-data* and *trailers*
    (following a chunked body), *upgrade* (a request that asked to switch protocols is whole:
    what follows is kept unread until :meth:`switched` or :meth:`declined`), *off* (switched
    protocols, or a chunk size it cannot read).
    """

    __slots__ = ("_buffer", "_body_left", "_upgrade", "state")

    def __init__(self) -> None:
        self.state = "idle"
        self._buffer = bytearray()
        self._body_left = 0
        #: The request being followed asked to switch protocols.
        self._upgrade = False

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
            if state == "upgrade":  # kept unread until the server has answered the request
                self._buffer += data
                return heads if len(self._buffer) <= _MAX_HEADER_BYTES else None
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
                self._upgrade = _UPGRADE.search(head) is not None
                if _CHUNKED.search(head):
                    self.state = "chunk-size"
                    continue
                match = _CONTENT_LENGTH.search(head)
                self._body_left = int(match.group(1)) if match else 0
                self.state = "body" if self._body_left else self._whole()
            elif state == "body" or state == "chunk-data":
                taken = min(self._body_left, len(data))
                self._body_left -= taken
                data = data[taken:]
                if self._body_left == 0:
                    self.state = self._whole() if state == "body" else "chunk-size"
            else:  # chunk-size or trailers: one CRLF-terminated line at a time
                line, data = self._line(data)
                if line is None:
                    return heads if len(self._buffer) <= _MAX_CHUNK_LINE else None
                if state == "trailers":
                    if not line:  # the empty line ends the trailer section and the request
                        self.state = self._whole()
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

    def _whole(self) -> str:
        """The state after a whole request: *upgrade* when it asked to switch protocols
        (the server has not said yet whether it does), else *idle*."""
        return "upgrade" if self._upgrade else "idle"

    def switched(self) -> None:
        """The server switched protocols (a ``101`` written): what follows is not HTTP."""
        self.state = "off"
        self._buffer.clear()

    def declined(self) -> list[bytes] | None:
        """The server answered the request that asked to switch protocols without switching:
        the connection is ordinary HTTP again, and the bytes kept since are read as the next
        requests (the header blocks they complete, or None as :meth:`feed`); nothing to do
        in another state."""
        if self.state != "upgrade":
            return []
        self.state, self._upgrade = "idle", False
        kept = bytes(self._buffer)
        self._buffer.clear()
        return self.feed(kept)

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


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """The listener's limits (the ``[server]`` or ``[console]`` keys of the same names:
    ``max_connections``, ``max_connections_per_peer``, ``header_timeout_s``,
    ``body_timeout_s``). ``body_timeout_s`` None: the application enforces its own body
    deadline (the daemon answers 408 from its handlers); set, the guard closes a connection
    whose request body has not fully arrived that long after its header block."""

    max_connections: int
    header_timeout_s: float
    max_connections_per_peer: int | None = None
    body_timeout_s: float | None = None


class ConnectionBudget:
    """The open connections of one listening port: who is admitted, and who leaves for them.

    Who leaves first is the lowest :meth:`GuardedProtocol.eviction_rank`, the longest in that
    state first. Choosing walks only the connections that can be chosen: those that never
    showed a credential and the credential holders' whose request is still arriving (ranks 0
    to 2: a few in normal operation), then the credential holders' idle ones, in the order
    they went idle (rank 3: the first that is still idle is the one), then their held answers
    that may end, in the order they were held (rank 4, then 5).
    The held work of credential holders, the bulk of a console serving thousands
    of daemons (each holds a long-poll), is never walked: a walk of every connection on each
    admission grew with the fleet, to a large share of the console's loop near its budget
    (``docs/performance.md``), and as much again for each connection a flood opens once the
    budget is spent. A peer over its own bound walks its own connections only.
    """

    def __init__(self, limits: ConnectionLimits, refusals: Refusals,
                 host_refusals: HostRefusals | None = None, *,
                 proxies: TrustedProxies | None = None) -> None:
        self.limits = limits
        self.refusals = refusals
        #: The reverse proxies whose connections begin with a PROXY header naming their
        #: client (``proxyheader.py``): such a connection is admitted, counted and evicted
        #: as that client's. None: no connection's first bytes are read so.
        self.proxies = proxies if proxies else None
        #: The port's 421 log (the listener, the middleware and the protocol report to it).
        self.host_refusals = host_refusals or HostRefusals()
        self._open: dict[GuardedProtocol, None] = {}
        self._by_transport: dict[object, GuardedProtocol] = {}
        #: Connections admitted and not evicted, in all and by peer.
        self.active = 0
        self._per_peer: dict[str, dict[GuardedProtocol, None]] = {}
        #: Of those: the ones that never showed a credential, in arrival order.
        self._unproven: dict[GuardedProtocol, None] = {}
        #: And the credential holders' with no request in progress, in the order they went
        #: idle.
        self._idle_holders: dict[GuardedProtocol, None] = {}
        #: And theirs whose next request is still arriving (a header block or a body not yet
        #: whole: never protected work), in the order they started.
        self._arriving: dict[GuardedProtocol, None] = {}
        #: And theirs whose request in progress is an answer held open that may end
        #: (:func:`mark_held`), in the order they were held: the live streams, then the
        #: long-polls (held ``last``).
        self._held: dict[GuardedProtocol, None] = {}
        self._held_last: dict[GuardedProtocol, None] = {}
        #: Refused connections half-closed, waiting for their peer's FIN (each a descriptor),
        #: in all and per address.
        self.lingering = 0
        self._lingering_peers: Counter[str] = Counter()

    def find(self, transport: object) -> GuardedProtocol | None:
        """The guarded connection of ``transport`` (a request's), or None."""
        return self._by_transport.get(transport)

    def connections(self) -> list[GuardedProtocol]:
        """The admitted connections still open, in arrival order."""
        return list(self._open)

    def admit(self, conn: GuardedProtocol) -> bool:
        """Admit ``conn``, evicting an idle or unfinished connection if the budget is spent;
        False when every connection is working (refuse the newcomer)."""
        limits = self.limits
        per_peer = limits.max_connections_per_peer
        if per_peer is not None and len(self._per_peer.get(conn.peer_key, ())) >= per_peer:
            if not self._evict(conn.peer_key):
                log.warning("connection from %s refused: its %d connections are all working",
                            conn.peer, per_peer)
                return False
        elif self.active >= limits.max_connections and not self._make_room(conn.peer_key):
            log.warning("connection from %s refused: all %d connections are working, or its "
                        "address holds its share of them", conn.peer, limits.max_connections)
            return False
        if len(self._open) + self.lingering >= 2 * limits.max_connections:
            return False  # evicted or refused ones still closing: the descriptors are the limit
        self._open[conn] = None
        self._by_transport[conn.transport] = conn
        self.active += 1
        self._per_peer.setdefault(conn.peer_key, {})[conn] = None
        if not conn.authenticated:
            self._unproven[conn] = None
        return True

    def start_lingering(self, peer_key: str = "") -> bool:
        """Whether one more refused connection may linger (their descriptors are bounded with
        the closing ones: at most ``max_connections`` at once, and
        :data:`LINGERING_PER_PEER` of one address's, so one address refused over and over
        cannot fill them and have everyone refused); count it if so."""
        if self.lingering >= self.limits.max_connections \
                or self._lingering_peers[peer_key] >= LINGERING_PER_PEER:
            return False
        self.lingering += 1
        self._lingering_peers[peer_key] += 1
        return True

    def stop_lingering(self, peer_key: str = "") -> None:
        """A lingering refused connection is closed."""
        self.lingering -= 1
        self._lingering_peers[peer_key] -= 1
        if self._lingering_peers[peer_key] <= 0:
            del self._lingering_peers[peer_key]

    def _make_room(self, peer_key: str) -> bool:
        """The budget is spent: make room for a newcomer from ``peer_key``. An address that
        already holds its share of the budget (the budget over the addresses present) gives
        up one of its own idle connections, or is refused; any other takes the place of a
        connection doing no protected work, the address holding the most first (the fair
        share: a flood's own reconnections no longer cut a fair caller's
        request on its way in, nor churn through everyone's places)."""
        return self._evict(None)

    def release(self, conn: GuardedProtocol) -> None:
        """``conn`` is closed."""
        if conn in self._open:
            del self._open[conn]
            self._by_transport.pop(conn.transport, None)
            if not conn.evicting:
                self._uncount(conn)

    def _uncount(self, conn: GuardedProtocol) -> None:
        """``conn`` no longer holds a place (closed, or evicted): out of every walk."""
        self.active -= 1
        mine = self._per_peer[conn.peer_key]
        del mine[conn]
        if not mine:
            del self._per_peer[conn.peer_key]
        # (each walk it can be in: one ``pop`` each, a built-in call)
        self._unproven.pop(conn, None)
        self._arriving.pop(conn, None)
        self._idle_holders.pop(conn, None)
        if conn.held:
            self._held.pop(conn, None)
            self._held_last.pop(conn, None)

    def proven(self, conn: GuardedProtocol) -> None:
        """``conn`` showed a credential (:meth:`GuardedProtocol.authenticate`)."""
        self._unproven.pop(conn, None)
        if conn.evicting or conn not in self._open:
            return
        if conn._told_arriving:  # (its request arriving, as it last told the budget)
            self._arriving[conn] = None
        elif not conn.busy:
            self._idle_holders[conn] = None

    def arrives(self, conn: GuardedProtocol, arriving: bool) -> None:
        """A credential holder's ``conn`` started (or finished) receiving a request: while
        it arrives it is not protected work (walked with the connections that never showed
        a credential)."""
        if not arriving:
            self._arriving.pop(conn, None)
        elif not conn.evicting and conn in self._open:
            self._arriving[conn] = None

    def working(self, conn: GuardedProtocol) -> None:
        """A request started on ``conn``."""
        self._idle_holders.pop(conn, None)

    def holding(self, conn: GuardedProtocol, held: bool) -> None:
        """``conn``'s request in progress is (or, ``held`` False, no longer is) an answer held
        open that may end for a newcomer."""
        if not held:
            self._held.pop(conn, None)
            self._held_last.pop(conn, None)
        elif not conn.evicting and conn in self._open:
            (self._held_last if conn.held_last else self._held)[conn] = None

    def idle(self, conn: GuardedProtocol) -> None:
        """``conn`` has no request in progress any more (a holder's goes to the back)."""
        if conn.authenticated and not conn.evicting and conn in self._open:
            self._idle_holders.pop(conn, None)
            self._idle_holders[conn] = None

    def _evict(self, peer: str | None, *, idle_only: bool = False) -> bool:
        """Evict the connection that should leave first (of ``peer`` only, if given;
        ``idle_only``: an idle one, or none)."""
        best: GuardedProtocol | None = None
        best_key: tuple[int, int, int, float] | None = None
        walks = (self._unproven, self._arriving) if peer is None \
            else (self._per_peer.get(peer, {}),)
        per_peer = self._per_peer
        for walk in walks:
            for conn in walk:
                rank = conn.eviction_rank()
                if rank is None or (idle_only and rank not in (0, 3)):
                    continue
                # an idle connection first (no work is lost); then, of the work in flight
                # that is not protected, the address holding the most connections gives
                # up one (the fair share: a flood's churn takes its own places, not a fair
                # caller's request on its way in), the lowest rank, the oldest
                key = (0, 0, rank, conn.since) if rank == 0 or peer is not None else \
                    (1, -len(per_peer[conn.peer_key]), rank, conn.since)
                if best_key is None or key < best_key:
                    best, best_key = conn, key
        for walk, wanted in ((self._idle_holders, 3), (self._held, 4), (self._held_last, 5)):
            if best is not None or peer is not None:
                break
            for conn in walk:  # in the order they went idle, or were held
                if conn.eviction_rank() == wanted:
                    best = conn
                    break
        if best is None:
            return False
        best.evict()
        self._uncount(best)
        return True


class GuardedProtocol(asyncio.Protocol):
    """One connection within the budget and the deadlines: the transport's protocol while it
    watches the stream for an inner protocol that does not parse for it (aiohttp's), or only
    the connection's record when the inner protocol parses the requests itself.

    ``busy`` (requests in progress, the middleware's count) and ``authenticated`` are set by
    the application; the rest is this connection's own view of its byte stream.

    With ``parses`` (the llhttp ``/rpc`` edge), the guard admits the connection and steps out
    of the data path: ``transport.set_protocol(inner)``, as uvicorn's protocol hands an
    upgraded connection on. The inner protocol then tells the guard where its stream stands
    (:meth:`stream_at`), that it closed (:meth:`closed`), and at a hand-off gives the
    transport back with the next protocol (:meth:`take_back`), which the guard watches as it
    watches aiohttp's. The guard never calls the inner protocol after ``connection_made``. (A
    parsing inner protocol holds its requests to the Host rule itself, as the daemon's ladder
    of refusals does for the llhttp edge.)
    """

    def __init__(self, inner: asyncio.Protocol, budget: ConnectionBudget, *,
                 parses: bool = False) -> None:
        self._inner = inner
        self._parses = parses
        self._budget = budget
        #: The loop it is made on (looked up once: ``asyncio.get_running_loop`` asks the
        #: system for the process id on every call, on CPython before 3.12).
        self._loop = asyncio.get_running_loop()
        self._limits = budget.limits
        self._watch = HeaderWatch()
        self._timer: asyncio.TimerHandle | None = None
        #: What the armed deadline waits for: "open" (a first byte), "headers", "body" or ""
        #: (nothing).
        self._phase = ""
        self.transport: asyncio.Transport | None = None
        #: The client: the peer's address, or, on a configured proxy's connection, the
        #: address its PROXY header named (``proxyheader.py``).
        self.peer = "?"
        #: What the peer counts as against ``max_connections_per_peer`` (an IPv6 /64:
        #: ``fairshare.address_key``).
        self.peer_key = "?"
        #: The configured proxy the connection came through (its own address), once its
        #: PROXY header is read; None: a client's own connection.
        self.proxy: str | None = None
        #: The bytes of a configured proxy's connection while its PROXY header is awaited
        #: (the connection is admitted once it is read); None otherwise.
        self._header: bytearray | None = None
        self._admitted = False
        #: Until the first byte, the deadline also covers an opened-but-silent connection.
        self._fresh = True
        self.busy = 0
        #: Requests whose header block has arrived and whose handler has not started yet
        #: (the application's parser and task in between): not idle.
        self._unstarted = 0
        self.authenticated = False
        #: The request in progress is an answer held open that may end (:func:`mark_held`);
        #: ``held_last``: after every other (a long-poll the client re-opens by itself).
        self.held = False
        self.held_last = False
        #: Whether a request is arriving (its header block or body not whole yet), as last
        #: told to the budget.
        self._told_arriving = True
        self.evicting = False
        #: Refused, half-closed, dropping what the peer still sends (:meth:`_refuse`).
        self._lingering = False
        #: Loop time of arrival, or of becoming idle: the eviction order within a rank.
        self.since = 0.0

    @property
    def inner(self) -> asyncio.Protocol:
        """The protocol the connection is served by (the transport's own, with ``parses``)."""
        return self._inner

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Admit the connection (or refuse it 503), as its peer's; a configured proxy's
        connection is admitted once its PROXY header is read (:meth:`_read_header`, which
        runs this again), as the client the header names."""
        # uvloop's transports implement the interface without subclassing asyncio.Transport
        # (an isinstance check here once kept every 421 and 503 from being written on uvloop;
        # typed so without ``typing.cast``, which would run on every connection).
        self.transport = transport  # type: ignore[assignment]
        if self.proxy is None:  # (once named by a proxy: the client is known already)
            peer = transport.get_extra_info("peername")
            self.peer = str(peer[0]) if isinstance(peer, tuple) else str(peer)
            proxies = self._budget.proxies
            if proxies is not None and proxies.trusts(self.peer):
                # not admitted, nor counted, until the header says whose it is; within the
                # header deadline (:meth:`_on_deadline`)
                self._header = bytearray()
                self._timer = self._loop.call_later(self._limits.header_timeout_s,
                                                    self._on_deadline)
                return
        self.peer_key = address_key(self.peer)
        self.since = self._loop.time()
        if not self._budget.admit(self):
            self._refuse()
            return
        self._admitted = True
        if self._parses:  # the inner protocol reads the bytes itself from now on
            transport.set_protocol(self._inner)
        self._inner.connection_made(transport)
        # The header deadline covers a connection that stays silent (re-armed at its first
        # byte, when its phase becomes "headers"; disarmed if that byte brings a whole
        # request: a timer cancelled, not one left to fire for nothing on every connection).
        self._phase = "open"
        self._timer = self._loop.call_later(self._limits.header_timeout_s, self._on_deadline)

    def data_received(self, data: bytes) -> None:
        if not self._admitted:
            if self._header is not None:
                self._read_header(data)
            return  # (refused: lingering, what the peer sends is dropped)
        if not self._watched(data):
            return
        self._fresh = False
        self._follow()
        self._inner.data_received(data)

    def _read_header(self, data: bytes) -> None:
        """A configured proxy's connection sent ``data`` before its PROXY header was read:
        once it is whole, the connection is admitted as the client it names (the proxy's
        own address for a health check's), and the bytes after it are the connection's;
        bytes that are not one close it (400 when the serving process has that answer)."""
        header = self._header
        assert header is not None and self.transport is not None  # noqa: S101 - awaited
        header += data
        try:
            found = read_header(header)
        except ProxyHeaderError as exc:
            self._header = None
            self._disarm()
            _note_unproxied(self.peer, str(exc))
            if self._budget.refusals.unproxied:
                self.transport.write(self._budget.refusals.unproxied)
            self.transport.close()
            return
        if found is None:
            return  # (at most 64 KiB and the header deadline: the proxy's own connection)
        self._header = None
        self._disarm()
        self.proxy = self.peer
        if found.client is not None:
            self.peer = found.client
        self.connection_made(self.transport)
        rest = bytes(header[found.length:])
        if rest and self._admitted:
            # (with ``parses`` the inner protocol is the transport's now: it is given them)
            (self._inner if self._parses else self).data_received(rest)

    def stream_at(self, state: str) -> None:
        """A parsing inner protocol read bytes: its stream stands in ``state`` (a
        :class:`HeaderWatch` state: ``idle``, ``headers``, ``body`` or ``off``)."""
        # (:meth:`_follow` and its ``_disarm`` in place: told on every connection's first bytes)
        self._fresh = False
        self._watch.state = state
        limits = self._limits
        phase = ("headers" if state == "headers"
                 else "body" if limits.body_timeout_s is not None
                 and state in _BODY_STATES else "")
        if phase != self._phase:
            self._phase = phase
            if phase == "headers":
                self._arm(limits.header_timeout_s)
            elif phase == "body":
                self._arm(cast(float, limits.body_timeout_s))
            elif self._timer is not None:
                self._timer.cancel()
                self._timer = None
        arriving = state == "headers" or state in _BODY_STATES  # (no longer fresh)
        if arriving != self._told_arriving:
            self._told_arriving = arriving
            if arriving:
                self.since = self._loop.time()
            if self.authenticated:
                self._budget.arrives(self, arriving)

    def take_back(self, make: Callable[[], asyncio.Protocol], data: bytes) -> bool:
        """A parsing inner protocol hands the connection on: the guard becomes the transport's
        protocol again, with ``make()`` inside, and watches the stream from ``data`` (the bytes
        from the start of a request on) as for any connection; False when what it saw closed
        the connection (then nothing was made)."""
        assert self.transport is not None  # noqa: S101 - admitted: connection_made ran
        self._watch = HeaderWatch()
        if not self._watched(data):
            return False
        self._parses = False
        self._phase = ""  # from now: the bytes handed on end inside a header block or body
        self._follow()
        inner = self._inner = make()
        self.transport.set_protocol(self)
        inner.connection_made(self.transport)
        if data:
            inner.data_received(data)
        return True

    def _follow(self) -> None:
        """Follow the stream into the state its watch stands in: arm the deadline of the
        phase it entered (a request's first byte starts the header deadline, the end of its
        headers the body deadline), or disarm; and tell the budget when a credential
        holder's request starts or stops arriving (it is then walked with the connections
        that showed none; the arrival orders the evictions within a rank, the request
        arriving longest leaving first). :meth:`stream_at` holds these steps in place: a
        change here is made there too."""
        state = self._watch.state
        phase = ("headers" if state == "headers"
                 else "body" if self._limits.body_timeout_s is not None
                 and state in _BODY_STATES else "")
        if phase != self._phase:
            self._phase = phase
            if phase == "headers":
                self._arm(self._limits.header_timeout_s)
            elif phase == "body":
                self._arm(cast(float, self._limits.body_timeout_s))
            else:
                self._disarm()
        # a request is still arriving: the connection is fresh, or a header block or a body
        # has begun and is not whole (never protected work, whoever's connection)
        arriving = self._fresh or state == "headers" or state in _BODY_STATES
        if arriving != self._told_arriving:
            self._told_arriving = arriving
            if arriving:
                self.since = self._loop.time()
            if self.authenticated:
                self._budget.arrives(self, arriving)

    def _watched(self, data: bytes) -> bool:
        """Feed the watch; False when the connection was closed for what it saw."""
        return self._took(self._watch.feed(data))

    def _took(self, heads: list[bytes] | None) -> bool:
        """The header blocks the watch completed (None: too large); False when the
        connection was closed for them."""
        if heads is None:
            self._close("header block too large")
            return False
        self._unstarted += len(heads)
        if any(len(_HOST.findall(head)) != 1 for head in heads):
            self.misdirected()
            return False
        return True

    def misdirected(self) -> None:
        """Answer 421 for a request without exactly one Host header and close: before
        aiohttp's parser, which would answer a repeated ``Host`` with 400, has read it."""
        self._disarm()
        self._budget.host_refusals.note(None, self.peer)
        if self.transport is not None:
            self.transport.write(self._budget.refusals.misdirected)
        self._close("request without exactly one Host header")

    def _refuse(self) -> None:
        """Answer 503 and half-close (FIN after the answer), then read and drop whatever the
        peer sends until it closes too, or :data:`REFUSAL_LINGER_S` has passed. Closing at
        once would send RST when the peer's request is already in the socket (it came before
        the accept), and the peer's kernel would drop the 503 it had not read yet. Without
        half-close (TLS) or with too many lingering, it closes at once as before."""
        assert self.transport is not None  # noqa: S101 - set by connection_made
        transport = self.transport
        transport.write(self._budget.refusals.busy)
        if not transport.can_write_eof() or not self._budget.start_lingering(self.peer_key):
            transport.close()
            return
        self._lingering = True
        transport.write_eof()
        self._timer = self._loop.call_later(REFUSAL_LINGER_S, transport.close)

    def eof_received(self) -> bool | None:
        # a lingering refusal: None closes the transport (the peer has read the 503)
        return self._inner.eof_received() if self._admitted else None

    def connection_lost(self, exc: Exception | None) -> None:
        admitted = self._admitted
        self.closed()
        if admitted:
            self._inner.connection_lost(exc)

    def closed(self) -> None:
        """The connection is closed (told by a parsing inner protocol, which the transport
        tells): its slot in the budget is free."""
        if self._timer is not None:  # (``_disarm``, in place: every connection closes here)
            self._timer.cancel()
            self._timer = None
        if self._lingering:
            self._lingering = False
            self._budget.stop_lingering(self.peer_key)
        if self._admitted:
            self._admitted = False
            self._budget.release(self)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    # -- told by the application ------------------------------------------------------------

    def request_started(self) -> None:
        self.busy += 1
        if self._unstarted:
            self._unstarted -= 1
        self._budget.working(self)

    def request_finished(self) -> None:
        self.busy -= 1
        if not self.busy:
            if self.held:
                self.held = self.held_last = False
                self._budget.holding(self, False)
            self.since = self._loop.time()
            self._budget.idle(self)
            if self._watch.state == "upgrade" and not self._unstarted:
                # answered without switching protocols: an ordinary connection again, and
                # what came after the request is the next requests, watched as any
                if self._took(self._watch.declined()):
                    self._follow()

    def switched(self) -> None:
        """A ``101 Switching Protocols`` is being written on this connection
        (:func:`note_switch`): what follows is not HTTP, and the watch stops."""
        self._watch.switched()
        self._follow()

    def authenticate(self) -> None:
        """The connection carried a valid credential (:func:`mark_authenticated`)."""
        if not self.authenticated:
            self.authenticated = True
            self._budget.proven(self)

    def hold(self, *, last: bool = False) -> None:
        """The request in progress is an answer held open that may end for a newcomer
        (:func:`mark_held`; ``last``: after every other held answer), until it finishes."""
        if self.busy and not self.held:
            self.held, self.held_last = True, last
            self._budget.holding(self, True)

    # -- the budget's view ------------------------------------------------------------------

    def eviction_rank(self) -> int | None:
        """0 idle and never authenticated; 1 a header block still arriving, 2 a body still
        arriving (whoever's connection: a request not yet whole is no one's work), or a
        request or WebSocket in progress (or arrived whole, its handler about to start: once
        taken for idle, and evicted first) that never authenticated; 3 idle and
        authenticated; 4 an authenticated answer held open that may end (a live stream), 5
        one held ``last`` (a long-poll); None: work for a token holder, never evicted."""
        if self._fresh or self._watch.awaiting_headers:
            return 1
        if self._watch.state in _BODY_STATES:
            return 2
        if self.busy or self._unstarted:  # handled, or arrived whole and about to be
            if not self.authenticated:
                return 2
            if self.held:
                return 5 if self.held_last else 4
            return None
        # (an answered upgrade that did not switch is idle: ``request_finished`` reads on)
        idle = self._watch.state == "idle" or self._watch.state == "upgrade"
        if self.authenticated:
            return 3 if idle else None
        return 0 if idle else None

    def evict(self) -> None:
        """Close this connection for a newcomer: it is doing no work for a token holder (no
        request in progress, a response, if any, written before ``busy`` dropped; a request
        or WebSocket that never showed a valid token, cut off mid-way; or an answer held open
        that the application said may end, :func:`mark_held`)."""
        self.evicting = True
        log.info("evicting a connection from %s for a newcomer (%s)", self.peer,
                 "unfinished headers" if self._fresh or self._watch.awaiting_headers
                 else "a body still arriving" if self._watch.state in _BODY_STATES
                 else "a held answer" if self.held
                 else "unauthenticated request or WebSocket" if self.busy
                 else "idle")
        self._disarm()
        if self.transport is not None:
            self.transport.close()

    # -- the header and body deadlines --------------------------------------------------------

    def _arm(self, timeout_s: float) -> None:
        self._disarm()
        self._timer = self._loop.call_later(timeout_s, self._on_deadline)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_deadline(self) -> None:
        self._timer = None
        if self._header is not None:
            self._header = None
            self._close("no PROXY protocol header in time from a configured proxy")
        elif self._fresh or self._watch.awaiting_headers:
            self._close("request headers not received in time")
        elif self._phase == "body":
            self._close("request body not received in time")

    def _close(self, why: str) -> None:
        log.warning("closing a slow HTTP connection: %s", why)
        if self.transport is not None:
            self.transport.close()


#: How often a connection from a configured proxy without a PROXY header is logged, at most
#: (a local tool calling the port straight from the proxy's address would log each call).
UNPROXIED_LOG_S: Final = 60.0
_unproxied_logged: list[float] = []


def _note_unproxied(peer: str, why: str) -> None:
    """A connection from the configured proxy ``peer`` was closed for its first bytes: say
    so at most once every :data:`UNPROXIED_LOG_S` (the proxy not configured to send the
    header, or a client calling the port straight from the proxy's address)."""
    now = time.monotonic()
    if _unproxied_logged and now - _unproxied_logged[0] < UNPROXIED_LOG_S:
        return
    _unproxied_logged[:] = [now]
    log.warning("closing a connection from %s, a configured proxy (trusted_proxies): %s; "
                "the proxy must begin each connection with one (HAProxy: send-proxy-v2), "
                "and a client on its address cannot call this port straight", peer, why)


#: The app's connection budget, the one key both processes keep it under: the listener admits
#: through it, and the parts of an app that mark credential holders' work
#: (:func:`mark_authenticated`) find a request's connection through it.
BUDGET: Final = web.AppKey("connection_budget", ConnectionBudget)


class GuardedSite(web.BaseSite):
    """A TCP site (over TLS with ``ssl_context``) whose connections pass through the
    connection budget and the deadlines; aiohttp keeps everything else (graceful shutdown,
    keep-alive). :meth:`protocol_factory` is what a serving process varies (the daemon puts
    its llhttp ``/rpc`` edge between the guard and aiohttp)."""

    __slots__ = ("_host", "_budget", "_port", "_bound_port", "_sock")

    def __init__(self, runner: web.BaseRunner, host: str, port: int,
                 budget: ConnectionBudget, sock: socket.socket | None = None, *,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        # The kernel's accept queue holds as many connections as the budget admits (aiohttp's
        # default is 128; the kernel caps it at net.core.somaxconn): a burst of reconnecting
        # daemons or bots waits to be accepted by a busy loop instead of having its
        # handshakes dropped and, under sustained load, its connections reset (found by
        # bench.authority at 1,000 daemons on two consoles;
        # daemon/tests/e2e/test_listen_backlog.py).
        if ssl_context is not None and budget.proxies is not None:
            # the header comes before the TLS handshake, which this site's transport begins
            # with: the proxy ends TLS and speaks plain HTTP to the port behind it
            raise ValueError("a port whose proxies send a PROXY header serves plain HTTP "
                             "(TLS ends at the proxy)")
        super().__init__(runner, ssl_context=ssl_context,
                         backlog=max(128, budget.limits.max_connections))
        self._host, self._port, self._budget = host, port, budget
        self._bound_port: int | None = None
        self._sock = sock

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://{self._host}:{self.port}"

    @property
    def port(self) -> int:
        """The bound port (after start), or the requested one."""
        return self._bound_port if self._bound_port is not None else self._port

    def protocol_factory(self, server: web.Server) -> Callable[[], asyncio.Protocol]:
        """Each connection's protocol: aiohttp's, behind the guard."""
        budget = self._budget
        return lambda: GuardedProtocol(server(), budget)

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None  # noqa: S101 - set up by the runner before any site starts
        factory = self.protocol_factory(server)
        if accepts_one_per_pass(loop):
            # uvloop: accept each burst until EAGAIN ourselves (``accepts.py``)
            if self._sock is not None:
                self._sock.listen(self._backlog)
                self._server = AcceptingServer.adopt(loop, [self._sock], factory,
                                                     ssl_context=self._ssl_context,
                                                     batch=self._backlog)
            else:
                self._server = AcceptingServer.listen(loop, self._host, self._port, factory,
                                                      ssl_context=self._ssl_context,
                                                      backlog=self._backlog)
        elif self._sock is not None:
            self._server = await loop.create_server(factory, sock=self._sock,
                                                    ssl=self._ssl_context,
                                                    backlog=self._backlog)
        else:
            self._server = await loop.create_server(factory, self._host, self._port,
                                                    ssl=self._ssl_context,
                                                    backlog=self._backlog)
        self._bound_port = int(self._server.sockets[0].getsockname()[1])


async def serve_as_work(conn: GuardedProtocol | None, request: _Req,
                        handler: Callable[[_Req], Awaitable[web.StreamResponse]]
                        ) -> web.StreamResponse:
    """Answer ``request`` with ``handler``, telling ``conn`` (its connection's guard, if any)
    that a request is in progress from here until the response is written (so the budget
    never evicts it meanwhile, and orders it by whether it ever authenticated; a WebSocket
    counts as working for its whole life). A plain response is written here rather than
    after this returns: once the count drops, every byte of it is in the transport, and an
    eviction cannot cut an answer short. The console's :func:`work_middleware` and the
    daemon's low-level handler (``edge/listener.rpc_fast_path``) both serve through this.

    An answer whose client has hung up (a daemon past its own timeout) is dropped as aiohttp
    drops one it writes itself: the response is returned and aiohttp, finding the transport
    closed, logs the access and closes. Raised from here, the write's error would be logged
    as a failed request with its traceback, once per caller that gave up: under a restart
    storm, thousands, formatted on the loop that is already behind."""
    if conn is None:
        return await handler(request)
    conn.request_started()
    try:
        response = await handler(request)
        if type(response) is web.Response and not response.prepared:
            with suppress(ConnectionError):
                await response.prepare(request)
                await response.write_eof()
        return response
    finally:
        conn.request_finished()


def work_middleware(budget: Callable[[web.Request], ConnectionBudget]) -> Any:
    """An aiohttp middleware serving each request as work on its connection
    (:func:`serve_as_work`)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        return await serve_as_work(budget(request).find(request.transport), request, handler)

    return middleware


def connection_of(request: web.BaseRequest) -> GuardedProtocol | None:
    """The guard of ``request``'s connection, found through its application's budget
    (:data:`BUDGET`); None for an app served without one, or a request that skipped the
    router (it has no application: its handler is given the connection)."""
    if not isinstance(request, web.Request):
        # a request an llhttp edge read (``httpedge.py``) carries its connection's guard
        guard: GuardedProtocol | None = getattr(request, "guard", None)  # (no ``cast``: a call)
        return guard
    budget = request.app.get(BUDGET)
    return budget.find(request.transport) if budget is not None else None


def mark_authenticated(where: GuardedProtocol | web.BaseRequest | None) -> None:
    """The connection ``where`` (a connection's guard, or a request whose connection it is)
    carried a valid credential (a bot's token, a device proof, an owner password, a
    signed-in page session): its work is a credential holder's, evicted last and never while
    in progress. The one way either process marks a connection; nothing to do for one served
    without a budget."""
    # the guard first: ``web.BaseRequest`` is an abstract mapping, whose isinstance check
    # is slow, and the daemon's /rpc edge marks a guard on every call
    conn = where if where is None or isinstance(where, GuardedProtocol) \
        else connection_of(where)
    if conn is not None and not conn.authenticated:  # (once a connection: a call less after)
        conn.authenticate()


async def note_switch(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """An ``on_response_prepare`` signal handler, in each application served through a budget:
    a ``101`` about to be written switches its connection's protocol (a WebSocket accepted),
    and only then does the guard stop watching the stream as HTTP. A request that only asks
    to switch (its ``Upgrade:`` header) and is answered otherwise -- ignored, refused, 426 --
    leaves an ordinary connection, watched and evicted as any."""
    if response.status == 101:
        conn = connection_of(request)
        if conn is not None:
            conn.switched()


def mark_held(request: web.BaseRequest, *, last: bool = False) -> None:
    """``request`` (of a credential holder) is an answer held open that may end: the
    connection budget may end it for a newcomer once every idle connection has gone, the
    oldest first, instead of counting it as work that is never evicted. For answers a
    client reopens by itself: the console's live-page event stream (the page fetches its
    panels without it) and, with ``last`` (after every stream), a daemon's revocation
    long-poll (the daemon polls again with its cursor, so no revocation is lost, only
    heard a retry later); nothing to do for a request served without a budget."""
    conn = connection_of(request)
    if conn is not None:
        conn.hold(last=last)
