"""The MT4 Web API's adapter to the console's door: its endpoint table dispatched, and its
answers in the document's shape.

Every request under ``/api/`` passes the console's door (``door/``) in its order, after this
table's own step: the method must be one the path lists (405, with ``Allow``); then a foreign
``Origin`` is refused (403: the API is not for pages of other sites) and a body not sent as the
endpoint reads it (415: JSON, or the sign-in's form); then the bearer token (401 without one
or with one the console did not sign, that expired or whose password changed:
``apitokens.py``), except for the three open paths (the sign-in, ``/api/health`` and the
OpenAPI document); then the body (413 over the console's limit, 400 for bytes that are not
JSON, 422 naming each field a model refuses). An unknown path under ``/api/`` is answered 404
only to a caller with a good token (401 otherwise: the surface is not mapped for strangers).

Every refusal answers one shape, the daemon's REST mirror's (:func:`render`): ``{"status":
"error", "code": <HTTP status>, "message": ..., "data": {"reason": <word>, ...}}`` -- so a
client of both sides reads one vocabulary. An answer to a token about to expire carries its
renewal (``X-Access-Token``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import orjson
from aiohttp import web
from pydantic import BaseModel

from mtgateway_base.mt4web import Route

from ..apitokens import RENEWED_EXPIRES_HEADER, RENEWED_HEADER
from ..appkeys import AUTHORITY
from ..door import API_TOKENS, DOOR, Caller, refusal_headers
from ..errors import Refusal
from ..service import Authority

__all__ = ["API", "ApiCall", "Endpoint", "Handler", "ok", "render", "route_table"]

_JSON: Final = "application/json"
#: What the Origin rule's refusal calls this API.
API: Final = "the API"
_CHALLENGE: Final = 'Bearer realm="mtgateway-console"'


@dataclass(frozen=True)
class ApiCall:
    """One request that passed the door: who is calling, the path's values, the body."""

    request: web.Request
    caller: Caller
    match: dict[str, str]
    body: Any = None

    @property
    def owner(self) -> str:
        """The owner's e-mail (empty on an open path)."""
        return self.caller.owner

    @property
    def authority(self) -> Authority:
        """The running authority."""
        return self.request.app[AUTHORITY]


Handler = Callable[[ApiCall], Awaitable[web.Response]]


#: One path and method of the MT4 Web API document as the console serves it (the one table,
#: ``mtgateway_base/mt4web/table.py``, its ``console`` column, with the handler).
Endpoint = Route[Handler]


async def render(request: web.Request, refusal: Refusal) -> web.StreamResponse:
    """``refusal`` as the API answers it (``WWW-Authenticate`` on a 401, ``Retry-After`` on a
    429 or 503 that says how long, ``Allow`` on a 405)."""
    headers = refusal_headers(refusal, _CHALLENGE)
    if refusal.status == 405 and "allowed" in refusal.data:
        headers["Allow"] = str(refusal.data["allowed"])
    body = {"status": "error", "code": refusal.status, "message": refusal.message,
            "data": {"reason": refusal.reason, **refusal.data}}
    return web.Response(status=refusal.status, body=orjson.dumps(body), content_type=_JSON,
                        headers=headers)


def ok(model: BaseModel, status: int = 200) -> web.Response:
    """A model as the answer."""
    return web.Response(status=status, body=orjson.dumps(model.model_dump(mode="json")),
                        content_type=_JSON)


def _dispatcher(path: str, by_method: dict[str, Endpoint]) -> Callable[
        [web.Request], Awaitable[web.StreamResponse]]:
    allowed = ", ".join(sorted(by_method))

    async def handle(request: web.Request) -> web.StreamResponse:
        endpoint = by_method.get(request.method)
        if endpoint is None:
            raise Refusal(405, "method_not_allowed", f"use {allowed} for {path}",
                          allowed=allowed)
        door = request.app[DOOR]
        entry = await door.enter(request, "bearer" if endpoint.auth else "none",
                                 "form" if endpoint.form else endpoint.body, api=API)
        if endpoint.handler is None:
            raise Refusal(501, "not_on_the_console", endpoint.why or "not answered here",
                          endpoint=path)
        response = await endpoint.handler(ApiCall(request, entry.caller,
                                                  dict(request.match_info), entry.body))
        claims = entry.caller.claims
        if claims is not None:
            renewed = request.app[API_TOKENS].get(request.app).renewal(claims)
            if renewed is not None:
                response.headers[RENEWED_HEADER] = renewed[0]
                response.headers[RENEWED_EXPIRES_HEADER] = str(renewed[1])
        return response

    return handle


async def _unknown(request: web.Request) -> web.StreamResponse:
    """Any other path under ``/api/``: 404 to a caller with a good token, 401 otherwise."""
    await request.app[DOOR].enter(request, "bearer", api=API)
    raise Refusal(404, "not_found", f"no such endpoint: {request.method} {request.path}")


def route_table(endpoints: tuple[Endpoint, ...]) -> list[web.RouteDef]:
    """One route per path (every method: 405 for those it does not list), then the
    catch-all for the rest of ``/api/``."""
    paths: dict[str, dict[str, Endpoint]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method] = endpoint
    routes = [web.route("*", path, _dispatcher(path, by_method))
              for path, by_method in paths.items()]
    routes.append(web.route("*", "/api/{tail:.*}", _unknown))
    return routes
