"""The daemon's one door: the sequence every HTTP request that asks for a token goes through.

A request's header block comes in as a :class:`~gateway.edge.head.RequestHead`, whichever
parser read it; :class:`Door` then takes the same steps, in the same order, for every door of
the daemon's HTTP port, and each door only adapts its parser and answers in its own form:

1. **head rules** -- the ladder (``ladder.py``): rungs 1-7 for ``POST /rpc``; for the other
   routes rungs 2-4 ran in the middleware before the router (:meth:`Door.edge_refusal`), and
   rungs 6-7 here when a body is to come;
2. **body** -- rungs 8-10, with one body deadline (``[server] body_timeout_s``), armed only
   when the body has not already come (:class:`Body`: each parser's own way of collecting
   it);
3. **token** -- rung 11: the bearer token through the brute-force throttle
   (``mtgateway_base/throttle.py``), refused as 401, 429 or 503 from ``errors.py`` and counted by
   reason word;
4. **mark** -- the connection carried a valid token, so the connection budget evicts it last
   and never while it works (``base/guard.mark_authenticated``, the one function, under the
   one key ``base/guard.BUDGET``);
5. **context** -- the one :class:`~gateway.context.RpcContext` of the caller
   (:meth:`Door.context`);
6. **share** -- the token's share of the work the connection budget never evicts
   (``tokenshare.py``): ``/rpc`` takes one of its requests in progress around the dispatcher
   (:meth:`Door._dispatch`), the REST mirror around its handler (:meth:`Door.working`),
   ``/ws`` one of its streams for the stream's life (:meth:`Door.open_stream`); past a bound
   429 at once, nothing run;
7. **dispatch** -- ``/rpc``'s dispatcher (:meth:`Door.rpc`), or the door's own handler
   with the :class:`Entry` steps 1-5 gave it.

Which door calls what:

=====================================  ========================================================
door                                   calls
=====================================  ========================================================
``POST /rpc``, llhttp (``llhttp.py``)  :meth:`Door.edge_rpc` (the edge's request is its ``Body``)
``POST /rpc``, aiohttp                 :meth:`Door.rpc` through ``http_rpc.serve_rpc``
``/api/...`` (``rest.py``)             :meth:`Door.enter` (a body only when one comes)
``/auth/...`` (``client_auth.py``)     :meth:`Door.enter` (a 1 KiB body, no token: the
                                       challenge is how a client gets one)
``GET /ws`` (``ws.py``)                :meth:`Door.enter` on the upgrade when it carries
                                       ``Authorization``; :meth:`Door.admit` for the first
                                       message's token
every route (``middleware.py``)        :meth:`Door.edge_refusal` (rungs 2-4)
=====================================  ========================================================

Why one place: a door that writes the sequence itself drifts from the others; a step left out
(the mark) and a token holder's connection is evicted under pressure as if it had no token, a
deadline written twice and the two answer differently.

The hot path (``/rpc``) pays for the door no more than for the copies it replaced: the head is
built once per request (by the parser's adapter, or once by the middleware and reused), the
body deadline is armed only when the body is still on its way, and the token is checked with
no coroutine of its own between the throttle and the authenticator.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from functools import partial
from typing import TYPE_CHECKING, Any, Final, NamedTuple, Protocol

from aiohttp import web

from ea_bridge import TerminalId
from mtgateway_base.guard import GuardedProtocol, mark_authenticated

from ..auth import Principal
from ..context import RpcContext
from ..errors import (
    TOO_MANY_REQUESTS,
    TOO_MANY_STREAMS,
    HttpRefusal,
    RateLimited,
    Unauthorized,
    Unavailable,
    auth_refusal,
    too_many_streams,
)
from ..keys import (
    AUTH_THROTTLE,
    AUTHENTICATOR,
    BRIDGE,
    CONFIG,
    CONNECTIONS,
    METRICS,
    RPC,
    TERMINALS,
    TRADING,
)
from .head import RequestHead, edge_head
from .ladder import EdgeRules, body_refusal, content_refusal, edge_refusal, head_refusal
from .tokenshare import TokenShare

if TYPE_CHECKING:
    from mtgateway_base.httpedge import EdgeRequest

__all__ = ["DOOR", "HEAD", "AiohttpBody", "Answer", "Body", "Door", "Entry", "bearer_of",
           "error_response"]

_JSON: Final = "application/json"
#: Security events (a token used where it is not bound): WARNING, ids and terminals only.
security_log = logging.getLogger("gateway.security")

#: What :meth:`Door.rpc` answers: the status, the body (None for 204) and extra headers.
Answer = tuple[int, bytes | None, dict[str, str] | None]


class Body(Protocol):
    """A request body as one parser collects it (llhttp's request, :class:`AiohttpBody`).

    The door asks :meth:`take` first and waits (:meth:`receive`, under the one deadline) only
    when it says the body is still on its way; then :attr:`malformed` and :attr:`too_large`
    say what rungs 9 and 10 need.
    """

    @property
    def malformed(self) -> bool:
        """The body turned out not to be HTTP (a bad chunk)."""
        ...

    @property
    def too_large(self) -> bool:
        """The body went past the door's limit (it is not kept)."""
        ...

    def take(self) -> bytes | None:
        """The body if nothing more will come of it (``b""`` when it is malformed or too
        large), else None."""
        ...

    async def receive(self) -> bytes:
        """Wait until nothing more will come of the body; what :meth:`take` then says. No
        deadline of its own: the door holds it."""
        ...


class AiohttpBody:
    """The body aiohttp's parser feeds into ``request.content``, kept to ``limit`` bytes.

    aiohttp's parser refuses a bad chunk itself (400 before any handler, or an exception
    from the read that aiohttp answers), so :attr:`malformed` is always False here.
    """

    __slots__ = ("_content", "_limit", "too_large")

    malformed: Final = False

    def __init__(self, request: web.BaseRequest, limit: int) -> None:
        self._content = request.content
        self._limit = limit
        self.too_large = False

    def take(self) -> bytes | None:
        content = self._content
        if not content.is_eof():
            return None
        return self._kept(content.read_nowait())  # every byte has come: no await, no timer

    async def receive(self) -> bytes:
        content, data = self._content, bytearray()
        while chunk := await content.readany():
            data += chunk
            if len(data) > self._limit:  # read no further: answered 413
                break
        return self._kept(bytes(data))

    def _kept(self, data: bytes) -> bytes:
        if len(data) > self._limit:
            self.too_large = True
            return b""
        return data


class Entry(NamedTuple):
    """What steps 1-5 of the door give the handler that dispatches."""

    #: The body received (``b""`` when the door took none).
    body: bytes
    #: The caller's context when the door asked for a token, else None.
    context: RpcContext | None


#: The heads that passed kept at most (past it, forgotten and judged again): the open
#: connections' repeated heads, and a few aiohttp's parser built once each.
_PASSED_KEPT: Final = 512
#: ``Entry(body, context)`` without the NamedTuple's Python ``__new__``: made once per
#: ``/rpc`` call, on the hot path (the cost: ``docs/history/performance-notes.md``,
#: "Measured costs by module").
_entry: Final = partial(tuple.__new__, Entry)


class Door:
    """The sequence of the module docstring, for one application (built by ``create_app``,
    stored under :data:`DOOR`), with what every step needs looked up once."""

    __slots__ = ("_authenticator", "_bridge", "_budget", "_config", "_dispatcher", "_last",
                 "_metrics", "_passed", "_rules", "_terminals", "_throttle", "_trading",
                 "_work", "_work_bound", "host_refusals", "server", "share")

    def __init__(self, app: web.Application) -> None:
        config = app[CONFIG]
        self.server = config.server
        #: What the rungs read of it, in slots (read on every request).
        self._rules = EdgeRules(config.server)
        self._budget = app[CONNECTIONS]
        #: The port's 421 log (``base/edge.HostRefusals``): every refused Host reports to it.
        self.host_refusals = self._budget.host_refusals
        self._authenticator = app[AUTHENTICATOR]
        self._throttle = app[AUTH_THROTTLE]
        self._metrics = app[METRICS]
        self._dispatcher = app[RPC]
        # each its own slot: the context of every call is made from them (``*`` of a tuple
        # costs more, on every call)
        self._bridge, self._config = app[BRIDGE], config
        self._terminals, self._trading = app[TERMINALS], app[TRADING]
        #: The context made last (:meth:`context`), given again to the same principal.
        self._last: RpcContext | None = None
        #: Heads that passed rungs 1-7, by ``id`` (each kept, so its ``id`` is not reused
        #: while it is here), with the bearer token each carries: the llhttp edge gives a
        #: connection's repeated header block one head (``EdgeRequest.known``), and the
        #: rungs read nothing but the head and ``[server]``, fixed for the door's life, so
        #: one that passed passes again (a refusal is not kept: it is worked out, and
        #: reported, each time). The token itself is checked on every call.
        self._passed: dict[int, tuple[RequestHead, str | None]] = {}
        #: Each token's share of the work the budget never evicts (``tokenshare.py``), its
        #: bound half of the budget this port serves (as fitted to the open-file limit);
        #: its work counts in slots of their own, read in place on every ``/rpc`` call.
        self.share = TokenShare(self._budget.limits.max_connections,
                                config.ws.max_streams_per_token)
        self._work, self._work_bound = self.share.work, self.share.work_bound

    # -- the doors ------------------------------------------------------------------------------

    def rpc(self, head: RequestHead, body: Body, conn: GuardedProtocol | None,
            called: list[str] | None) -> Coroutine[Any, Any, Answer]:
        """Answer one ``POST /rpc`` request: steps 1-5 (:meth:`enter`, rungs 1-11), then the
        dispatcher; ``called`` gets the JSON-RPC method names answered (the access log's;
        None when there is no access log to write). Its coroutine: the usual call, which
        waits for nothing before the dispatcher (:meth:`enter_now`), takes the steps here at
        once, with no coroutine of the door's own for them.

        Raises:
            ConnectionResetError: the client left while its body was on the way (llhttp).
        """
        entry = self.enter_now(head, body, conn)
        if entry is None:  # something must wait: the sequence from the start, as it waits
            return self._rpc_waiting(head, body, conn, called)
        return self._dispatch(entry, called)

    def edge_rpc(self, request: EdgeRequest, peer: str, conn: GuardedProtocol | None,
                 called: list[str] | None = None) -> Coroutine[Any, Any, Answer]:
        """:meth:`rpc` for a request the llhttp edge read (``llhttp.py``: the edge's
        ``answer``), from ``peer``: its head the one built for its header block
        (:func:`~gateway.edge.head.edge_head`, kept on the request and on the ones that
        repeat its block), the request itself its body. :meth:`rpc`'s steps written out
        rather than called: the edge's answering task awaits this on every ``/rpc`` call."""
        head: RequestHead | None = request.known
        if head is None:
            head = edge_head(request, peer)
        entry = self.enter_now(head, request, conn)
        if entry is None:  # something must wait: the sequence from the start, as it waits
            return self._rpc_waiting(head, request, conn, called)
        return self._dispatch(entry, called)

    async def _rpc_waiting(self, head: RequestHead, body: Body, conn: GuardedProtocol | None,
                           called: list[str] | None) -> Answer:
        """:meth:`rpc` when a step must wait (the body on its way, the token's check)."""
        return await self._dispatch(await self.enter(head, body, conn, rpc=True), called)

    async def _dispatch(self, entry: Entry | HttpRefusal, called: list[str] | None) -> Answer:
        """The refusal's answer, or the dispatcher's for ``entry``, as one of its token's
        requests in progress (step 6: 429 ``too_many_requests`` past the token's bound,
        nothing run). The share's :meth:`~.tokenshare.TokenShare.enter` and ``leave``
        written out: every ``/rpc`` call takes them."""
        if isinstance(entry, HttpRefusal):
            return entry.status, entry.body(), dict(entry.headers)
        context = entry.context
        assert context is not None  # noqa: S101 - a token was asked for
        key = context.principal.token_id
        work = self._work
        held = work[key] if key in work else 0
        if held >= self._work_bound:
            self._metrics.refused("too_many_requests")
            return 429, TOO_MANY_REQUESTS.body(), dict(TOO_MANY_REQUESTS.headers)
        work[key] = held + 1
        try:
            payload = await self._dispatcher.handle(entry.body, context, called=called)
        finally:
            held = work[key] - 1
            if held:
                work[key] = held
            else:
                del work[key]
        if payload is None:
            return 204, None, None
        return 200, payload, None

    def enter_now(self, head: RequestHead, body: Body, conn: GuardedProtocol | None
                  ) -> Entry | HttpRefusal | None:
        """:meth:`enter` for ``POST /rpc`` (rungs 1-11) when no step must wait: the token is
        one that succeeded before whose check the authenticator may reuse (the throttle would
        pass it on and the check answer at once: :meth:`_reused`), and the body came whole
        with the head (rungs 8-10 then have nothing to refuse; rung 11 passes). The first
        refusal of the head's rungs, or the entry; None when a step must wait or a body
        rung refuses (then :meth:`enter` takes them all, from the first, in their order).
        A head that passed rungs 1-7 before (the same object) is not judged again, nor its
        token read from it again."""
        known = self._passed.get(id(head))
        if known is not None and known[0] is head:
            token = known[1]
        else:
            refusal = head_refusal(self._rules, head, self.host_refusals)
            if refusal is not None:
                return refusal
            token = _bearer(head.authorization)
            if len(self._passed) >= _PASSED_KEPT:
                self._passed.clear()
            self._passed[id(head)] = (head, token)
        # the token before the body: a body taken is gone from aiohttp's stream, so it is
        # taken only when nothing else sends the request to enter
        principal = self._reused(token)
        if principal is None:
            return None
        taken = body.take()  # (bytes only when whole, neither malformed nor too large)
        if not taken:
            return None  # (on its way; or, taken, refused by enter for what take noted)
        return _entry((taken, self._admitted(principal, conn)))

    async def enter(self, head: RequestHead, body: Body | None, conn: GuardedProtocol | None,
                    *, rpc: bool = False, limit: int | None = None,
                    token: bool = True) -> Entry | HttpRefusal:
        """Steps 1-5 for one request: its head rules (rungs 1-7 with ``rpc``; else 6-7 when
        ``body`` comes, rungs 2-4 having run in the middleware), its body under the one
        deadline (rungs 8-10, ``limit`` bytes at most: ``[server] max_body_bytes`` unless
        given), then with ``token`` the bearer token of ``head`` (rung 11), the mark on
        ``conn`` and the caller's context. The first refusal, or what the handler needs.

        Raises:
            ConnectionResetError: the client left while its body was on the way (llhttp).
        """
        if limit is None:
            limit = self._rules.max_body_bytes
        if rpc:
            refusal = head_refusal(self._rules, head, self.host_refusals)
        else:
            refusal = None if body is None else content_refusal(head, limit)
        if refusal is not None:
            return refusal
        data = b""
        if body is not None:
            taken = body.take()  # the usual case: the body came with the head, whole
            # (bytes only when whole, neither malformed nor too large: ``b""`` when either)
            if not taken:
                if taken is None:
                    taken = await self._receive(body)
                refusal = body_refusal(limit, timed_out=taken is None,
                                       malformed=body.malformed, too_large=body.too_large)
                if refusal is not None:
                    return refusal
            data = taken or b""
        if not token:
            return _entry((data, None))
        context = await self.admit(_bearer(head.authorization), conn)
        if isinstance(context, HttpRefusal):
            return context
        return _entry((data, context))

    async def _receive(self, body: Body) -> bytes | None:
        """Wait for ``body`` within ``[server] body_timeout_s``: the one body deadline of
        every door; None when it did not come in time (rung 8)."""
        try:
            async with asyncio.timeout(self.server.body_timeout_s):
                return await body.receive()
        except TimeoutError:
            return None

    # -- the steps a door takes on its own ------------------------------------------------------

    def edge_refusal(self, head: RequestHead) -> HttpRefusal | None:
        """Rungs 2-4, for every route (the middleware asks, before the router)."""
        return edge_refusal(self._rules, head, self.host_refusals)

    async def admit(self, token: str | None, conn: GuardedProtocol | None
                    ) -> RpcContext | HttpRefusal:
        """Steps 3-5: ``token`` through the throttle (rung 11: the 401, 429 or 503 refusal,
        counted by reason word), the mark on ``conn``, and the caller's context."""
        principal = self._reused(token)
        if principal is None:
            authenticator = self._authenticator
            try:
                # ``partial``: no coroutine of the door's own between the throttle and the
                # check
                principal = await self._throttle.check(
                    authenticator.throttle_key(token), partial(authenticator.authenticate, token),
                    Unauthorized)
            except (Unavailable, RateLimited, Unauthorized) as exc:
                # Unavailable: the token authority cannot be asked, not the client's fault
                # (503)
                refusal = auth_refusal(exc)
                self._metrics.refused(f"auth_{refusal.reason or 'unauthorized'}")
                return refusal
        return self._admitted(principal, conn)

    def _reused(self, token: str | None) -> Principal | None:
        """Step 3 for the usual call, without a coroutine: a token that succeeded before
        (the throttle would pass it on; it still sees the key in use) whose check the
        authenticator may reuse (it would answer at once). None: :meth:`admit` asks them."""
        authenticator = self._authenticator
        if not self._throttle.touch(authenticator.throttle_key(token)):
            return None
        return authenticator.reused(token)

    def _admitted(self, principal: Principal, conn: GuardedProtocol | None) -> RpcContext:
        """Steps 4-5: the mark on ``conn`` (once is enough: the usual case is marked) and
        the caller's context (:meth:`context`'s look at the last one, in place: every call
        of a token seen before)."""
        if conn is not None and not conn.authenticated:
            mark_authenticated(conn)
        last = self._last
        return last if last is not None and last.principal is principal \
            else self.context(principal)

    async def authenticate(self, token: str | None, terminal: TerminalId) -> Principal:
        """A token presented again on a connection bound to ``terminal`` (``/ws``'s
        ``authenticate`` method), through the throttle. A token bound to another terminal is
        refused exactly like an unknown one (``invalid_token``, counted and delayed): the
        caller must not learn that it is valid elsewhere.

        Raises:
            Unauthorized: the token is refused (after the throttle's delay).
            RateLimited: a lockout is on and this token, not seen to succeed before, is wrong.
            Unavailable: the token authority cannot be asked (not counted).
        """
        authenticator = self._authenticator

        async def verify() -> Principal:
            principal = await authenticator.authenticate(token)
            if principal.terminal != terminal:
                security_log.warning(
                    "rebinding refused: token %s, bound to terminal %s, was presented on a "
                    "connection bound to terminal %s", principal.token_id,
                    principal.terminal, terminal)
                raise Unauthorized("invalid_token", "The auth token is not valid")
            return principal

        return await self._throttle.check(authenticator.throttle_key(token), verify,
                                          Unauthorized)

    def context(self, principal: Principal) -> RpcContext:
        """The one way a caller's :class:`~gateway.context.RpcContext` is made. A context is
        never changed, so the last one is given again to the same principal (the
        authenticator hands a token's calls one principal while it reuses its check): one
        object fewer on nearly every call."""
        last = self._last
        if last is not None and last.principal is principal:
            return last
        context = self._last = RpcContext(principal, self._bridge, self._config,
                                          self._terminals, self._trading)
        return context

    def working(self, context: RpcContext) -> HttpRefusal | None:
        """Step 6 for a door that answers itself (the REST mirror): one more of the
        caller's token's requests in progress, to give back with :meth:`worked` once it is
        answered; the 429 ``too_many_requests`` refusal past its bound (nothing taken)."""
        if self.share.enter(context.principal.token_id):
            return None
        self._metrics.refused("too_many_requests")
        return TOO_MANY_REQUESTS

    def worked(self, context: RpcContext) -> None:
        """The request :meth:`working` took is answered."""
        self.share.leave(context.principal.token_id)

    def open_stream(self, stream: object, context: RpcContext) -> HttpRefusal | None:
        """Step 6 for ``/ws``: ``stream`` is one of the caller's token's streams (and of its
        work) until :meth:`close_stream`; the 429 ``too_many_streams`` refusal past either
        bound (nothing taken)."""
        if self.share.open(stream, context.principal.token_id):
            return None
        self._metrics.refused("too_many_streams")
        return TOO_MANY_STREAMS

    def move_stream(self, stream: object, principal: Principal) -> None:
        """``stream`` presented ``principal``'s token in band: it counts for that token.

        Raises:
            OverShare: ``too_many_streams``, that token is past a bound (the stream stays
                its old token's).
        """
        if not self.share.move(stream, principal.token_id):
            self._metrics.refused("too_many_streams")
            raise too_many_streams()

    def close_stream(self, stream: object) -> None:
        """``stream`` closed: its place in its token's share is free (nothing if it never
        took one)."""
        self.share.close(stream)

    def connection(self, request: web.BaseRequest) -> GuardedProtocol | None:
        """The guard of ``request``'s connection (None: served without the budget)."""
        return self._budget.find(request.transport)


#: The application's door (``create_app`` builds it once everything it looks up is there).
DOOR: Final = web.AppKey("door", Door)
#: The head of a request aiohttp parsed, built once by the middleware (which runs before
#: every routed handler) for the handler's own steps through the door.
HEAD: Final = web.RequestKey("request_head", RequestHead)


def _bearer(header: str | None) -> str | None:
    """:func:`bearer_of`, the usual form (``Bearer <token>``) read without splitting it."""
    if header is not None and header.startswith("Bearer "):
        return header[7:].strip() or None
    return bearer_of(header)


def bearer_of(header: str | None) -> str | None:
    """The token of an ``Authorization`` header's value if it says ``Bearer``, or None."""
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


def error_response(refusal: HttpRefusal) -> web.Response:
    """The aiohttp response of ``refusal`` (its body a JSON-RPC error with ``id: null``)."""
    return web.Response(status=refusal.status, body=refusal.body(), content_type=_JSON,
                        headers=refusal.headers)
