"""``POST /rpc`` on llhttp (httptools): the daemon's hot path without aiohttp's request machinery.

aiohttp's request and response objects cost ~5x an ``asyncio.Protocol`` on llhttp (the profile
is in ``docs/performance.md``), so ``[server] rpc_edge = "llhttp"`` (the default) serves
``POST /rpc`` here and hands every other request, ``/ws`` upgrades included, to aiohttp's own
protocol on the same connection, with the bytes already read (then the connection is aiohttp's
for good). Each request goes through the door every ``/rpc`` door calls (``edge/door.py``: the
ladder, the body deadline, the token, the mark, the context, the dispatcher), with its head as
llhttp parsed it (:meth:`RpcRequest.head`) and itself as the body to wait for; every answer is
from ``errors.py``. uvicorn's ``httptools_impl`` is the shape; the differences are below.

Two parts, a sans-I/O core and a thin I/O shell (as every protocol of the project):

* :class:`RequestAssembly` -- sans-I/O. Fed a connection's bytes, it says when an ``/rpc``
  request's headers are complete (:class:`Started`), when its body is (:class:`Completed`),
  when a request must go to aiohttp (:class:`HandOff`, carrying every byte from that request's
  first on) and when the stream is not HTTP (:class:`Malformed`: 400 and close). It finds each
  header block's end itself and feeds llhttp one message at a time (a body by its
  ``Content-Length``, a chunked body up to each LF), so it always knows where a request
  began: llhttp does not say where in a buffer it stopped. Conflicting or doubled
  ``Content-Length`` and ``Transfer-Encoding`` are llhttp's refusals (no smuggling).
* :class:`RpcEdge` -- the ``asyncio.Protocol`` shell. The connection guard
  (``base/guard.GuardedProtocol``) admits the connection and then steps out of the data path
  (``transport.set_protocol``, as uvicorn's protocol hands an upgraded connection on): the
  edge is the transport's protocol, and tells the guard where the stream stands
  (``GuardedProtocol.stream_at``, for its header and body deadlines and its eviction order)
  instead of the guard running its own header watch over every chunk (the ladder holds its
  requests to the "exactly one Host" rule, rung 2a). At a hand-off the guard takes the
  transport back with aiohttp's protocol inside (``GuardedProtocol.take_back``) and the edge
  sees no more bytes. Requests are answered one at a time in arrival order (pipelining, as
  aiohttp does), by one task per connection that waits for the next request while idle; a
  handler is never cancelled by a client leaving (a trade in flight finishes, as with
  aiohttp's defaults); an idle connection closes after ``keepalive_timeout_s``; and
  :meth:`RpcEdge.shut_down` lets the request in progress finish before the connection
  closes.

Not sent: ``Date`` and ``Server`` headers (nothing reads them on loopback).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from typing import TYPE_CHECKING, Final, NamedTuple
from urllib.parse import parse_qsl

import httptools
from aiohttp import web

from mtgateway_base.log import log_access

from ..errors import MALFORMED_REQUEST
from ..keys import CONFIG, CONNECTIONS
from .door import DOOR
from .head import RequestHead

if TYPE_CHECKING:
    from mtgateway_base.guard import GuardedProtocol

__all__ = ["Completed", "HandOff", "Malformed", "RequestAssembly", "RpcEdge", "RpcRequest",
           "Started", "has_bare_lf"]

log = logging.getLogger("gateway.rpcedge")

#: aiohttp's own limit on a request line or a header line (longer: 400).
_MAX_LINE: Final = 8190
#: A whole header block (the connection guard's limit on the aiohttp path; longer: 400).
_MAX_HEAD: Final = 64 * 1024
#: After an early refusal, the rest of the body is read and dropped for this long before the
#: connection is closed instead (aiohttp's ``lingering_time`` on the daemon, ``listener.py``).
LINGERING_S: Final = 2.0
#: Complete requests queued behind the one being answered before reading pauses.
_MAX_QUEUED: Final = 16
#: A keep-alive timer that fires this close to its deadline closes (uvloop times in ms).
_TIMER_SLACK_S: Final = 0.001
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
#: ``RequestHead(...)`` from a tuple without the ``NamedTuple``'s interpreted ``__new__``
#: (built for every request).
_head: Final = partial(tuple.__new__, RequestHead)
#: The headers whose first value the rules read (:meth:`RpcRequest.first`).
_NOTED: Final = frozenset({b"origin", b"content-type", b"authorization"})
_OK_HEAD: Final = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "


def has_bare_lf(data: bytes, start: int, stop: int) -> bool:
    """Whether ``data[start:stop]`` holds an LF not preceded by CR (the byte before
    ``start`` counts as the first one's predecessor).

    Two counts, both C loops over the bytes: a look-behind regex search did the same at
    ~2.1 us per request head here against ~0.4 us, ~5 % of a ``/rpc`` call's CPU.
    """
    return data.count(b"\n", start, stop) != data.count(b"\r\n", max(start - 1, 0), stop)


@dataclass(eq=False, slots=True, init=False)
class RpcRequest:
    """One request as the edge sees it: raw parts, body collected up to the limit.

    Its ``__init__`` is written out, without parameters (llhttp's callbacks fill it in): the
    one ``dataclass`` generates is interpreted even in the compiled build (and fills four
    fields from factories), and sixteen defaults bound on every call cost more than the
    assignments; one of several objects every ``/rpc`` call builds, written here it is
    compiled with the module.
    """

    target: bytes
    method: bytes
    minor: int
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
    #: A header says the request is not this edge's (``Upgrade``, or an ``Expect`` other
    #: than ``100-continue``): it goes to aiohttp.
    foreign: bool
    #: Every ``Host`` value, and the first value of the headers the rules read (noted as
    #: each header is read, so neither the checks nor the end of the headers scan them).
    hosts: list[bytes]
    noted: dict[bytes, bytes]
    #: How the edge waits for more of the body (:meth:`RpcEdge._until_body`, set when it
    #: queues the request).
    wait_body: Callable[[RpcRequest], Awaitable[None]] | None
    #: The head :meth:`head` built, and the request whose header block this one's repeats
    #: (:meth:`RequestAssembly._repeat`), where the head built for one of them is kept for
    #: the next.
    known_head: RequestHead | None
    template: RpcRequest | None
    #: The body is counted here, not by llhttp (a repeated header block's request, whose
    #: ``Content-Length`` body llhttp never sees).
    counted: bool

    def __init__(self) -> None:
        self.target = self.method = b""
        self.minor = 1
        self.keep_alive = True
        self.body = bytearray()
        self.body_left = 0
        self.content_length = None
        self.chunked = self.too_large = self.complete = self.broken = self.expect = False
        self.foreign = False
        self.hosts = []
        self.noted = {}
        self.wait_body = None
        self.known_head = self.template = None
        self.counted = False

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

    def head(self, peer: str) -> RequestHead:
        """What the header block says, as every rule reads it, for a request from ``peer``
        (decoded as aiohttp decodes a request's). The noted values are decoded here, not
        through :meth:`first` (a call each, on every request); built once, and given again
        to the requests that repeat this one's header block (the same peer's: one edge's
        requests)."""
        known = self.known_head
        if known is not None and known.peer == peer:
            return known
        template = self.template
        if template is not None:
            known = template.known_head
            if known is not None and known.peer == peer:
                self.known_head = known
                return known
        noted, target, hosts = self.noted, self.target, self.hosts
        origin, content_type = noted.get(b"origin"), noted.get(b"content-type")
        authorization = noted.get(b"authorization")
        method = self.method
        known = self.known_head = _head((  # (the usual method and target, not decoded)
            "POST" if method == b"POST" else method.decode("latin-1"),
            "/rpc" if target == b"/rpc" else target.decode("utf-8", "surrogateescape"),
            [hosts[0].decode("utf-8", "surrogateescape")] if len(hosts) == 1
            else [value.decode("utf-8", "surrogateescape") for value in hosts],
            None if origin is None else origin.decode("utf-8", "surrogateescape"),
            self.query_keys() if b"?" in target else (),
            None if content_type is None else content_type.decode("utf-8", "surrogateescape"),
            self.content_length, peer,
            None if authorization is None else authorization.decode("utf-8", "surrogateescape"),
            self.broken))
        if template is not None and not self.broken:
            template.known_head = known
        return known

    @property
    def path(self) -> bytes:
        return self.target.partition(b"?")[0]

    def query_keys(self) -> tuple[str, ...]:
        """The query string's keys, decoded (none without a query string)."""
        query = self.target.partition(b"?")[2]
        if not query:
            return ()
        return tuple(key for key, _ in parse_qsl(query.decode("latin-1"),
                                                 keep_blank_values=True))


# Started and Completed, built for every request, are named tuples made by ``tuple.__new__``
# (:data:`_started`, :data:`_completed`): no ``__init__`` of Python's runs, in either build (a
# frozen dataclass's generated one sets each field through ``object.__setattr__``, and any
# written out is a Python call in the pure build). Tell them apart by type, not by ``==``.


class Started(NamedTuple):
    """An ``/rpc`` request's headers are complete (its body may still be on the way)."""

    request: RpcRequest


class Completed(NamedTuple):
    """The request's body is complete."""

    request: RpcRequest


_started: Final = partial(tuple.__new__, Started)
_completed: Final = partial(tuple.__new__, Completed)


@dataclass(frozen=True, slots=True)
class HandOff:
    """A request that is not ``POST /rpc``: ``data`` is every byte from its first on."""

    data: bytes
    request: RpcRequest


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

    def __init__(self, max_body_bytes: int) -> None:
        self._parser = httptools.HttpRequestParser(self)
        self._max_body = max_body_bytes
        self._buffer = bytearray()
        self._state = _HEAD
        self._request: RpcRequest | None = None
        self._events: list[Event] = []
        #: The last header block llhttp parsed whose request a repeat may copy
        #: (:meth:`_repeat`), and that request.
        self._memo_raw = b""
        self._memo: RpcRequest | None = None
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
        if self._memo is not None and data.startswith(self._memo_raw):
            return self._repeat(self._memo, data[len(self._memo_raw):])
        while data[:2] == b"\r\n":  # empty lines before a request are ignored (RFC 9112)
            data, start = data[2:], 0
        end = data.find(b"\r\n\r\n", start)
        # A line ended by a bare LF: 400 at once, as aiohttp answers (RFC 9112 §2.2 lets a
        # server refuse it), rather than waiting for a CRLF CRLF that may never come. Only
        # the header block is searched (a body may hold any byte), from where new bytes
        # begin (the lookbehind still sees the byte before).
        stop = end + 4 if end >= 0 else len(data)  # (``has_bare_lf``, written out: each head)
        if data.count(b"\n", start, stop) != data.count(b"\r\n", start - 1 if start else 0, stop):
            self._malformed()
            return b""
        if end < 0:
            if len(data) > _MAX_HEAD or len(data) - (data.rfind(b"\r\n") + 2) > _MAX_LINE:
                self._malformed()
            else:
                self._buffer += data
            return b""
        head, rest = data[:end + 4], data[end + 4:]
        if len(head) > _MAX_LINE and (len(head) > _MAX_HEAD or any(
                len(line) > _MAX_LINE for line in head.split(b"\r\n"))):
            self._malformed()
            return b""
        # made here, not in llhttp's ``on_message_begin`` (a call from C on every request):
        # ``head`` holds one header block, so llhttp begins at most one message in it
        request = self._request = RpcRequest()
        try:
            self._parser.feed_data(head)
        except httptools.HttpParserUpgrade:
            pass  # an Upgrade request (a WebSocket): not ours, handed off below
        except httptools.HttpParserError:
            self._malformed()
            return b""
        if not request.method:  # llhttp saw no complete header block
            self._malformed()
            return b""
        if not _ours(request):
            self._state = _OFF
            self._events.append(HandOff(head + rest, request))
            return b""
        self._events.append(_started((request,)))
        if not request.chunked and not request.expect and request.keep_alive \
                and request.content_length is not None \
                and request.content_length <= self._max_body:
            self._memo = request.template = _template(request)  # (one a repeat may copy)
            self._memo_raw = head
        if request.complete:
            self._done(request)
        else:
            self._state = _BODY
        return rest

    def _repeat(self, memo: RpcRequest, data: bytes) -> bytes:
        """A header block byte for byte the one of ``memo`` (an earlier request of this
        connection, whose block llhttp accepted: ours, kept alive, a ``Content-Length`` body
        within the limit, neither chunked nor expecting); ``data``, the bytes after it.

        Clients send the same block on every call of a connection (the same Host, token,
        type and, for the same call, length), and llhttp, given the same bytes in the same
        state (between messages), says the same of them: the request is ``memo``'s parts,
        its body the next ``Content-Length`` bytes, counted here (llhttp sees neither: it
        stays between messages). Not parsed again, its head not built again (the request
        shares ``memo``'s :attr:`RpcRequest.known_head`): about a sixth of the instructions
        of a call. The bytes after the block are the same as after any other block."""
        request = self._request = RpcRequest()
        request.target, request.method, request.minor = memo.target, memo.method, memo.minor
        request.hosts, request.noted, request.template = memo.hosts, memo.noted, memo
        request.known_head = memo.known_head
        length = request.content_length = memo.content_length
        assert length is not None  # noqa: S101 - a memo has a Content-Length
        request.counted = True
        self._events.append(_started((request,)))
        if len(data) < length:  # the body's first part (the rest: :meth:`_body`)
            request.body += data
            request.body_left = length - len(data)
            self._state = _BODY
            return b""
        request.body += data[:length] if len(data) > length else data
        request.complete = True
        self._events.append(_completed((request,)))
        return data[length:] if len(data) > length else b""

    def _body(self, data: bytes) -> bytes:
        """Feed llhttp the body bytes at the start of ``data``, never past the message's end;
        the bytes after what was used."""
        request = self._request
        assert request is not None
        if request.counted:  # a repeated header block's body: llhttp does not see it
            size = min(len(data), request.body_left)
            request.body_left -= size
            request.body += data if size == len(data) else data[:size]
            if not request.body_left:
                request.complete = True
                self._done(request)
            return data[size:] if size < len(data) else b""
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

    def _done(self, request: RpcRequest) -> None:
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

    def on_header(self, name: bytes, value: bytes) -> None:
        """One header, whole (httptools calls it once the next one begins or the block
        ends): noted at once, so nothing scans the headers again. An exception here is
        llhttp's refusal of the request (``HttpParserCallbackError``): 400."""
        request = self._request
        assert request is not None
        name = name.lower()
        if name == b"host":
            request.hosts.append(value)
        elif name in _NOTED:
            request.noted.setdefault(name, value)  # the first value of each
        elif name == b"content-length":  # llhttp refuses it unless it is one number
            request.content_length = request.body_left = int(value)
        elif name == b"transfer-encoding":  # llhttp refuses it unless it ends chunked
            request.chunked = True
        elif name == b"expect":
            request.expect = True
            if value.lower() != b"100-continue":
                request.foreign = True
        elif name == b"upgrade":
            request.foreign = True

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
        request = self._request
        assert request is not None
        request.complete = True
        request.keep_alive = self._parser.should_keep_alive()


def _template(request: RpcRequest) -> RpcRequest:
    """What a repeat of ``request``'s header block copies (:meth:`RequestAssembly._repeat`):
    its head's parts, without its body (kept for the connection's life)."""
    template = RpcRequest()
    template.target, template.method, template.minor = request.target, request.method, \
        request.minor
    template.hosts, template.noted = request.hosts, request.noted
    template.content_length = request.content_length
    return template


def _ours(request: RpcRequest) -> bool:
    """``POST /rpc`` (any query: its token check is ours too) on HTTP/1.x without an upgrade
    or an expectation other than ``100-continue`` (on HTTP/1.1); anything else is aiohttp's."""
    target = request.target
    return request.method == b"POST" and (target == b"/rpc" or target.startswith(b"/rpc?")) \
        and not request.foreign and not (request.expect and request.minor != 1)


def response_bytes(request: RpcRequest, status: int, body: bytes | None, keep_alive: bool,
                   headers: dict[str, str] | None = None) -> bytes:
    """A whole response as aiohttp writes it for ``request``: its HTTP version, the
    ``Connection`` header it would add, ``Content-Type``/``Content-Length`` for a body."""
    if status == 200 and body is not None and headers is None and keep_alive \
            and request.minor == 1:  # the usual answer, without building it line by line
        return b"%s%d\r\n\r\n%s" % (_OK_HEAD, len(body), body)
    lines = [f"HTTP/1.{request.minor} {status} {HTTPStatus(status).phrase}"]
    if body is not None:
        lines.append("Content-Type: application/json")
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


class RpcEdge(asyncio.Protocol):
    """One connection: ``POST /rpc`` answered here, anything else handed to aiohttp.

    Args:
        app: the daemon's application (its config, budget, dispatcher, bridge...).
        aiohttp_protocol: makes aiohttp's protocol for a hand-off (the runner's server).
        edges: the site's open edges (:meth:`shut_down` is called on each at shutdown).
        access_log: the access logger when ``[logging] access_log`` is on.
    """

    def __init__(self, app: web.Application, aiohttp_protocol: Callable[[], asyncio.Protocol],
                 edges: set[RpcEdge], access_log: logging.Logger | None) -> None:
        self._app = app
        self._door = app[DOOR]
        self._server = app[CONFIG].server
        self._make_aiohttp = aiohttp_protocol
        self._edges = edges
        self._access_log = access_log
        self._assembly = RequestAssembly(self._server.max_body_bytes)
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._guard: GuardedProtocol | None = None
        self._peer = "?"
        self._queue: deque[RpcRequest | None] = deque()  # None: a malformed request
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
        #: The stream's state as the guard was last told it (told again only on a change).
        self._told: str | None = None

    # -- asyncio.Protocol (the transport's own, from the guard's connection_made on) ----------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self._peer = str(peer[0]) if isinstance(peer, tuple) else str(peer)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._guard = self._app[CONNECTIONS].find(transport)
        self._edges.add(self)

    def data_received(self, data: bytes) -> None:
        if self._handoff is not None:
            self._hold(data)
            return
        self._idle_since = None  # busy: the keep-alive timer, if armed, finds it so
        for event in self._assembly.feed(data):
            if type(event) is Started:  # (``_take``'s usual case, in place)
                if self._guard is not None:  # working from here until its answer is written
                    self._guard.request_started()
                event.request.wait_body = self._body_waiter
                self._queue.append(event.request)
            elif type(event) is not Completed:  # a body's end: ``_wake`` finds it below
                self._take(event)
        if self._guard is not None:  # its header and body deadlines, its eviction order
            state = self._assembly.watch_state
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
        elif not self._assembly.off:
            # One timer per connection, not one per request: armed when none is, it closes
            # the connection if it is still idle at its deadline and otherwise re-arms for
            # the latest idle period (a call_later and cancel per request was ~2 % of the
            # daemon's CPU per /rpc call under wrk c=32, profiled with perf).
            self._idle_since = now = self._loop.time()
            if self._keepalive is None:
                self._keepalive = self._loop.call_at(now + self._server.keepalive_timeout_s,
                                                     self._keepalive_due)
            return True
        else:
            self._close()  # the last request said Connection: close
        return False

    async def _serve(self) -> None:
        """The connection's answering task: the queued requests in order, then, while the
        connection stays open and idle, a wait for the next one. One task per connection,
        not one per request: a task costs its creation and its registration with asyncio
        (a ``WeakSet``, Python code even in the compiled build) on every call. Each request
        is answered in this coroutine's own frame, not in one it awaits: every level of the
        chain that waits for the EA's answer is resumed again when it comes."""
        try:
            while True:
                request = self._queue[0]
                keep = False
                try:
                    if request is None:
                        self._write(MALFORMED_REQUEST.raw())
                    else:
                        if request.expect:  # before the checks, as aiohttp's expect handler
                            self._write(_CONTINUE)
                        logged = self._access_log
                        started = self._loop.time() if logged is not None else 0.0
                        called: list[str] | None = [] if logged is not None else None
                        head = request.known_head  # (a repeat's: this edge's, its peer)
                        status, body, headers = await self._door.rpc(
                            request.head(self._peer) if head is None else head, request,
                            self._guard, called)
                        keep = request.keep_alive and not self._closing \
                            and not request.broken \
                            and not (headers and headers.get("Connection") == "close")
                        transport = self._transport  # (``_write``, in place)
                        if transport is not None and not self._lost:
                            transport.write(response_bytes(request, status, body, keep,
                                                           headers))
                        if logged is not None:
                            log_access(logged, self._peer, request.method.decode("latin-1"),
                                       request.path.decode("latin-1"), called or [], status,
                                       len(body) if body else 0, self._loop.time() - started)
                        # (``keep``: not broken, so the body is settled once complete)
                        if self._drained is not None or (keep and not request.complete):
                            keep = await self._after(request, keep)
                        else:
                            keep = keep and not self._lost
                except ConnectionResetError:
                    pass  # the client left while its body was on the way
                except Exception:  # a bug: never leak it, never leave the connection hanging
                    log.exception("answering /rpc failed")
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

    async def _after(self, request: RpcRequest, keep: bool) -> bool:
        """Once the answer is written: wait for the transport to drain, and if the request
        was refused before its body came, read and drop the rest of it; True when the
        connection stays open."""
        if self._drained is not None:
            await self._drained
        if keep and not request.settled:  # refused early: drop the rest of the body
            try:
                async with asyncio.timeout(LINGERING_S):
                    await self._until_body(request, whole=True)
            except (TimeoutError, ConnectionResetError):
                return False
        return keep and not self._lost and not request.broken

    async def _until_body(self, request: RpcRequest, *, whole: bool = False) -> None:
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
        due = self._idle_since + self._server.keepalive_timeout_s
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
