"""An HTTP/1.x edge on llhttp (httptools): a process's hot requests answered without aiohttp's
request machinery, every other request handed to aiohttp's protocol on the same connection.

aiohttp's request and response objects cost several times an ``asyncio.Protocol`` on llhttp
(``docs/performance.md``: the daemon's ``/rpc`` and the console's device calls). An edge
answers the requests its process names (:attr:`EdgeSettings.ours`) through the process's own
``answer`` (which takes that process's door: its Host rule, its caller, its bounds, its one
refusal table) and hands any other request, with the bytes already read, to aiohttp's protocol
(then the connection is aiohttp's for good). uvicorn's ``httptools_impl`` is the shape.

Two parts, a sans-I/O core and a thin I/O shell:

* :class:`RequestAssembly` -- sans-I/O. Fed a connection's bytes, it says when one of the
  edge's requests has its headers complete (:class:`Started`), when its body is
  (:class:`Completed`), when a request must go to aiohttp (:class:`HandOff`, carrying every
  byte from that request's first on) and when the stream is not HTTP (:class:`Malformed`:
  400 and close). It finds each header block's end itself and feeds llhttp one message at a
  time (a body by its ``Content-Length``, with its header block in one feed when all of it
  has come; a chunked body up to each LF), so it always knows where a request began: llhttp
  does not say where in a buffer it stopped. Conflicting or doubled ``Content-Length`` and
  ``Transfer-Encoding`` are llhttp's refusals (no smuggling).
* :class:`HttpEdge` -- the ``asyncio.Protocol`` shell. The connection guard
  (:class:`~mtgateway_base.guard.GuardedProtocol`, with ``parses``) admits the connection and
  steps out of the data path: the edge is the transport's protocol and tells the guard where
  the stream stands (``stream_at``: its header and body deadlines, its eviction order). At a
  hand-off the guard takes the transport back with aiohttp's protocol inside (``take_back``).
  Requests are answered one at a time in arrival order (pipelining, as aiohttp does), by one
  task per connection; an idle connection closes after ``keepalive_timeout_s``; and
  :meth:`HttpEdge.shut_down` lets the request in progress finish before the connection closes.

The daemon's ``/rpc`` edge (``gateway/edge/llhttp.py``) is the same design, kept in the
daemon's compiled build; this module is the ground floor's, which the console stands on.

Not sent: ``Date`` and ``Server`` headers (nothing reads them on a device call).
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from http import HTTPStatus
from typing import TYPE_CHECKING, Final, NamedTuple

import httptools

if TYPE_CHECKING:
    from .guard import ConnectionBudget, GuardedProtocol

__all__ = ["Answer", "Answerer", "Completed", "EdgeRequest", "EdgeSettings", "HandOff",
           "HttpEdge", "JSON_TYPE", "Malformed", "RequestAssembly", "Started", "has_bare_lf",
           "plain_request", "response_bytes"]

log = logging.getLogger("mtgateway.httpedge")

#: aiohttp's own limit on a request line or a header line (longer: 400).
_MAX_LINE: Final = 8190
#: A whole header block (the connection guard's limit on the aiohttp path; longer: 400).
_MAX_HEAD: Final = 64 * 1024
#: Complete requests queued behind the one being answered before reading pauses.
_MAX_QUEUED: Final = 16
#: A keep-alive timer that fires this close to its deadline closes (uvloop times in ms).
_TIMER_SLACK_S: Final = 0.001
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
#: A header block's field names, and values (without the whitespace around them); the
#: request line is not preceded by a line end, so neither matches it.
_NAMES: Final = re.compile(rb"\r\n([^:\r\n]*):")
_VALUES: Final = re.compile(rb"\r\n[^:\r\n]*:[ \t]*([^\r\n]*?)[ \t]*(?=\r\n)")
#: The headers whose first value a process's rules read (:meth:`EdgeRequest.first`).
_NOTED: Final = frozenset({b"origin", b"content-type", b"authorization"})
#: The ``Content-Type`` of every answer with a body, unless the process says otherwise.
JSON_TYPE: Final = "application/json"


def has_bare_lf(data: bytes, start: int, stop: int) -> bool:
    """Whether ``data[start:stop]`` holds an LF not preceded by CR (the byte before
    ``start`` counts as the first one's predecessor).

    Two counts, both C loops over the bytes: a look-behind regex search did the same at
    ~2.1 us per request head here against ~0.4 us, ~5 % of a ``/rpc`` call's CPU.
    """
    return data.count(b"\n", start, stop) != data.count(b"\r\n", max(start - 1, 0), stop)


@dataclass(eq=False, slots=True, init=False)
class EdgeRequest:
    """One request as the edge sees it: raw parts, body collected up to the limit.

    Its ``__init__`` is written out (with the defaults): the one ``dataclass`` generates
    fills four fields from factories, for an object every request builds.
    """

    target: bytes
    method: bytes
    minor: int
    #: The header block as sent (from the request line to the empty line).
    head: bytes
    #: Each header's name (lowercase) and value, in order.
    headers: list[tuple[bytes, bytes]]
    keep_alive: bool
    body: bytearray
    #: Bytes of a ``Content-Length`` body still to come (unused when chunked).
    body_left: int
    content_length: int | None
    chunked: bool
    #: The body went past ``max_body_bytes``: it is read on and dropped (413).
    too_large: bool
    complete: bool
    #: The body is not valid HTTP (a bad chunk): answered 400, then the connection closes.
    broken: bool
    #: ``Expect: 100-continue`` was sent (the only expectation served here).
    expect: bool
    #: A header says the request is not an edge's (``Upgrade``, or an ``Expect`` other
    #: than ``100-continue``): it goes to aiohttp (:func:`plain_request`).
    foreign: bool
    #: Every ``Host`` value, and the first value of the headers the rules read (noted while
    #: the headers are read, so the checks do not scan them again).
    hosts: list[bytes]
    noted: dict[bytes, bytes]
    #: How the edge waits for more of the body (:meth:`RpcEdge._until_body`, set when it
    #: queues the request).
    wait_body: Callable[[EdgeRequest], Awaitable[None]] | None

    def __init__(self, target: bytes = b"", method: bytes = b"", minor: int = 1,
                 headers: list[tuple[bytes, bytes]] | None = None, keep_alive: bool = True,
                 body: bytearray | None = None, body_left: int = 0,
                 content_length: int | None = None, chunked: bool = False,
                 too_large: bool = False, complete: bool = False, broken: bool = False,
                 expect: bool = False, hosts: list[bytes] | None = None,
                 noted: dict[bytes, bytes] | None = None,
                 wait_body: Callable[[EdgeRequest], Awaitable[None]] | None = None) -> None:
        self.target, self.method, self.minor = target, method, minor
        self.head = b""
        self.headers = [] if headers is None else headers
        self.keep_alive = keep_alive
        self.body = bytearray() if body is None else body
        self.body_left, self.content_length, self.chunked = body_left, content_length, chunked
        self.too_large, self.complete, self.broken = too_large, complete, broken
        self.expect = expect
        self.foreign = False
        self.hosts = [] if hosts is None else hosts
        self.noted = {} if noted is None else noted
        self.wait_body = wait_body

    @property
    def settled(self) -> bool:
        """Nothing more will come of the body: complete or broken."""
        return self.complete or self.broken

    # -- the door's ``Body`` (``door.py``) --------------------------------------------------

    @property
    def malformed(self) -> bool:
        """The body turned out not to be HTTP (a bad chunk)."""
        return self.broken

    def take(self) -> bytes | None:
        """The body if nothing more will come of it (``b""`` when broken or too large), else
        None."""
        if self.broken or self.too_large:
            return b""
        return bytes(self.body) if self.complete else None

    async def receive(self) -> bytes:
        """Wait until nothing more will come of the body (complete, broken, or too large to
        keep); the door holds the deadline.

        Raises:
            ConnectionResetError: the client left.
        """
        assert self.wait_body is not None  # noqa: S101 - set by the edge that queued it
        await self.wait_body(self)
        return self.take() or b""

    def first(self, name: bytes) -> str | None:
        """The first value of header ``name`` (one of :data:`_NOTED`), decoded as aiohttp
        does."""
        value = self.noted.get(name)
        return None if value is None else value.decode("utf-8", "surrogateescape")

    @property
    def path(self) -> bytes:
        return self.target.partition(b"?")[0]


# Started and Completed, built for every request, are named tuples made by ``tuple.__new__``
# (:data:`_started`, :data:`_completed`): no ``__init__`` of Python's runs (a frozen
# dataclass's generated one sets each field through ``object.__setattr__``, and any written
# out is a Python call). Tell them apart by type, not by ``==``.


class Started(NamedTuple):
    """A request's headers are complete (its body may still be on the way)."""

    request: EdgeRequest


class Completed(NamedTuple):
    """The request's body is complete."""

    request: EdgeRequest


_started: Final = partial(tuple.__new__, Started)
_completed: Final = partial(tuple.__new__, Completed)


@dataclass(frozen=True, slots=True)
class HandOff:
    """A request that is not the edge's own: ``data`` is every byte from its first on."""

    data: bytes
    request: EdgeRequest


@dataclass(frozen=True, slots=True)
class Malformed:
    """The bytes are not an acceptable HTTP/1.x request: answer 400 and close."""


Event = Started | Completed | HandOff | Malformed

_HEAD, _BODY, _OFF = 0, 1, 2


class RequestAssembly:
    """A connection's byte stream to request events (no I/O, no clock).

    States: reading a header block, reading a body, and off (after a hand-off, a malformed
    request, or a request that closes the connection: nothing more is parsed).
    """

    def __init__(self, max_body_bytes: int, ours: Callable[[EdgeRequest], bool]) -> None:
        self._parser = httptools.HttpRequestParser(self)
        self._ours = ours
        self._max_body = max_body_bytes
        self._buffer = bytearray()
        self._state = _HEAD
        self._request: EdgeRequest | None = None
        self._events: list[Event] = []
        #: Where the stream stands, in :class:`~mtgateway_base.guard.HeaderWatch`'s words (the
        #: connection guard's header deadline and eviction order read it): set as each
        #: :meth:`feed` ends (the edge reads it after every one; a value, not a call).
        self.watch_state = "idle"

    @property
    def off(self) -> bool:
        return self._state == _OFF

    def feed(self, data: bytes) -> list[Event]:
        """Account for ``data``; the events it completed, in order."""
        if self._state == _OFF:
            self.watch_state = "off"
            return []
        events = self._events = []
        start = 0
        if self._buffer:  # a header block begun earlier (bodies go to llhttp as they come)
            start = max(0, len(self._buffer) - 3)  # where its end could first be
            self._buffer += data
            data = bytes(self._buffer)
            self._buffer.clear()
        while data:
            if self._state == _HEAD:
                data = self._head(data, start)
                start = 0
            elif self._state == _BODY:
                data = self._body(data)
            else:
                break
        state = self._state
        self.watch_state = ("headers" if self._buffer else "idle") if state == _HEAD \
            else "body" if state == _BODY else "off"
        return events

    def _head(self, data: bytes, start: int) -> bytes:
        """Parse the header block at the start of ``data``; the bytes after what was used."""
        while data[:2] == b"\r\n":  # empty lines before a request are ignored (RFC 9112)
            data, start = data[2:], 0
        end = data.find(b"\r\n\r\n", start)
        # A line ended by a bare LF: 400 at once, as aiohttp answers (RFC 9112 §2.2 lets a
        # server refuse it), rather than waiting for a CRLF CRLF that may never come. Only
        # the header block is searched (a body may hold any byte), from where new bytes
        # begin (the byte before still counts: :func:`has_bare_lf`, written out).
        stop = end + 4 if end >= 0 else len(data)
        if data.count(b"\n", start, stop) != data.count(b"\r\n", start - 1 if start else 0,
                                                       stop):
            self._malformed()
            return b""
        if end < 0:
            if len(data) > _MAX_HEAD or len(data) - (data.rfind(b"\r\n") + 2) > _MAX_LINE:
                self._malformed()
            else:
                self._buffer += data
            return b""
        head, rest = data[:end + 4], data[end + 4:]
        if end + 4 > _MAX_LINE and (end + 4 > _MAX_HEAD or any(
                len(line) > _MAX_LINE for line in head.split(b"\r\n"))):
            self._malformed()
            return b""
        if b"\r\n " in head or b"\r\n\t" in head:
            # a header folded over lines (obsolete: RFC 9112 section 5.2 lets a server
            # refuse it)
            self._malformed()
            return b""
        # made here, not in llhttp's ``on_message_begin`` (a call from C on every request):
        # ``head`` holds one header block, so llhttp begins at most one message in it
        request = self._request = EdgeRequest()
        # The fields are read first (their framing says how much of ``rest`` is the body);
        # llhttp then judges the block, and refuses what they could not be read as.
        if not _read_headers(request, head):
            self._malformed()
            return b""
        length = request.content_length
        # A body whose bytes are all here goes to llhttp with its header block, in one feed.
        whole = length is not None and not request.chunked and len(rest) >= length \
            and length <= self._max_body
        try:
            self._parser.feed_data(head + rest[:length] if whole and length else head)
        except httptools.HttpParserUpgrade:
            pass  # an Upgrade request (a WebSocket): not ours, handed off below
        except httptools.HttpParserError:
            self._malformed()
            return b""
        if not request.method:  # llhttp saw no complete header block
            self._malformed()
            return b""
        if not self._ours(request):
            self._state = _OFF
            self._events.append(HandOff(head + rest, request))
            return b""
        self._events.append(_started((request,)))
        if request.complete:
            self._done(request)
            return rest[length:] if whole and length else rest
        if whole:  # not reached: llhttp had the whole body and did not end the message
            self._malformed()
            return b""
        self._state = _BODY
        return rest

    def _body(self, data: bytes) -> bytes:
        """Feed llhttp the body bytes at the start of ``data``, never past the message's end;
        the bytes after what was used."""
        request = self._request
        assert request is not None
        if request.chunked:  # a chunked message can only end at an LF: feed up to each one
            cut = data.find(b"\n")
            size = len(data) if cut < 0 else cut + 1
        else:
            size = min(len(data), request.body_left)
            request.body_left -= size
        try:
            self._parser.feed_data(data if size == len(data) else data[:size])
        except httptools.HttpParserError:
            self._malformed()
            return b""
        if request.complete:
            self._done(request)
        return data[size:] if size < len(data) else b""

    def _done(self, request: EdgeRequest) -> None:
        self._events.append(_completed((request,)))
        self._state = _HEAD if request.keep_alive else _OFF

    def _malformed(self) -> None:
        if self._state == _BODY and self._request is not None:
            self._request.broken = True  # the request it belongs to is answered 400
        self._state = _OFF
        self._buffer.clear()
        self._events.append(Malformed())

    # -- httptools callbacks ------------------------------------------------------------------

    def on_url(self, url: bytes) -> None:
        assert self._request is not None
        self._request.target += url

    def on_headers_complete(self) -> None:
        request = self._request
        assert request is not None
        parser = self._parser
        request.method = parser.get_method()
        request.minor = 0 if parser.get_http_version() == "1.0" else 1
        request.keep_alive = parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        request = self._request
        assert request is not None
        if request.too_large:
            return
        request.body += body
        if len(request.body) > self._max_body:
            request.too_large = True
            request.body.clear()

    def on_message_complete(self) -> None:
        # (``keep_alive`` as llhttp said at the end of the headers: for a request it says
        # the same at the end of the message)
        request = self._request
        assert request is not None
        request.complete = True


def _read_headers(request: EdgeRequest, head: bytes) -> bool:
    """The header fields of ``head`` (one whole header block, which llhttp judges next) into
    ``request``: its names (lowercase) and values, every ``Host``, the first value of each
    noted header, the body's framing and the expectation.

    Read with two regular expressions over the whole block rather than llhttp's callback
    per header: a callback is a Python call for each of a device call's ten headers, and
    its bytes decoded one by one after (a tenth of a device call's Python calls, counted).
    False when the block's lines cannot be read as fields.
    """
    try:
        headers = list(zip(_NAMES.findall(head.lower()), _VALUES.findall(head), strict=True))
    except ValueError:  # a line without a colon (llhttp refuses it too)
        return False
    request.head = head
    request.headers = headers
    noted = request.noted
    for name, value in headers:
        if name == b"host":
            request.hosts.append(value)
        elif name in _NOTED:
            if name not in noted:
                noted[name] = value
        elif name == b"content-length":  # llhttp refuses it unless it is one number
            if not value.isdigit():
                return False
            request.content_length = request.body_left = int(value)
        elif name == b"transfer-encoding":  # llhttp refuses it unless it ends chunked
            request.chunked = True
        elif name == b"expect":
            request.expect = True
            if value.lower() != b"100-continue":
                request.foreign = True
        elif name == b"upgrade":
            request.foreign = True
    return True


def plain_request(request: EdgeRequest) -> bool:
    """HTTP/1.x without an upgrade or an expectation other than ``100-continue`` on HTTP/1.1
    (the only requests an edge answers itself; anything else is aiohttp's)."""
    return not request.foreign and not (request.expect and request.minor != 1)


def response_bytes(request: EdgeRequest, status: int, body: bytes | None, keep_alive: bool,
                   headers: dict[str, str] | None = None, content_type: str = JSON_TYPE
                   ) -> bytes:
    """A whole response as aiohttp writes it for ``request``: its HTTP version, the
    ``Connection`` header it would add, ``Content-Type``/``Content-Length`` for a body."""
    if status == 200 and body is not None and headers is None and keep_alive \
            and request.minor == 1:  # the usual answer, without building it line by line
        return b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s" % (
            content_type.encode("latin-1"), len(body), body)
    lines = [f"HTTP/1.{request.minor} {status} {HTTPStatus(status).phrase}"]
    if body is not None:
        lines.append(f"Content-Type: {content_type}")
        lines.append(f"Content-Length: {len(body)}")
    has_connection = False
    for name, value in (headers or {}).items():
        has_connection = has_connection or name.lower() == "connection"
        lines.append(f"{name}: {value}")
    if not has_connection:
        if keep_alive and request.minor == 0:
            lines.append("Connection: keep-alive")
        elif not keep_alive and request.minor == 1:
            lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + body if body else head


#: What an edge's ``answer`` gives back: the status, the body (JSON) and any other headers.
Answer = tuple[int, bytes | None, dict[str, str] | None]
#: How an edge answers one of its requests, given the peer's address and the connection's
#: guard (None when served without one).
Answerer = Callable[[EdgeRequest, str, "GuardedProtocol | None"], Awaitable[Answer]]


@dataclass(frozen=True, slots=True)
class EdgeSettings:
    """What a serving process tells its edge (its aiohttp runner's own values, so a request
    is treated alike whichever parser reads it)."""

    #: Which requests the edge answers (:func:`plain_request` and the process's paths).
    ours: Callable[[EdgeRequest], bool]
    max_body_bytes: int
    keepalive_timeout_s: float
    #: After an early refusal, how long the rest of the body is read and dropped before the
    #: connection is closed instead (aiohttp's ``lingering_time``).
    lingering_s: float
    #: The whole answer to bytes that are not HTTP (400, in the process's error shape).
    malformed: bytes
    #: The ``Content-Type`` of the answers (as the process's aiohttp answers say it).
    content_type: str = JSON_TYPE
    #: A client that leaves cancels the answer in progress (aiohttp's
    #: ``handler_cancellation``: a long-poll ends with its client); else it finishes.
    cancel_on_leave: bool = False
    #: The head of the usual answer (200, a body, kept alive, HTTP/1.1) up to its
    #: ``Content-Length`` value (``%d``), as :func:`response_bytes` writes it: made once.
    ok_head: bytes = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ok_head", (
            b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %%d\r\n\r\n"
            % self.content_type.encode("latin-1").replace(b"%", b"%%")))


class HttpEdge(asyncio.Protocol):
    """One connection: the edge's own requests answered by ``answer``, anything else handed
    to aiohttp.

    Args:
        answer: answers one of the edge's requests.
        settings: the process's values (:class:`EdgeSettings`).
        budget: the port's connection budget (the connection's guard is found in it).
        aiohttp_protocol: makes aiohttp's protocol for a hand-off (the runner's server).
        edges: the site's open edges (:meth:`shut_down` is called on each at shutdown).
    """

    def __init__(self, answer: Answerer, settings: EdgeSettings, budget: ConnectionBudget,
                 aiohttp_protocol: Callable[[], asyncio.Protocol], edges: set[HttpEdge]
                 ) -> None:
        self._answerer = answer
        self._settings = settings
        self._budget = budget
        self._make_aiohttp = aiohttp_protocol
        self._edges = edges
        self._assembly = RequestAssembly(settings.max_body_bytes, settings.ours)
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._guard: GuardedProtocol | None = None
        self._peer = "?"
        self._queue: deque[EdgeRequest | None] = deque()  # None: a malformed request
        #: The connection's one answering task (:meth:`_serve`), from its first request on;
        #: ``_busy`` while it answers, ``_more`` while it waits for the next request.
        self._task: asyncio.Task[None] | None = None
        self._busy = False
        self._more: asyncio.Future[None] | None = None
        self._waiter: asyncio.Future[None] | None = None
        #: The bytes of a request for aiohttp (and after it), held until the ones before it
        #: are answered.
        self._handoff: bytearray | None = None
        self._keepalive: asyncio.TimerHandle | None = None
        self._idle_since: float | None = None  # loop time the connection last went idle
        self._reading = True
        self._closing = False
        self._lost = False
        self._drained: asyncio.Future[None] | None = None
        #: Bound once, handed to each request queued (how its body is waited for).
        self._body_waiter = self._until_body
        #: The stream's state last told to the guard (``stream_at``: only a change is told).
        self._told: str | None = None

    @property
    def transport(self) -> asyncio.Transport | None:
        """The connection's transport (None before it is made)."""
        return self._transport

    @property
    def guard(self) -> GuardedProtocol | None:
        """The connection's guard (None when served without one)."""
        return self._guard

    # -- asyncio.Protocol (the transport's own, from the guard's connection_made on) ----------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self._peer = str(peer[0]) if isinstance(peer, tuple) else str(peer)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._guard = self._budget.find(transport)
        self._edges.add(self)

    def data_received(self, data: bytes) -> None:
        if self._handoff is not None:
            self._hold(data)
            return
        self._idle_since = None  # busy: the keep-alive timer, if armed, finds it so
        assembly = self._assembly
        for event in assembly.feed(data):
            if type(event) is Started:  # (``_take``'s usual case, in place)
                if self._guard is not None:  # working from here until its answer is written
                    self._guard.request_started()
                event.request.wait_body = self._body_waiter
                self._queue.append(event.request)
            elif type(event) is not Completed:  # a body's end: ``_wake`` finds it below
                self._take(event)
        if self._guard is not None:  # its header and body deadlines, its eviction order
            state = assembly.watch_state
            if state != self._told:  # (a whole request read leaves it idle, as it was)
                self._told = state
                self._guard.stream_at(state)
        if self._waiter is not None:  # an answer waits for the front request's body
            self._wake()
        if len(self._queue) > _MAX_QUEUED and self._reading:
            self._pause_reading()
        self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._edges.discard(self)
        self._stop_keepalive()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionResetError("the client left"))
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self._release()
        if self._settings.cancel_on_leave and self._busy and self._task is not None:
            self._task.cancel()  # the answer in progress ends with its client
        if self._guard is not None:
            self._guard.closed()

    def pause_writing(self) -> None:
        if self._drained is None:
            self._drained = self._loop.create_future()

    def resume_writing(self) -> None:
        if self._drained is not None:
            if not self._drained.done():
                self._drained.set_result(None)
            self._drained = None

    # -- reading ------------------------------------------------------------------------------

    def _take(self, event: Event) -> None:
        """Keep the bytes of a request for aiohttp, note a malformed one (a request is
        queued by :meth:`data_received` itself)."""
        if type(event) is HandOff:
            self._handoff = bytearray(event.data)  # (the guard holds it to the Host rule)
        elif type(event) is Malformed and not (
                self._queue and self._queue[-1] is not None and self._queue[-1].broken):
            self._queue.append(None)  # (a broken body's request is answered 400 itself)

    def _hold(self, data: bytes) -> None:
        """Keep bytes that follow a request for aiohttp (reading pauses past a few lines)."""
        assert self._handoff is not None  # noqa: S101 - only called while holding
        self._handoff += data
        if len(self._handoff) > 2 * _MAX_LINE and self._reading:
            self._pause_reading()

    def _wake(self) -> None:
        """Wake the answer waiting for the front request's body if it has come (or is too
        large to wait for)."""
        waiter = self._waiter
        if waiter is None or waiter.done() or not self._queue:
            return
        front = self._queue[0]
        if front is not None and (front.settled or front.too_large):
            waiter.set_result(None)

    # -- shutdown ---------------------------------------------------------------------------

    def shut_down(self) -> asyncio.Task[None] | None:
        """Stop taking requests: an idle connection closes now, a busy one after the answer
        in progress; returns the task to wait for, if any."""
        self._closing = True
        if not self._busy:
            self._close()
            return None
        return self._task

    # -- answering ----------------------------------------------------------------------------

    def _next(self) -> bool:
        """Start answering the front request, or hand off, or wait idle; True when it left
        the connection open and idle, waiting for a request."""
        if self._busy or self._lost:
            return False
        if self._queue:
            self._busy = True
            if self._more is not None:  # the answering task waits: it takes the request
                self._more.set_result(None)
            else:
                self._task = self._loop.create_task(self._serve())
        elif self._closing:
            self._close()
        elif self._handoff is not None:
            self._hand_off()
        elif self._assembly._state != _OFF:  # noqa: SLF001 - (``off``, read in place)
            # One timer per connection, not one per request: armed when none is, it closes
            # the connection if it is still idle at its deadline and otherwise re-arms for
            # the latest idle period (a call_later and cancel per request was ~2 % of the
            # daemon's CPU per /rpc call under wrk c=32, profiled with perf).
            self._idle_since = now = self._loop.time()
            if self._keepalive is None:
                self._keepalive = self._loop.call_at(now + self._settings.keepalive_timeout_s,
                                                     self._keepalive_due)
            return True
        else:
            self._close()  # the last request said Connection: close
        return False

    async def _serve(self) -> None:
        """The connection's answering task: the queued requests in order, then, while the
        connection stays open and idle, a wait for the next one. One task per connection,
        not one per request: a task costs its creation and its registration with asyncio
        (a ``WeakSet``, Python code) on every call. Each request is answered in this
        coroutine's own frame, not in one it awaits: every level of the chain that waits
        for the answer is resumed again when it comes."""
        settings = self._settings
        try:
            while True:
                request = self._queue[0]
                keep = False
                try:
                    if request is None:
                        self._write(settings.malformed)
                    else:
                        if request.expect:  # before the checks, as aiohttp's expect handler
                            self._write(_CONTINUE)
                        status, body, headers = await self._answerer(request, self._peer,
                                                                     self._guard)
                        keep = request.keep_alive and not self._closing \
                            and not request.broken \
                            and not (headers and headers.get("Connection") == "close")
                        transport = self._transport  # (``_write``, in place)
                        if transport is not None and not self._lost:
                            if status == 200 and body is not None and headers is None \
                                    and keep and request.minor == 1:  # the usual answer
                                transport.write(settings.ok_head % len(body) + body)
                            else:
                                transport.write(response_bytes(request, status, body, keep,
                                                               headers,
                                                               settings.content_type))
                        # (``keep``: not broken, so the body is settled once complete)
                        if self._drained is not None or (keep and not request.complete):
                            keep = await self._after(request, keep)
                        else:
                            keep = keep and not self._lost
                except ConnectionResetError:
                    pass  # the client left while its body was on the way
                except Exception:  # a bug: never leak it, never leave the connection hanging
                    log.exception("answering a request on the llhttp edge failed")
                finally:
                    self._queue.popleft()
                    if request is not None and self._guard is not None:
                        self._guard.request_finished()
                if not keep:
                    self._close()
                    return
                if not self._reading and len(self._queue) <= _MAX_QUEUED \
                        and self._handoff is None:
                    self._resume_reading()
                if self._queue:
                    continue
                self._busy = False
                # idle: hand off, close, or arm the keep-alive timer
                if not self._next():
                    return  # nothing more will be queued here
                self._more = self._loop.create_future()
                try:
                    await self._more
                finally:
                    self._more = None
                if self._lost or not self._queue:
                    return  # released: the connection closed or went to aiohttp
        except asyncio.CancelledError:
            self._close()  # never left open without its answering task
            raise
        finally:
            self._busy = False
            self._task = None

    def _release(self) -> None:
        """End the answering task if it waits for a request that will not come (the
        connection closed, or went to aiohttp)."""
        if self._more is not None and not self._more.done():
            self._more.set_result(None)

    async def _after(self, request: EdgeRequest, keep: bool) -> bool:
        """Once the answer is written: wait for the transport to drain, and if the request
        was refused before its body came, read and drop the rest of it; True when the
        connection stays open."""
        if self._drained is not None:
            await self._drained
        if keep and not request.settled:  # refused early: drop the rest of the body
            try:
                async with asyncio.timeout(self._settings.lingering_s):
                    await self._until_body(request, whole=True)
            except (TimeoutError, ConnectionResetError):
                return False
        return keep and not self._lost and not request.broken

    async def _until_body(self, request: EdgeRequest, *, whole: bool = False) -> None:
        """Wait until ``request``'s body is complete (or, unless ``whole``, too large); the
        caller holds the deadline (the door's body deadline, or the linger after a refusal).

        Raises:
            ConnectionResetError: the client left.
        """
        if self._lost:
            raise ConnectionResetError("the client left")
        while not (request.settled or (request.too_large and not whole)):
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    # -- the connection -----------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        if self._transport is not None and not self._lost:
            self._transport.write(data)

    def _close(self) -> None:
        self._stop_keepalive()
        if self._transport is not None:
            self._transport.close()

    def _keepalive_due(self) -> None:
        """The keep-alive timer fired: close if idle since ``keepalive_timeout_s`` ago, re-arm
        for the rest if idle since less, wait for the next idle period if busy."""
        self._keepalive = None
        if self._idle_since is None:
            return  # busy: ``_next`` arms the timer again when the connection is idle
        due = self._idle_since + self._settings.keepalive_timeout_s
        if due - self._loop.time() > _TIMER_SLACK_S:
            self._keepalive = self._loop.call_at(due, self._keepalive_due)
        else:
            self._close()

    def _stop_keepalive(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
            self._keepalive = None

    def _pause_reading(self) -> None:
        if self._transport is not None:
            self._transport.pause_reading()
        self._reading = False

    def _resume_reading(self) -> None:
        if self._transport is not None:
            self._transport.resume_reading()
        self._reading = True

    def _hand_off(self) -> None:
        """Give the connection and the bytes read so far to aiohttp's protocol, for good: the
        guard takes the transport back with aiohttp's protocol inside, and this edge leaves
        the data path (it sees no more bytes)."""
        assert self._transport is not None and self._handoff is not None
        data, self._handoff = bytes(self._handoff), None
        self._edges.discard(self)  # aiohttp's own shutdown closes it from now
        self._stop_keepalive()
        self._release()
        if self._guard is not None:
            if not self._guard.take_back(self._make_aiohttp, data):
                return  # the guard refused what it saw (and closed)
        else:
            protocol = self._make_aiohttp()
            self._transport.set_protocol(protocol)
            protocol.connection_made(self._transport)
            if data:
                protocol.data_received(data)
        if not self._reading:
            self._resume_reading()
