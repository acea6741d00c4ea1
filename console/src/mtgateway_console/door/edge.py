"""The daemons' device calls on llhttp (``[console] device_edge = "llhttp"``): the console's hot
path without aiohttp's request machinery, behind the same door.

Every daemon calls its console at a steady cadence (a report every 30 s, a refresh every 300 s,
a held revocation poll), so the console's work per device call is its hosting cost; through
aiohttp a call paid more for aiohttp's request, router, middlewares and response than for the
door and the call itself (``docs/performance.md``). The device calls of :data:`DEVICE_CALLS`
are parsed by the ground floor's llhttp edge (``mtgateway_base.httpedge``) and answered here;
every other request (the pages, the owner API, the MT4 Web API, a device call with a query
string or an upgrade) is handed to aiohttp on the same connection, whose middlewares serve it
as before.

What a device call goes through here is what the middlewares and the door do on aiohttp, in
the same order, with the same parts:

1. **Host** -- :func:`~mtgateway_base.edge.host_allowed` on loopback or ``[console]
   allowed_hosts``, else 421 in the console's shape, noted in the port's security log (the
   ``host_allowlist`` middleware's rule, ``answers.py``).
2. **Fair share** -- counted as its address's until the door knows the device, its share of
   the requests in progress given back once answered (the ``fair_share`` middleware's
   steps, ``entry.py``).
3. **The door and the handler** -- the route's own handler (``routes/``), unchanged: it
   enters by :meth:`~.entry.Door.enter` (the device proof, the body read once within the
   guard's ``[console] body_timeout_s``, 413 past the limit, the model's 400), given a
   :class:`DeviceCall` as its request.
4. **One refusal** -- every failure through :func:`~.answers.refusal_of` and the owner API's
   renderer (the ``boundary`` middleware's step).
5. **Counted** -- the request metrics and the access log line, as the ``metrics`` middleware
   and the access logger write them.

The connection guard (``mtgateway_base.guard``) admits each connection and holds it to its
deadlines, its budget and the Host rule before the edge sees a byte, as on the aiohttp path.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from mtgateway_base.access import log_access
from mtgateway_base.edge import HostRefusals, host_allowed
from mtgateway_base.fairshare import address_key
from mtgateway_base.guard import ConnectionBudget, GuardedProtocol, GuardedSite
from mtgateway_base.httpedge import (
    Answer,
    EdgeRequest,
    EdgeSettings,
    HttpEdge,
)
from mtgateway_base.jsonbytes import encoder

from ..appkeys import CONSOLE_METRICS, FAIR_SHARE
from ..errors import Refusal
from ..fairshare import CALLER, Who
from .answers import MISDIRECTED, Renderer, plain, refusal_of
from .callers import TAKEN

if TYPE_CHECKING:
    import socket
    import ssl

__all__ = ["DEVICE_CALLS", "DeviceAnswer", "DeviceCall", "DeviceEdge", "DeviceSite",
           "device_routes", "json_answer", "settings"]

log = logging.getLogger(__name__)

#: The device calls the edge answers (method, path); each is a route of ``routes/``.
DEVICE_CALLS: Final = frozenset({
    ("POST", "/v1/records/lookup"), ("POST", "/v1/records/refresh"),
    ("POST", "/v1/terminals/report"), ("POST", "/v1/device/revocations"),
    ("POST", "/v1/device/verify"), ("POST", "/v1/device/resend"),
    ("GET", "/v1/device/status"), ("GET", "/v1/keys")})
#: The same, as the bytes llhttp reads (a target with a query string is aiohttp's).
_TARGETS: Final = frozenset((method.encode(), path.encode()) for method, path in DEVICE_CALLS)
#: How many Host values the Host rule's answers are remembered for.
_HOSTS_REMEMBERED: Final = 4096
#: A header block's fields, as the edge's assembly reads them (``mtgateway_base.httpassembly``'s
#: ``_VALUES``: a value the longest run of its line that ends in neither a space nor a tab,
#: not a lazy match, which tried the rest of the pattern after every byte).
_FIELDS: Final = re.compile(r"\r\n([^:\r\n]*):[ \t]*((?:[^\r\n]*[^ \t\r\n])?)[ \t]*(?=\r\n)")
#: What a route's handler is.
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: An answer to bytes that are not HTTP, in the console's shape.
MALFORMED: Final = (b"HTTP/1.1 400 Bad Request\r\n"
                    b"Content-Type: application/json; charset=utf-8\r\n"
                    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s")


def _malformed() -> bytes:
    body = json.dumps({"error": {"code": 400, "reason": "bad_request",
                                 "message": "the request is not valid HTTP/1.1"}}).encode()
    return MALFORMED % (len(body), body)


def ours(request: EdgeRequest) -> bool:
    """A device call, its target exactly the route's path (on plain HTTP/1.x: the edge
    hands off any other request before asking, ``plain_request``)."""
    return (request.method, request.target) in _TARGETS


def device_routes(app: web.Application) -> dict[str, Handler]:
    """Each device call's handler, by path, from ``app``'s routes (added by ``routes/``)."""
    found: dict[str, Handler] = {}
    for route in app.router.routes():
        resource = route.resource
        if resource is not None and (route.method, resource.canonical) in DEVICE_CALLS:
            found[resource.canonical] = route.handler
    missing = {path for _, path in DEVICE_CALLS} - found.keys()
    if missing:
        raise RuntimeError(f"device calls without a route: {sorted(missing)}")
    return found


#: Each device call's method and path as the handlers read them, by the bytes llhttp read (a
#: table, not a decoding per call: :func:`ours` lets through these targets alone).
_METHODS: Final = {method.encode(): method for method, _ in DEVICE_CALLS}
_PATHS: Final = {path.encode(): path for _, path in DEVICE_CALLS}


class DeviceCall(dict[Any, Any]):
    """A device call as its handler and the door read it: the parts of aiohttp's request they
    use (``app``, ``headers``, ``method``, ``path``, ``raw_path``, ``remote``, ``transport``,
    ``read()``, the request's own storage), from what llhttp parsed.

    The request's own storage is the object itself, a ``dict`` (what the door keeps per
    request: its place in the fair share), read and written as a plain ``dict`` (aiohttp's
    request is a mapping written in Python). A request
    of its own, not a copy of aiohttp's: building aiohttp's request costs more than the
    handler's work on most device calls. The connection guard is carried
    (:attr:`guard`: ``mark_authenticated`` and ``mark_held`` mark it, as they mark an aiohttp
    request's through the budget).
    """

    __slots__ = ("_request", "app", "guard", "headers", "method", "path", "remote",
                 "transport")

    def __init__(self, app: Any, request: EdgeRequest, peer: str,
                 guard: GuardedProtocol | None) -> None:
        self.app = app  # the application, or a read-only view of its state
        self._request = request
        self.method = _METHODS[request.method]
        self.path = _PATHS[request.target]
        self.remote = peer
        self.guard = guard
        self.transport = guard.transport if guard is not None else None
        # the header block decoded once and read as fields by one expression (decoded as
        # aiohttp decodes header values; a device call's headers are ASCII)
        self.headers = CIMultiDictProxy(CIMultiDict(_FIELDS.findall(
            request.head.decode("utf-8", "surrogateescape"))))

    @property
    def raw_path(self) -> str:
        return self.path

    async def read(self) -> bytes:
        """The whole body, within the guard's body deadline.

        Raises:
            web.HTTPRequestEntityTooLarge: past the console's limit (the door's 413).
            Refusal: 400, the body is not valid HTTP (a bad chunk).
            ConnectionResetError: the client left.
        """
        request = self._request
        if request.complete and not request.too_large and not request.broken:
            return bytes(request.body)  # the usual call: its body came with its head
        body = await request.receive()
        if request.too_large:
            raise web.HTTPRequestEntityTooLarge(max_size=0, actual_size=0)
        if request.broken:
            raise Refusal(400, "bad_request", "the request body is not valid HTTP/1.1")
        return body


class DeviceAnswer(bytes):
    """A device call's 200, its JSON body's bytes, for the edge to write (:func:`json_answer`):
    what ``web.json_response`` would say, without building aiohttp's response on every device
    call. The bytes themselves, with no ``__init__`` of its own."""

    __slots__ = ()
    status: Final = 200

    @property
    def body(self) -> bytes:
        return self


#: The bytes ``web.json_response`` writes for a value (``json.dumps``'s defaults).
_json_bytes: Final = encoder()


def json_answer(request: web.Request, data: Any) -> web.Response:
    """``web.json_response(data)`` for ``request``: on the llhttp edge, the same body as a
    :class:`DeviceAnswer` (the edge reads its status and body alone)."""
    called: object = request  # (a DeviceCall is typed as aiohttp's request to its handler)
    if type(called) is DeviceCall:
        answer: Any = DeviceAnswer(_json_bytes(data))  # what the edge reads
        return answer  # type: ignore[no-any-return]
    return web.json_response(data)


class DeviceEdge:
    """The console's device calls on the llhttp edge: the steps of the module docstring for
    each, and the edge of each connection (:meth:`protocol`).

    Args:
        app: the console application (its door, routes, keys, metrics).
        allowed_hosts: ``[console] allowed_hosts``.
        host_refusals: the port's security log of refused Hosts.
        render: the owner API's renderer of a refusal (``routes/refusals.py``).
        settings: the console runner's values for the edge.
        access_log: the access logger when ``[logging] access_log`` is on.
    """

    def __init__(self, app: web.Application, allowed_hosts: tuple[str, ...],
                 host_refusals: HostRefusals, render: Renderer, settings: EdgeSettings,
                 access_log: logging.Logger | None) -> None:
        self._app = app
        self._allowed = allowed_hosts
        self._host_refusals = host_refusals
        self._render = render
        self._routes = device_routes(app)
        #: What the handlers read as ``request.app``: a read-only view of the application's
        #: state (live: a key set at start-up is seen), read by the mapping's own subscript,
        #: not through ``web.Application.__getitem__``, which is Python.
        self._state: Any = MappingProxyType(state) if isinstance(
            state := getattr(app, "_state", None), dict) else app
        self._metrics = app[CONSOLE_METRICS]
        #: The requests in progress of the fair share (given back as each call is answered).
        self._requests = app[FAIR_SHARE].requests
        #: Each Host value's answer to the Host rule (:meth:`_misdirected`).
        self._hosts_seen: dict[bytes, bool] = {}
        self._settings = settings
        self._access_log = access_log
        #: The open connections' edges (each is shut down with the site).
        self.edges: set[HttpEdge] = set()

    def protocol(self, budget: ConnectionBudget, aiohttp_protocol: Callable[[], Any]
                 ) -> Callable[[], GuardedProtocol]:
        """What makes each connection's protocol: its edge (aiohttp's protocol made by
        ``aiohttp_protocol`` on a hand-off) behind its guard, which admits it. One function
        call a connection: the edge is told its guard as it is made, not looked up."""
        answer, settings, edges = self.answer, self._settings, self.edges

        def connection() -> GuardedProtocol:
            edge = HttpEdge(answer, settings, budget, aiohttp_protocol, edges)
            guard = edge.guard = GuardedProtocol(edge, budget, parses=True)
            return guard
        return connection

    async def drain(self, app: web.Application) -> None:
        """At the application's shutdown, after its held answers were ended (the long-polls):
        wait for the device calls in progress to be answered, as aiohttp's shutdown waits for
        its own handlers."""
        tasks = {task for edge in list(self.edges) if (task := edge.shut_down()) is not None}
        if tasks:
            await asyncio.wait(tasks, timeout=_SHUTDOWN_S)

    async def answer(self, request: EdgeRequest, peer: str, guard: GuardedProtocol | None
                     ) -> Answer:
        """One device call, through the steps of the module docstring (steps 2-4 in this
        coroutine's own frame: each level of a chain of coroutines runs again when the
        call's database answer resumes it)."""
        started = time.perf_counter()
        call = DeviceCall(self._state, request, peer, guard)
        try:
            (host,) = request.hosts  # one Host (none, or two: refused)
        except ValueError:
            allowed: bool | None = False
        else:
            allowed = self._hosts_seen.get(host)
            if allowed is None:
                allowed = self._host_rule(host)
        response: Any
        if not allowed:
            response = self._misdirected(request, peer)
        else:
            # Steps 2-4: the fair share around the route's handler, every failure one refusal.
            token = CALLER.set(Who(address=address_key(peer)))
            # the parts of aiohttp's request the handlers read (typed so without
            # ``typing.cast``, which would run on every device call)
            as_request: web.Request = call  # type: ignore[assignment]
            try:
                try:
                    response = await self._routes[call.path](as_request)
                except Exception as exc:  # noqa: BLE001 - every failure becomes its refusal
                    response = await self._render(as_request, refusal_of(as_request, exc))
            finally:
                taken = call.get(TAKEN)
                if taken is not None:
                    self._requests.give(taken)
                CALLER.reset(token)
        plain_200 = type(response) is DeviceAnswer
        status = 200 if plain_200 else response.status
        self._metrics.answered(call.path, status, time.perf_counter() - started)
        body: bytes | None = response if plain_200 else response.body
        if self._access_log is not None:
            log_access(self._access_log, peer, call.method, call.path, None, status,
                       len(body) if body else 0, time.perf_counter() - started)
        if plain_200 or len(response.headers) == 1:
            return status, body, None  # json_response's Content-Type alone: the usual
        return status, body, {name: value for name, value in response.headers.items()
                              if name not in ("Content-Type", "Content-Length")} or None

    def _host_rule(self, host: bytes) -> bool:
        """Step 1's rule for one ``Host`` value, remembered (a few thousand values).

        The edge's requests have an origin-form target (a device call's path exactly:
        :func:`ours`), so the rule's answer depends on the one Host alone (a rule worked out
        in Python, on every call otherwise)."""
        allowed = host_allowed([host.decode("utf-8", "surrogateescape")], self._allowed)
        if len(self._hosts_seen) >= _HOSTS_REMEMBERED:
            self._hosts_seen.clear()
        self._hosts_seen[host] = allowed
        return allowed

    def _misdirected(self, request: EdgeRequest, peer: str) -> web.Response:
        """Step 1's refusal: 421 for a Host other than loopback or ``allowed_hosts`` (or
        none, or more than one), noted in the port's security log."""
        values = [value.decode("utf-8", "surrogateescape") for value in request.hosts]
        self._host_refusals.note(values[0] if len(values) == 1 else None, peer)
        return plain(Refusal(421, "misdirected", MISDIRECTED))


def settings(*, max_body_bytes: int, keepalive_timeout_s: float, lingering_s: float
             ) -> EdgeSettings:
    """The edge's settings for a console runner with these values (a long-poll ends with its
    client, as the runner's ``handler_cancellation``)."""
    return EdgeSettings(ours=ours, max_body_bytes=max_body_bytes,
                        keepalive_timeout_s=keepalive_timeout_s, lingering_s=lingering_s,
                        malformed=_malformed(),
                        content_type="application/json; charset=utf-8",  # json_response's
                        cancel_on_leave=True)


#: At shutdown, how long the device calls in progress on the edge may take.
_SHUTDOWN_S: Final = 60.0


class DeviceSite(GuardedSite):
    """The console's site with its device calls on the llhttp edge: the guard admits each
    connection and hands it to a :class:`~mtgateway_base.httpedge.HttpEdge`, which hands any
    other request to aiohttp's protocol."""

    __slots__ = ("_edge",)

    def __init__(self, runner: web.BaseRunner, host: str, port: int,
                 budget: ConnectionBudget, edge: DeviceEdge,
                 sock: socket.socket | None = None, *,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(runner, host, port, budget, sock, ssl_context=ssl_context)
        self._edge = edge

    def protocol_factory(self, server: web.Server) -> Callable[[], asyncio.Protocol]:
        return self._edge.protocol(self._budget, server)

    async def stop(self) -> None:
        """Stop listening; each edge connection closes now if idle, else after the call in
        progress (the application's shutdown waits for those: :meth:`DeviceEdge.drain`)."""
        await super().stop()
        for edge in list(self._edge.edges):
            edge.shut_down()
