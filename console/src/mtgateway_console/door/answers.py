"""How a refusal leaves the console: every failure becomes one :class:`~..errors.Refusal`,
rendered by the entry point whose route the request reached.

Each entry point registers its renderer with its routes (:meth:`Renderers.serve`): the owner
API's ``{"error": {...}}`` (``routes/refusals.py``), the MT4 Web API document's
``{"status": "error", ...}`` (``mt4api/dispatch.py``), the pages' HTML error page
(``web/kit.py``). A request the router matched is rendered by its route's entry point; one it
did not match (404, 405) by the entry point whose space holds the path (the longest
registered prefix: ``/v1/``, ``/api/``, else the pages'), so a stranger's mistyped address
gets a page and a program's gets JSON, without the error middleware knowing any path.

What becomes which refusal is decided once, by :func:`refusal_of`, for every entry point: a
refusal is itself; a failure of the service is looked up in :data:`REFUSALS` by its class's
MRO (the console's exception tree, ``errors.py``, draws each with its status), so the same
failure is the same status and reason word on every door, and no handler translates one by
hand; the database not answering (:class:`~..database.DatabaseUnavailable`: unreachable,
paused, too slow) is 503 ``database_unavailable``, within the database's bound, never 500 and
never a hang; a body past the limit 413; aiohttp's own 404 or 405 theirs; anything else (a
bare ``ValueError`` included: a bug, not a request's fault) is logged and answered 500 with no
details.

The Host allowlist is the first step of every request (:func:`host_allowlist`), before the
router: a page on a name rebound to 127.0.0.1 is same-origin with the console and could
drive sign-in guesses, the device API and long-polls.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Final

from aiohttp import web

from mtgateway_base.access import mask_path
from mtgateway_base.edge import HostRefusals, host_allowed, target_authority

from ..apitokens import ApiTokenRefused
from ..database import DatabaseUnavailable
from ..errors import AccountExists, InvalidRequest, Refusal
from ..service.accounts import LiveOpen
from ..service.common import TerminalClaimed
from ..service.consent import PasswordNeeded
from ..service.credentials import CredentialEnded
from ..service.instructions import KeyReused, LiveMoney
from ..service.resets import AskedTooOften
from ..service.signin import MESSAGES, SignInRefused

__all__ = ["MISDIRECTED", "REFUSALS", "Handler", "Renderer", "Renderers", "host_allowlist",
           "password_refusal", "plain", "refusal_headers", "refusal_of", "retry_after"]

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: An entry point's answer to a refusal.
Renderer = Callable[[web.Request, Refusal], Awaitable[web.StreamResponse]]

MISDIRECTED: Final = "this Host is not served here (only loopback or [console] allowed_hosts)"
#: What a client is told to wait before trying again after a 503 for the database.
_DATABASE_RETRY_S: Final = 1


def retry_after(seconds: float) -> int:
    """Whole seconds to wait, at least one (a ``Retry-After``)."""
    return max(1, math.ceil(seconds))


def password_refusal(needed: PasswordNeeded) -> Refusal:
    """The answer to a change the service refused for want of the owner's password: 401
    ``password_required`` (none came) or ``bad_credentials`` (a wrong one), 429 during the
    sign-in lockout."""
    if needed.retry_after_s is not None:
        return Refusal(429, "rate_limited", "too many failed sign-ins; wait",
                       retry_after_s=retry_after(needed.retry_after_s))
    if needed.wrong:
        return Refusal(401, "bad_credentials", "wrong owner_password")
    return Refusal(401, "password_required", "send owner_password (your console password) to "
                   f"confirm this change: it would {'; '.join(needed.words)}")


def _live_open(refused: LiveOpen) -> Refusal:
    return Refusal(409, "live_trades_open", f"{refused.words}. Nothing was changed: send it "
                   "again confirmed (\"confirm_live_open\": true; the console's Accounts "
                   "page asks) to switch anyway", open_positions=refused.positions,
                   open_orders=refused.orders)


#: How each failure of the service leaves the console, whichever entry point it reached:
#: ``(status, reason)`` with the exception's own text for the message, or, where the answer
#: depends on the failure (a lockout's wait, the word a credential was refused with), a
#: function of it. :func:`refusal_of` walks a failure's MRO, so a subclass takes its own row
#: when it has one and its base's otherwise.
REFUSALS: Final[Mapping[type[Exception], tuple[int, str] | Callable[[Any], Refusal]]] = {
    InvalidRequest: (422, "invalid_request"),
    AccountExists: (409, "account_exists"),
    TerminalClaimed: (409, "terminal_claimed"),
    LiveMoney: (409, "live_account"),
    KeyReused: (409, "operation_id_reused"),
    LiveOpen: _live_open,
    PasswordNeeded: password_refusal,
    SignInRefused: lambda refused: Refusal(401, refused.reason, MESSAGES[refused.reason]),
    CredentialEnded: lambda ended: Refusal(401, ended.reason, ended.message),
    ApiTokenRefused: lambda refused: Refusal(401, refused.reason, refused.message),
    AskedTooOften: lambda asked: Refusal(429, "rate_limited", "asked too often; wait",
                                         retry_after_s=retry_after(asked.retry_after_s)),
}


def refusal_of(request: web.Request, exc: Exception) -> Refusal:
    """The refusal that answers ``exc`` (raised while ``request`` was served); what is not a
    refusal of its own is logged here."""
    if isinstance(exc, Refusal):
        return exc
    for kind in type(exc).__mro__:
        row = REFUSALS.get(kind)
        if row is not None:
            return row(exc) if callable(row) else Refusal(row[0], row[1], str(exc))
    if isinstance(exc, DatabaseUnavailable):
        log.warning("%s %s answered 503: %s", request.method, mask_path(request.path), exc)
        return Refusal(503, "database_unavailable", "the authority's database is not "
                       "answering; try again shortly", retry_after_s=_DATABASE_RETRY_S)
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return Refusal(413, "body_too_large", "the request body is too large")
    if isinstance(exc, web.HTTPException) and exc.status >= 400:
        return Refusal(exc.status, "not_found" if exc.status == 404 else "http_error",
                       exc.reason)
    log.error("console handler failed: %s %s", request.method, mask_path(request.path),
              exc_info=exc)
    return Refusal(500, "internal", "internal error")


def refusal_headers(refusal: Refusal, challenge: str | None) -> dict[str, str]:
    """The headers every renderer sends with ``refusal``: ``WWW-Authenticate: challenge``
    with a 401 (an entry point with a challenge), ``Retry-After`` with a 429 or 503 that says
    how long."""
    headers = {}
    if refusal.status == 401 and challenge is not None:
        headers["WWW-Authenticate"] = challenge
    if refusal.status in (429, 503) and "retry_after_s" in refusal.data:
        headers["Retry-After"] = str(refusal.data["retry_after_s"])
    return headers


class Renderers:
    """Which entry point renders a refusal: by the route a request reached, else by the
    space its path is in."""

    def __init__(self) -> None:
        self._by_resource: dict[web.AbstractResource, Renderer] = {}
        #: (prefix, renderer), the longest prefix first.
        self._spaces: list[tuple[str, Renderer]] = []

    def serve(self, app: web.Application, routes: Iterable[web.AbstractRouteDef],
              render: Renderer, *, space: str | None = None) -> None:
        """Add an entry point's ``routes`` to ``app``, rendering their refusals with
        ``render``; with ``space``, also the misses of the paths it starts."""
        for route in app.add_routes(routes):
            self.claim(route.resource, render)
        if space is not None:
            self._spaces.append((space, render))
            self._spaces.sort(key=lambda entry: len(entry[0]), reverse=True)

    def claim(self, resource: web.AbstractResource | None, render: Renderer) -> None:
        """``resource``'s refusals are rendered by ``render`` (a route added by hand)."""
        if resource is not None:
            self._by_resource[resource] = render

    def of(self, request: web.Request) -> Renderer:
        """The renderer of ``request``'s refusals."""
        resource = request.match_info.route.resource
        found = self._by_resource.get(resource) if resource is not None else None
        if found is not None:
            return found
        path = request.path
        for prefix, render in self._spaces:
            if path.startswith(prefix):
                return render
        return _plain


def plain(refusal: Refusal, headers: dict[str, str] | None = None) -> web.Response:
    """``refusal`` in the console's own shape, ``{"error": {"code", "reason", "message",
    ...}}``: the answer where no entry point is known yet (the Host rule's 421, before the
    router; the connection guard's 421 and 503 are written in it too, ``console.py``), and
    the owner API's."""
    return web.json_response({"error": {"code": refusal.status, "reason": refusal.reason,
                                         "message": refusal.message, **refusal.data}},
                             status=refusal.status, headers=headers)


async def _plain(request: web.Request, refusal: Refusal) -> web.StreamResponse:
    return plain(refusal)


def host_allowlist(allowed: tuple[str, ...], refusals: HostRefusals) -> Any:
    """Refuse (421, in the console's own shape) a request naming a Host other than loopback or
    ``[console] allowed_hosts``, before anything else (the note of each goes to the port's
    security log, ``refusals``)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        hosts = request.headers.getall("Host", [])
        if not host_allowed(hosts, allowed, request.raw_path):
            named = target_authority(request.raw_path)
            refusals.note(named or (hosts[0] if len(hosts) == 1 else None),
                          request.remote or "?")
            return plain(Refusal(421, "misdirected", MISDIRECTED))
        return await handler(request)

    return middleware
