"""The console's door: :class:`Door`, the sequence every request behind the Host rule takes
(``__init__``'s docstring draws it), and :func:`boundary`, where every failure becomes the
refusal its entry point renders."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final, Generic, Literal, TypeVar, overload

from aiohttp import web
from pydantic import BaseModel

from mtgateway_base.fairshare import address_key
from mtgateway_base.guard import BUDGET, mark_authenticated, mark_held

from ..appkeys import FAIR_SHARE
from ..errors import Refusal
from ..fairshare import CALLER, Who
from . import bodies, callers
from .answers import Handler, Renderers, refusal_of
from .bodies import Posted
from .callers import NOBODY, TAKEN, Caller, Kind, SessionLookup, serving, who_of
from .held import RETRY_S, Held, HeldStreams

__all__ = ["DOOR", "Door", "Entry", "boundary", "fair_share", "proxied_client"]

M = TypeVar("M", bound=BaseModel)
B = TypeVar("B")

#: A body read as a form (the pages', the API's sign-in).
Form = Literal["form"]


@dataclass(frozen=True, slots=True)
class Entry(Generic[B]):
    """What the door hands the handler: who is calling, and the body it sent."""

    caller: Caller
    #: The body, as the model (or form) the entry point asked for; None: none was read.
    body: B


class Door:
    """The sequence of the package docstring for one console application (built by
    ``create_console_app``, stored under :data:`DOOR`).

    Args:
        app: the console application (its keys are read per request: the authority opens
            at start-up).
        streams: the held streams' bounds (``held.py``).
    """

    def __init__(self, app: web.Application, streams: HeldStreams) -> None:
        self._app = app
        #: Which entry point renders a refusal (each registers with its routes).
        self.renderers = Renderers()
        #: The pages' session store, registered when the pages are mounted.
        self.sessions: SessionLookup | None = None
        self.streams = streams

    # -- the sequence ------------------------------------------------------------------------

    @overload
    async def enter(self, request: web.Request, caller: Kind, body: type[M], *,
                    invalid: int = 422, api: str | None = None) -> Entry[M]: ...

    @overload
    async def enter(self, request: web.Request, caller: Kind, body: Form, *,
                    invalid: int = 422, api: str | None = None) -> Entry[Posted]: ...

    @overload
    async def enter(self, request: web.Request, caller: Kind, body: None = None, *,
                    invalid: int = 422, api: str | None = None) -> Entry[None]: ...

    async def enter(self, request: web.Request, caller: Kind,
                    body: type[BaseModel] | Form | None = None, *, invalid: int = 422,
                    api: str | None = None) -> Entry[Any]:
        """Steps 2-5 for one request: with ``api`` (the name an Origin refusal gives the
        API), the browser rule, then the ``caller``'s credential, then the body as ``body``
        (a model, whose refusal answers ``invalid``; or ``"form"``).

        Raises:
            Refusal: the first step that refused.
        """
        if api is not None:
            origin = request.headers.get("Origin")
            if origin is not None and origin != f"{request.scheme}://{request.host}":
                raise Refusal(403, "origin_refused", "requests from another web origin are "
                              f"refused ({api} is not for pages of other sites)")
            if body is not None:
                refused = bodies.media_refusal(request, form=body == "form")
                if refused is not None:
                    raise refused
        data = b""
        if caller == "device" or caller == "device_claim":
            data = await bodies.raw(request)  # the proof signs it
            who = await callers.device(request, data, defer=caller == "device_claim")
        else:
            who = await self._identify(request, caller)
        if body is None:
            return Entry(self._admit(request, who), None)
        if body == "form":
            posted = await bodies.form(request)
            return Entry(self._admit(request, who), posted)
        if not data:
            data = await bodies.raw(request)
        self._admit(request, who)  # the body is whole: only now is the connection theirs
        return Entry(who, bodies.model(data, body, invalid))

    async def caller(self, request: web.Request, kind: Kind) -> Caller:
        """Step 3 alone: who is calling with ``kind``'s credential (a device proof needs
        its body: :meth:`enter`), admitted as the caller it proved (:meth:`_admit`).

        Raises:
            Refusal: the credential is refused (``session``: never; no session is
                :data:`~.callers.NOBODY`); 429 past the caller's requests in progress.
        """
        return self._admit(request, await self._identify(request, kind))

    def _admit(self, request: web.Request, caller: Caller) -> Caller:
        """The caller proved a credential and its request has arrived whole: it is counted
        as that credential's and owner's from here (the fair share, ``fairshare.py``),
        one request in progress of its share taken unless it was when its signature was
        checked (``callers.serving``; given back when the answer is written,
        :func:`fair_share`), and the connection marked a credential holder's (evicted last,
        never while it works). Marked only now, after the body: a credential shown with a
        body still arriving once made the connection protected work while the body
        trickled in. A device call whose own transaction writes its proof's replay row is
        marked when that commits (``callers.device``).

        Raises:
            Refusal: 429 ``too_many_requests`` past the caller's requests in progress.
        """
        if caller.device is None or request.get(TAKEN) is None:
            who = who_of(caller, address_key(request.remote or "?"))
            if who is None:
                return caller
            serving(request, who)
        # else: a device counted as its own since its signature was checked
        # (``callers.device``: the same ``Who``, its share of the requests in progress taken)
        if caller.claim is None:
            mark_authenticated(request)
        return caller

    async def _identify(self, request: web.Request, kind: Kind) -> Caller:
        """Who is calling with ``kind``'s credential, not yet admitted."""
        if kind == "owner":  # either of the owner's credentials, told by its scheme
            scheme = request.headers.get("Authorization", "").partition(" ")[0].lower()
            kind = "bearer" if scheme == "bearer" else "basic"
        if kind == "session":
            assert self.sessions is not None  # noqa: S101 - the pages register it when mounted
            return await callers.session(request, self.sessions)
        if kind == "basic":
            return await callers.owner_basic(request)
        if kind == "bearer":
            return await callers.bearer(request)
        if kind == "none":
            return NOBODY
        return await callers.device(request, await bodies.raw(request),
                                    defer=kind == "device_claim")

    # -- what some entry points ask on their own -----------------------------------------------

    async def sign_in(self, email: str, password: str, code: str, code_where: str
                      ) -> str:
        """The owner a sign-in's e-mail, password (and code) name, through the one owner
        check; ``code_where`` tells where a missing code goes.

        Raises:
            Refusal: 401 or 429 (``callers.credentials``).
        """
        return (await callers.credentials(self._app, email, password, code, code_where)).owner

    async def access_token(self, request: web.Request, owner: str, *, with_code: bool
                           ) -> str:
        """A new access token for ``owner``, who just signed in with ``request`` (its
        browser or bot and address are what the sessions page shows of the sign-in;
        ``callers.access_token``).

        Raises:
            Refusal: 401: the owner was removed, or turned the second factor on, since.
        """
        return await callers.access_token(
            self._app, owner, with_code=with_code,
            user_agent=request.headers.get("User-Agent", ""), address=request.remote or "")

    @contextlib.contextmanager
    def hold(self, request: web.Request, caller: Caller) -> Iterator[Held]:
        """Hold ``request`` open for ``caller`` (a signed-in page's stream) while the block
        runs, within the streams' bounds (``held.py``); its connection is the budget's to
        end for a newcomer.

        Raises:
            Refusal: 429 ``too_many_streams`` past a bound.
        """
        key = caller.session.key if caller.session is not None else ""
        held = self.streams.enter(key, caller.owner, request.remote or "?")
        if held is None:
            raise Refusal(429, "too_many_streams", "too many live streams are open for this "
                          "session, owner or address", retry_after_s=RETRY_S)
        mark_held(request)
        try:
            yield held
        finally:
            self.streams.leave(held)


#: The application's door (``create_console_app`` builds it; every entry point enters by it).
DOOR: Final = web.AppKey("console_door", Door)


@web.middleware
async def proxied_client(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Who the caller is, by address: the one place the door learns it. On a connection a
    configured proxy opened (``[console] trusted_proxies``), the client its PROXY header
    named, which the connection's guard read before admitting it
    (``mtgateway_base.guard``, ``mtgateway_base.proxyheader``), becomes the request's
    ``remote``; every per-address count behind this reads ``remote`` (the fair share's
    address, "forgot password" asks, the hashing pool's and the database lane's lines, keys
    the console does not know, streams, long-polls, and what the sessions page and the
    activity log show). The device calls on the llhttp edge read the same guard's client
    (``edge.py``: ``DeviceCall.remote``).

    No forwarding header (``X-Forwarded-For``, ``Forwarded``) is read here: a client writes
    those itself, and only a configured proxy's connection names anyone but its peer.
    Installed only when proxies are configured (every other console's ``remote`` is its
    peer already)."""
    conn = request.app[BUDGET].find(request.transport)
    if conn is not None and conn.proxy is not None and conn.peer != request.remote:
        request = request.clone(remote=conn.peer)
    return await handler(request)


@web.middleware
async def fair_share(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every request's place in the fair share (``fairshare.py``): counted as its
    address's until the door knows a credential (:meth:`Door._admit`), and its share of the
    requests in progress given back once it is answered."""
    token = CALLER.set(Who(address=address_key(request.remote or "?")))
    try:
        return await handler(request)
    finally:
        taken = request.get(TAKEN)
        if taken is not None:
            request.app[FAIR_SHARE].requests.give(taken)
        CALLER.reset(token)


@web.middleware
async def boundary(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure of every entry point, as the refusal its entry point renders (step 6)."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # a page's redirect
        failure: Exception = exc
    except Exception as exc:
        failure = exc
    return await request.app[DOOR].renderers.of(request)(request, refusal_of(request, failure))
