"""A connection's bytes to HTTP/1.x requests on llhttp (httptools), with no I/O and no clock:
the sans-I/O core of the llhttp edge (``httpedge.py``, the shell that answers them).

:class:`RequestAssembly`, fed a connection's bytes, says when one of the edge's requests has its
headers complete (the :class:`EdgeRequest` itself, whose body is whole once its ``complete`` is
set, by this or a later feed), when a request must go to aiohttp (:class:`HandOff`, carrying
every byte from that request's first on) and when the stream is not HTTP (:class:`Malformed`:
400 and close). It finds each header block's end itself and feeds llhttp one message at a time
(a body by its ``Content-Length``, a chunked body up to each LF), so it always knows where a
request began: llhttp does not say where in a buffer it stopped. Conflicting or doubled
``Content-Length`` and ``Transfer-Encoding`` are llhttp's refusals (no smuggling). With
``repeats`` a header block a connection sent before, byte for byte, is not parsed again
(:meth:`RequestAssembly._repeat`).

Every request passes through it: it is written to do little per request, and compiled with
mypyc in the compiled build (``[tool.mtgateway-base] compiled``), as the shell is.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import httptools

__all__ = ["MAX_LINE", "EdgeRequest", "Event", "HandOff", "Malformed", "RequestAssembly",
           "has_bare_lf", "plain_request"]

#: aiohttp's own limit on a request line or a header line (longer: 400).
MAX_LINE: Final = 8190
#: A whole header block (the connection guard's limit on the aiohttp path; longer: 400).
_MAX_HEAD: Final = 64 * 1024
#: A header block's field names, and values (without the whitespace around them); the
#: request line is not preceded by a line end, so neither matches it. A value is the longest
#: run of the line that ends in a byte other than a space or a tab (empty when there is
#: none), not the shortest run the line's trailing whitespace follows: the same bytes, but a
#: lazy ``*?`` tries the rest of the pattern after every byte of the value, slow on a device
#: call's long signature header (``base/tests/test_header_fields.py`` holds the two to one
#: reading).
_NAMES: Final = re.compile(rb"\r\n([^:\r\n]*):")
_VALUES: Final = re.compile(rb"\r\n[^:\r\n]*:[ \t]*((?:[^\r\n]*[^ \t\r\n])?)[ \t]*(?=\r\n)")
#: The headers whose first value a process's rules read (:meth:`EdgeRequest.first`).
_NOTED: Final = frozenset({b"origin", b"content-type", b"authorization"})


def has_bare_lf(data: bytes, start: int, stop: int) -> bool:
    """Whether ``data[start:stop]`` holds an LF not preceded by CR (the byte before
    ``start`` counts as the first one's predecessor).

    Two counts, both C loops over the bytes: a look-behind regex search did the same several
    times slower, on every request head (timed: ``docs/history/performance-notes.md``,
    "Measured costs by module").
    """
    return data.count(b"\n", start, stop) != data.count(b"\r\n", max(start - 1, 0), stop)


@dataclass(eq=False, slots=True, init=False)
class EdgeRequest:
    """One request as the edge sees it: raw parts, body collected up to the limit.

    Its ``__init__`` is written out, without parameters (the assembly fills the fields in):
    every request builds one, and the one ``dataclass`` generates is not compiled with the
    module (it stays interpreted in the compiled build, and fills four fields from factories).
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
    #: How the edge waits for more of the body (``httpedge.HttpEdge._until_body``, set when it
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
# build: a named tuple made by ``tuple.__new__`` is costly in the compiled build, a class's
# ``__init__`` runs as Python in the pure one), and its body's end is no event at all
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
        ours: which of the plain requests (:func:`plain_request`: the assembly hands off
            any other itself) the edge answers (the others are handed off).
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
        stop = end + 4 if end >= 0 else len(data)  # (``has_bare_lf``, written out: every head)
        if data.count(b"\n", start, stop) != data.count(b"\r\n", start - 1 if start else 0, stop):
            self._malformed()
            return b""
        if end < 0:
            if len(data) > _MAX_HEAD or len(data) - (data.rfind(b"\r\n") + 2) > MAX_LINE:
                self._malformed()
            else:
                self._buffer += data
            return b""
        head, rest = data[:end + 4], data[end + 4:]
        if len(head) > MAX_LINE and (len(head) > _MAX_HEAD or any(
                len(line) > MAX_LINE for line in head.split(b"\r\n"))):
            self._malformed()
            return b""
        # made here, not in llhttp's ``on_message_begin`` (a call from C on every request):
        # ``head`` holds one header block, so llhttp begins at most one message in it
        request = self._request = EdgeRequest()
        # A header folded over lines (obsolete: RFC 9112 section 5.2 lets a server refuse
        # it), or fields that cannot be read. They are read before llhttp judges the block
        # (and refuses what they could not be read as), so that their framing says how much
        # of ``rest`` is the body.
        if b"\r\n " in head or b"\r\n\t" in head or not _read_headers(request, head):
            self._malformed()
            return b""
        length = request.content_length
        # A body whose bytes are all here goes to llhttp with its header block, in one feed
        # (one pass through llhttp's callbacks, not two).
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
        # (:func:`plain_request`, in place: every request's header block is judged here)
        if request.foreign or (request.expect and request.minor != 1) \
                or not self._ours(request):
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
            if whole:
                request.body_left = 0
                return rest[length:] if length else rest
        elif whole:  # not reached: llhttp had the whole body and did not end the message
            self._malformed()
            return b""
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
    """The header fields of ``head`` (one whole header block, which llhttp judges next) into
    ``request``: its
    names (lowercase) and values, every ``Host``, the first value of each noted header, the
    body's framing, the expectation and whether a header makes it foreign.

    Read with two regular expressions over the whole block rather than llhttp's callback
    per header: a callback runs Python for each of a request's headers (ten on a device
    call), and its bytes were decoded one by one after. False when the block's lines cannot
    be read as fields.
    """
    names, values = _NAMES.findall(head.lower()), _VALUES.findall(head)
    if len(names) != len(values):  # a line without a colon (llhttp refuses it too)
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
        elif name == b"content-length":  # llhttp refuses it unless it is one number
            if not value.isdigit():
                return False
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
