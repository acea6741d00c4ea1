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

* :class:`~mtgateway_base.httpassembly.RequestAssembly` -- sans-I/O (``httpassembly.py``).
  Fed a connection's bytes, it says when one of the edge's requests has its headers complete
  (the :class:`~mtgateway_base.httpassembly.EdgeRequest` itself), when a request must go to
  aiohttp (a hand-off, with every byte from that request's first on) and when the stream is
  not HTTP (400 and close); llhttp refuses conflicting or doubled ``Content-Length`` and
  ``Transfer-Encoding`` (no smuggling). With :attr:`EdgeSettings.repeats` a header block a
  connection sent before, byte for byte, is not parsed again.
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

Every request, every answer, on this path: it is written to do little per request, and
compiled with mypyc in the compiled build (``[tool.mtgateway-base] compiled``).

Not sent: ``Date`` and ``Server`` headers (nothing reads them on loopback or a device call).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Final

from .httpassembly import (
    MAX_LINE,
    EdgeRequest,
    Event,
    HandOff,
    Malformed,
    RequestAssembly,
    has_bare_lf,
    plain_request,
)

if TYPE_CHECKING:
    from .guard import ConnectionBudget, GuardedProtocol

__all__ = ["Answer", "Answerer", "EdgeRequest", "EdgeSettings", "Event", "HandOff", "HttpEdge",
           "JSON_TYPE", "Malformed", "RequestAssembly", "has_bare_lf", "plain_request",
           "response_bytes"]

log = logging.getLogger(__name__)

#: Complete requests queued behind the one being answered before reading pauses.
_MAX_QUEUED: Final = 16
#: A keep-alive timer that fires this close to its deadline closes (uvloop times in ms).
_TIMER_SLACK_S: Final = 0.001
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
#: The ``Content-Type`` of every answer with a body, unless the process says otherwise.
JSON_TYPE: Final = "application/json"


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
    body's length and the body (made once per ``Content-Type``, not per connection)."""
    head = _OK_HEADS.get(content_type)
    if head is None:
        head = _OK_HEADS[content_type] = (
            b"HTTP/1.1 200 OK\r\nContent-Type: "
            + content_type.encode("latin-1").replace(b"%", b"%%")
            + b"\r\nContent-Length: %d\r\n\r\n%s")
    return head


#: :func:`_ok_head`'s heads by ``Content-Type`` (a process has one or two).
_OK_HEADS: Final[dict[str, bytes]] = {}


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

    #: Which of the plain requests (:func:`plain_request`: the edge hands off any other
    #: itself) the edge answers: the process's paths.
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
        #: The usual answer's head (:func:`_ok_head`, made once per process).
        self._ok = _OK_HEADS.get(settings.content_type) or _ok_head(settings.content_type)
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        #: The connection's guard (None when served without one): set by whoever puts the
        #: edge behind its guard (the site's protocol factory), else found in the budget when
        #: the connection is made.
        self.guard: GuardedProtocol | None = None
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

    # -- asyncio.Protocol (the transport's own, from the guard's connection_made on) ----------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (no TCP_NODELAY of its own: asyncio's TCP transports, selector and proactor, and
        # uvloop's set it on every TCP connection they make)
        self._transport = transport  # type: ignore[assignment]
        guard = self.guard
        if guard is None:
            guard = self.guard = self._budget.find(transport)
        if guard is not None:
            self._peer = guard.peer  # (the guard read it when it admitted the connection)
        else:
            peer = transport.get_extra_info("peername")
            self._peer = str(peer[0]) if isinstance(peer, tuple) else str(peer)
        self._edges.add(self)

    def data_received(self, data: bytes) -> None:
        if self._handoff is not None:
            self._hold(data)
            return
        self._idle_since = None  # busy: the keep-alive timer, if armed, finds it so
        for event in self._assembly.feed(data):
            if type(event) is EdgeRequest:  # (``_take``'s usual case, in place: each request)
                if self.guard is not None:  # working from here until its answer is written
                    self.guard.request_started()
                event.wait_body = self._body_waiter
                self._queue.append(event)
            else:
                self._take(event)
        if self.guard is not None:  # its header and body deadlines, its eviction order
            state = self._assembly.watch_state
            if state != self._told:  # (a whole request read leaves it idle, as it was)
                self._told = state
                self.guard.stream_at(state)
        if self._waiter is not None:  # an answer waits for the front request's body
            self._wake()
        if len(self._queue) > _MAX_QUEUED and self._reading:
            self._pause_reading()
        self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        # (``_stop_keepalive`` and ``_release`` in place: every connection ends here)
        self._lost = True
        self._edges.discard(self)
        if self._keepalive is not None:
            self._keepalive.cancel()
            self._keepalive = None
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionResetError("the client left"))
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        if self._more is not None and not self._more.done():  # the answering task waits
            self._more.set_result(None)
        if self._settings.cancel_on_leave and self._busy and self._task is not None:
            self._task.cancel()  # the answer in progress ends with its client
        if self.guard is not None:
            self.guard.closed()

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
        if len(self._handoff) > 2 * MAX_LINE and self._reading:
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
            # the latest idle period (rather than a timer made and cancelled for every
            # request).
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
                                                                     self.guard)
                        keep = request.keep_alive and not self._closing \
                            and not request.broken \
                            and not (headers and headers.get("Connection") == "close")
                        transport = self._transport  # (``_write``, in place: each answer)
                        if transport is not None and not self._lost:
                            transport.write(
                                self._ok % (len(body), body)  # (``response_bytes``' usual 200)
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
                    if request is not None and self.guard is not None:
                        self.guard.request_finished()
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
        if self.guard is not None:
            if not self.guard.take_back(self._make_aiohttp, data):
                return  # the guard refused what it saw (and closed)
        else:
            protocol = self._make_aiohttp()
            self._transport.set_protocol(protocol)
            protocol.connection_made(self._transport)
            if data:
                protocol.data_received(data)
        if not self._reading:
            self._resume_reading()
