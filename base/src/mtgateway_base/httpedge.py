"""An HTTP/1.x edge on llhttp (httptools): a process's hot requests answered without aiohttp's
request machinery, every other request handed to aiohttp's protocol on the same connection.

aiohttp's request and response objects cost several times an ``asyncio.Protocol`` on llhttp
(``docs/performance.md``: the daemon's ``/rpc`` and the console's device calls). An edge
answers the requests its process names (:attr:`EdgeSettings.ours`) through the process's own
``answer`` (which takes that process's door: its Host rule, its caller, its bounds, its one
refusal table) and hands any other request, with the bytes already read, to aiohttp's protocol
(then the connection is aiohttp's for good). uvicorn's ``httptools_impl`` is the shape. Both
services stand on it: the daemon's ``POST /rpc`` (``gateway/edge/llhttp.py``) and the
console's device calls (``mtgateway_console/door/edge.py``); each gives its own ``answer``,
its paths and its values (:class:`EdgeSettings`), nothing more.

Two parts, a sans-I/O core and a thin I/O shell:

* :class:`RequestAssembly` -- sans-I/O. Fed a connection's bytes, it says when one of the
  edge's requests has its headers complete (the :class:`EdgeRequest` itself, whose body is
  whole once its ``complete`` is set, by this or a later feed), when a request must go to
  aiohttp (:class:`HandOff`, carrying every byte from that request's first on) and when the
  stream is not HTTP (:class:`Malformed`: 400 and close). It finds each header block's end
  itself and feeds llhttp one message at a time (a body by its ``Content-Length``, a chunked
  body up to each LF), so it always knows where a request began: llhttp does not say where in
  a buffer it stopped. Conflicting or doubled ``Content-Length`` and ``Transfer-Encoding``
  are llhttp's refusals (no smuggling).
  With :attr:`EdgeSettings.repeats` a header block a connection sent before, byte for byte,
  is not parsed again (:meth:`RequestAssembly._repeat`).
* :class:`HttpEdge` -- the ``asyncio.Protocol`` shell. The connection guard
  (:class:`~mtgateway_base.guard.GuardedProtocol`, with ``parses``) admits the connection and
  steps out of the data path (``transport.set_protocol``, as uvicorn's protocol hands an
  upgraded connection on): the edge is the transport's protocol and tells the guard where
  the stream stands (``stream_at``: its header and body deadlines, its eviction order)
  instead of the guard running its own header watch over every chunk. At a hand-off the
  guard takes the transport back with aiohttp's protocol inside (``take_back``) and the edge
  sees no more bytes. Requests are answered one at a time in arrival order (pipelining, as
  aiohttp does), by one task per connection that waits for the next request while idle; an
  idle connection closes after ``keepalive_timeout_s``; and :meth:`HttpEdge.shut_down` lets
  the request in progress finish before the connection closes. A client that leaves does
  not end the answer in progress (a trade in flight finishes, as with aiohttp's defaults)
  unless :attr:`EdgeSettings.cancel_on_leave` says so (a long-poll ends with its client).

Every request, every answer, on this path: it is written for the count of Python calls a
request costs (``python -m bench.rpcwork``, ``python -m bench.callwork``: the same on any
machine), and compiled with mypyc in the compiled build (``[tool.mtgateway-base] compiled``).

Not sent: ``Date`` and ``Server`` headers (nothing reads them on loopback or a device call).
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final

import httptools

if TYPE_CHECKING:
    from .guard import ConnectionBudget, GuardedProtocol

__all__ = ["Answer", "Answerer", "EdgeRequest", "EdgeSettings", "Event", "HandOff", "HttpEdge",
           "JSON_TYPE", "Malformed", "RequestAssembly", "has_bare_lf", "plain_request",
           "response_bytes"]

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

    Its ``__init__`` is written out, without parameters (the assembly fills the fields in):
    the one ``dataclass`` generates is interpreted even in the compiled build (and fills four
    fields from factories), and defaults bound on every call cost more than the assignments;
    one of several objects every request builds, written here it is compiled with the module.
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
    #: A header says the request is not an edge's (``Upgrade``, or an ``Expect`` other than
    #: ``100-continue``): it goes to aiohttp (:func:`plain_request`).
    foreign: bool
    #: Every ``Host`` value, and the first value of the headers the rules read (noted while
    #: the headers are read, so the checks do not scan them again).
    hosts: list[bytes]
    noted: dict[bytes, bytes]
    #: How the edge waits for more of the body (:meth:`HttpEdge._until_body`, set when it
    #: queues the request).
    wait_body: Callable[[EdgeRequest], Awaitable[None]] | None
    #: What the serving process made of the header block (the daemon: the head its rules
    #: read), kept by the process; and the request whose header block this one's repeats
    #: (:meth:`RequestAssembly._repeat`), where what was made for one of them is kept for
    #: the next.
    known: Any
    template: EdgeRequest | None
    #: The body is counted here, not by llhttp (a repeated header block's request, whose
    #: ``Content-Length`` body llhttp never sees).
    counted: bool

    def __init__(self) -> None:
        self.target = self.method = self.head = b""
        self.minor = 1
        self.headers = []
        self.keep_alive = True
        self.body = bytearray()
        self.body_left = 0
        self.content_length = None
        self.chunked = self.too_large = self.complete = self.broken = self.expect = False
        self.foreign = False
        self.hosts = []
        self.noted = {}
        self.wait_body = None
        self.known = self.template = None
        self.counted = False

    @property
    def settled(self) -> bool:
        """Nothing more will come of the body: complete or broken."""
        return self.complete or self.broken

    # -- a door's body (the daemon's ``Body``, the console's ``read``) ----------------------

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


# A request whose headers are complete is its own event (no object made for it, in either
# build: a named tuple made by ``tuple.__new__`` cost ~1,100 instructions in the compiled build,
# a class's ``__init__`` a Python call in the pure one), and its body's end is no event at all
# (its ``complete``, read where it is waited for). The rarer events are objects of their own.


@dataclass(frozen=True, slots=True)
class HandOff:
    """A request that is not the edge's own: ``data`` is every byte from its first on."""

    data: bytes
    request: EdgeRequest


@dataclass(frozen=True, slots=True)
class Malformed:
    """The bytes are not an acceptable HTTP/1.x request: answer 400 and close."""


#: What :meth:`RequestAssembly.feed` says: a request whose headers are complete, a request
#: for aiohttp, bytes that are not HTTP.
Event = EdgeRequest | HandOff | Malformed

_HEAD, _BODY, _OFF = 0, 1, 2


class RequestAssembly:
    """A connection's byte stream to request events (no I/O, no clock).

    States: reading a header block, reading a body, and off (after a hand-off, a malformed
    request, or a request that closes the connection: nothing more is parsed).

    Args:
        max_body_bytes: a body past this is read on and dropped (``too_large``).
        ours: which requests the edge answers (the others are handed off).
        repeats: a header block the connection sent before, byte for byte, is not parsed
            again (:meth:`_repeat`): for clients that send one block on every call.
    """

    def __init__(self, max_body_bytes: int, ours: Callable[[EdgeRequest], bool], *,
                 repeats: bool = False) -> None:
        self._parser = httptools.HttpRequestParser(self)
        self._ours = ours
        self._max_body = max_body_bytes
        self._repeats = repeats
        self._buffer = bytearray()
        self._state = _HEAD
        self._request: EdgeRequest | None = None
        self._events: list[Event] = []
        #: The last header block llhttp parsed whose request a repeat may copy
        #: (:meth:`_repeat`), and that request.
        self._memo_raw = b""
        self._memo: EdgeRequest | None = None
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
        request = self._request = EdgeRequest()
        try:
            self._parser.feed_data(head)
        except httptools.HttpParserUpgrade:
            pass  # an Upgrade request (a WebSocket): not ours, handed off below
        except httptools.HttpParserError:
            self._malformed()
            return b""
        # llhttp saw no complete header block; or a header folded over lines (obsolete:
        # RFC 9112 section 5.2 lets a server refuse it); or fields that cannot be read
        if not request.method or b"\r\n " in head or b"\r\n\t" in head \
                or not _read_headers(request, head):
            self._malformed()
            return b""
        if not self._ours(request):
            self._state = _OFF
            self._events.append(HandOff(head + rest, request))
            return b""
        self._events.append(request)
        if self._repeats and not request.chunked and not request.expect \
                and request.keep_alive and request.content_length is not None \
                and request.content_length <= self._max_body:
            self._memo = request.template = _template(request)  # (one a repeat may copy)
            self._memo_raw = head
        if request.complete:
            self._done(request)
        else:
            self._state = _BODY
        return rest

    def _repeat(self, memo: EdgeRequest, data: bytes) -> bytes:
        """A header block byte for byte the one of ``memo`` (an earlier request of this
        connection, whose block llhttp accepted: ours, kept alive, a ``Content-Length`` body
        within the limit, neither chunked nor expecting); ``data``, the bytes after it.

        Clients send the same block on every call of a connection (the same Host, token,
        type and, for the same call, length), and llhttp, given the same bytes in the same
        state (between messages), says the same of them: the request is ``memo``'s parts,
        its body the next ``Content-Length`` bytes, counted here (llhttp sees neither: it
        stays between messages). Not parsed again, what the process made of it not made
        again (the request shares ``memo``'s :attr:`EdgeRequest.known`): about a sixth of
        the instructions of a daemon's ``/rpc`` call. The bytes after the block are the
        same as after any other block."""
        request = self._request = EdgeRequest()
        request.target, request.method, request.minor = memo.target, memo.method, memo.minor
        request.head, request.headers = memo.head, memo.headers
        request.hosts, request.noted, request.template = memo.hosts, memo.noted, memo
        request.known = memo.known
        length = request.content_length = memo.content_length
        assert length is not None  # noqa: S101 - a memo has a Content-Length
        request.counted = True
        self._events.append(request)
        if len(data) < length:  # the body's first part (the rest: :meth:`_body`)
            request.body += data
            request.body_left = length - len(data)
            self._state = _BODY
            return b""
        request.body += data[:length] if len(data) > length else data
        request.complete = True
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

    def _done(self, request: EdgeRequest) -> None:
        """``request``'s body is whole: the next header block, unless it closes."""
        self._state = _HEAD if request.keep_alive else _OFF

    def _malformed(self) -> None:
        if self._state == _BODY and self._request is not None:
            self._request.broken = True  # the request it belongs to is answered 400
        self._state = _OFF
        self._buffer.clear()
        self._events.append(Malformed())

    # -- httptools callbacks (the header fields are read by :func:`_read_headers`) -----------

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
        request = self._request
        assert request is not None
        request.complete = True
        request.keep_alive = self._parser.should_keep_alive()


def _read_headers(request: EdgeRequest, head: bytes) -> bool:
    """The header fields of ``head`` (a header block llhttp accepted) into ``request``: its
    names (lowercase) and values, every ``Host``, the first value of each noted header, the
    body's framing, the expectation and whether a header makes it foreign.

    Read with two regular expressions over the whole block rather than llhttp's callback
    per header: a callback is a Python call for each of a request's headers (ten on a device
    call), and its bytes decoded one by one after (a tenth of a device call's Python calls,
    counted). False when the block's lines cannot be read as fields.
    """
    names, values = _NAMES.findall(head.lower()), _VALUES.findall(head)
    if len(names) != len(values):  # not reached: llhttp refused a line without a colon
        return False
    request.head = head
    request.headers = headers = list(zip(names, values, strict=True))
    noted = request.noted
    for name, value in headers:
        if name == b"host":
            request.hosts.append(value)
        elif name in _NOTED:
            if name not in noted:
                noted[name] = value
        elif name == b"content-length":  # llhttp refused it unless it is one number
            request.content_length = request.body_left = int(value)
        elif name == b"transfer-encoding":  # llhttp refused it unless it ends chunked
            request.chunked = True
        elif name == b"expect":
            request.expect = True
            if value.lower() != b"100-continue":
                request.foreign = True
        elif name == b"upgrade":
            request.foreign = True
    return True


def _template(request: EdgeRequest) -> EdgeRequest:
    """What a repeat of ``request``'s header block copies (:meth:`RequestAssembly._repeat`):
    its head's parts, without its body (kept for the connection's life)."""
    template = EdgeRequest()
    template.target, template.method, template.minor = request.target, request.method, \
        request.minor
    template.head, template.headers = request.head, request.headers
    template.hosts, template.noted = request.hosts, request.noted
    template.content_length = request.content_length
    return template


def plain_request(request: EdgeRequest) -> bool:
    """HTTP/1.x without an upgrade or an expectation other than ``100-continue`` (on
    HTTP/1.1): the only requests an edge answers itself; anything else is aiohttp's."""
    return not request.foreign and not (request.expect and request.minor != 1)


def response_bytes(request: EdgeRequest, status: int, body: bytes | None, keep_alive: bool,
                   headers: dict[str, str] | None = None, content_type: str = JSON_TYPE
                   ) -> bytes:
    """A whole response as aiohttp writes it for ``request``: its HTTP version, the
    ``Connection`` header it would add, ``Content-Type``/``Content-Length`` for a body."""
    if status == 200 and body is not None and headers is None and keep_alive \
            and request.minor == 1:  # the usual answer, without building it line by line
        return _ok_head(content_type) % (len(body), body)
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


def _ok_head(content_type: str) -> bytes:
    """The usual answer's head (200, kept alive, HTTP/1.1), to be filled with ``%`` by the
    body's length and the body."""
    return (b"HTTP/1.1 200 OK\r\nContent-Type: "
            + content_type.encode("latin-1").replace(b"%", b"%%")
            + b"\r\nContent-Length: %d\r\n\r\n%s")


#: What an edge's ``answer`` gives back: the status, the body (JSON) and any other headers.
Answer = tuple[int, bytes | None, dict[str, str] | None]
#: How an edge answers one of its requests, given the peer's address and the connection's
#: guard (None when served without one). Called once per request on the connection's
#: answering task, which awaits what it returns in its own frame: a plain function that
#: returns a coroutine adds no coroutine level of its own.
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
    #: A connection's header block repeated byte for byte is not parsed again
    #: (:class:`RequestAssembly`): for clients that send the same block on every call (the
    #: daemon's ``/rpc``: the same Host, token, type and length). Off where every block
    #: differs (a device call's proof is good once): the check would be work for nothing.
    repeats: bool = False


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
        self._assembly = RequestAssembly(settings.max_body_bytes, settings.ours,
                                         repeats=settings.repeats)
        #: The usual answer's head (:func:`_ok_head`), made once.
        self._ok = _ok_head(settings.content_type)
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
        #: The stream's state as the guard was last told it (told again only on a change).
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
        for event in self._assembly.feed(data):
            if type(event) is EdgeRequest:  # (``_take``'s usual case, in place)
                if self._guard is not None:  # working from here until its answer is written
                    self._guard.request_started()
                event.wait_body = self._body_waiter
                self._queue.append(event)
            else:
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
        elif self._assembly.watch_state != "off":  # (``RequestAssembly.off``, a value)
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
        (a ``WeakSet``, Python code even in the compiled build) on every call. Each request
        is answered in this coroutine's own frame, not in one it awaits: every level of the
        chain that waits for the answer (a daemon's EA, a console's database) is resumed
        again when it comes."""
        try:
            while True:
                request = self._queue[0]
                keep = False
                try:
                    if request is None:
                        self._write(self._settings.malformed)
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
                            transport.write(
                                self._ok % (len(body), body)  # (the usual answer, in place)
                                if status == 200 and body is not None and headers is None
                                and keep and request.minor == 1
                                else response_bytes(request, status, body, keep, headers,
                                                    self._settings.content_type))
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
