"""The one door of the console's ``/api/``: sign-in, the bearer token, bodies, errors.

Every request under ``/api/`` passes here in one order, before its handler runs: a foreign
``Origin`` is refused (403: the API is not for other sites' pages); the method must be one
the path lists (405, with ``Allow``); then the bearer token (401 without one or with one the
console did not sign or that ended: ``apitokens.py``), except for the three open paths (the
sign-in, ``/api/health`` and the OpenAPI document); then the body (415 for another content
type, 413 over the console's limit, 400 for bytes that are not JSON, 422 naming each field a
model refuses). An unknown path under ``/api/`` is answered 404 only to a caller with a good
token (401 otherwise: the surface is not mapped for strangers).

Every refusal and failure answers one shape, the daemon's REST mirror's: ``{"status":
"error", "code": <HTTP status>, "message": ..., "data": {"reason": <word>, ...}}`` -- so a
client of both sides reads one vocabulary. A database that does not answer is 503
``database_unavailable`` within its bound; anything unexpected is logged and answered 500
with no details.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from ...base.guard import mark_authenticated
from ...base.mt4web import Route
from ..apitokens import (
    RENEWED_EXPIRES_HEADER,
    RENEWED_HEADER,
    ApiClaims,
    ApiTokenRefused,
    ApiTokens,
    api_key_from,
)
from ..appkeys import AUTHORITY, CLOCKS
from ..database import DatabaseUnavailable
from ..routes.common import Fail
from ..service import Authority, CredentialEnded

__all__ = ["API_TOKENS", "ApiCall", "ApiFail", "Endpoint", "Handler", "TokenHolder",
           "error_json", "ok", "read_model", "route_table"]

log = logging.getLogger("gateway.authority.mt4api")

_JSON: Final = "application/json"
_M = TypeVar("_M", bound=BaseModel)


class ApiFail(Exception):
    """An error answer of the API (:func:`error_json`)."""

    def __init__(self, status: int, reason: str, message: str, **data: Any) -> None:
        super().__init__(message)
        self.status, self.reason, self.message, self.data = status, reason, message, data


class TokenHolder:
    """The console's :class:`ApiTokens`, made when first needed (its key is derived from the
    authority's secrets, which are read when the authority opens at start-up)."""

    def __init__(self) -> None:
        self._tokens: ApiTokens | None = None

    def get(self, app: web.Application) -> ApiTokens:
        """The tokens of ``app``'s authority."""
        if self._tokens is None:
            self._tokens = ApiTokens(api_key_from(app[AUTHORITY].store.pepper),
                                     app[CLOCKS].wall)
        return self._tokens


#: The API's token issuer and checker.
API_TOKENS: Final = web.AppKey("mt4api_tokens", TokenHolder)


@dataclass(frozen=True)
class ApiCall:
    """One request that passed the door: the owner, the path's values, the body."""

    request: web.Request
    owner: str
    match: dict[str, str]
    body: Any = None

    @property
    def authority(self) -> Authority:
        """The running authority."""
        return self.request.app[AUTHORITY]


Handler = Callable[[ApiCall], Awaitable[web.Response]]


#: One path and method of the MT4 Web API document as the console serves it (the one table,
#: ``gateway/base/mt4web/table.py``, its ``console`` column, with the handler).
Endpoint = Route[Handler]


def error_json(status: int, reason: str, message: str, **data: Any) -> web.Response:
    """The API's error answer (``Retry-After`` for 429 and 503 with ``retry_after_s``)."""
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="mtgateway-console"'
    if status in (429, 503) and "retry_after_s" in data:
        headers["Retry-After"] = str(data["retry_after_s"])
    body = {"status": "error", "code": status, "message": message,
            "data": {"reason": reason, **data}}
    return web.Response(status=status, body=orjson.dumps(body), content_type=_JSON,
                        headers=headers)


def ok(model: BaseModel, status: int = 200) -> web.Response:
    """A model as the answer."""
    return web.Response(status=status, body=orjson.dumps(model.model_dump(mode="json")),
                        content_type=_JSON)


async def read_model(request: web.Request, model: type[_M]) -> _M:
    """The JSON body as ``model`` (``{}`` when empty).

    Raises:
        ApiFail: 415 (not JSON), 413 (too large), 400 (not valid JSON), 422 (the model
            refuses it: every field named, ``data.fields`` lists them).
    """
    if request.body_exists and request.content_type != _JSON:
        raise ApiFail(415, "unsupported_media_type",
                      "the body must be JSON with Content-Type: application/json")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ApiFail(413, "body_too_large", "the request body is too large") from None
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        problems = exc.errors()
        if any(e["type"] == "json_invalid" for e in problems):
            raise ApiFail(400, "bad_json", "the body is not JSON") from None
        fields = [{"field": ".".join(str(p) for p in e["loc"]) or "(body)", "error": e["msg"]}
                  for e in problems]
        raise ApiFail(422, "invalid_request",
                      "; ".join(f"{f['field']}: {f['error']}" for f in fields),
                      fields=fields) from None


async def _bearer(request: web.Request) -> ApiClaims:
    """The claims of the request's bearer token, its sign-in still going (the service's
    ``credentials.api_owner``).

    Raises:
        ApiFail: 401 naming why.
    """
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiFail(401, "missing_token", "this needs Authorization: Bearer <access_token> "
                      "from POST /api/auth/login")
    try:
        claims = request.app[API_TOKENS].get(request.app).verify(token.strip())
    except ApiTokenRefused as exc:
        raise ApiFail(401, exc.reason, exc.message) from None
    try:
        await request.app[AUTHORITY].credentials.api_owner(claims)
    except CredentialEnded as exc:
        raise ApiFail(401, exc.reason, exc.message) from None
    return claims


def _origin_ok(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    return origin is None or origin == f"{request.scheme}://{request.host}"


def _dispatcher(path: str, by_method: dict[str, Endpoint]) -> Callable[
        [web.Request], Awaitable[web.StreamResponse]]:
    allowed = ", ".join(sorted(by_method))

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            return await _answer(request, path, by_method, allowed)
        except ApiFail as fail:
            return error_json(fail.status, fail.reason, fail.message, **fail.data)
        except Fail as fail:  # the console's shared checks (sign-in) raise its own errors
            return error_json(fail.status, fail.reason, fail.message, **fail.extra)
        except DatabaseUnavailable as exc:
            log.warning("%s %s answered 503: %s", request.method, path, exc)
            return error_json(503, "database_unavailable", "the authority's database is not "
                              "answering; try again shortly", retry_after_s=1)
        except Exception:
            log.exception("console API handler failed: %s %s", request.method, path)
            return error_json(500, "internal", "internal error")

    return handle


async def _answer(request: web.Request, path: str, by_method: dict[str, Endpoint],
                  allowed: str) -> web.StreamResponse:
    if not _origin_ok(request):
        raise ApiFail(403, "origin_refused", "requests from another web origin are refused "
                      "(the API is not for pages of other sites)")
    endpoint = by_method.get(request.method)
    if endpoint is None:
        response = error_json(405, "method_not_allowed",
                              f"use {allowed} for {path}", allowed=allowed)
        response.headers["Allow"] = allowed
        return response
    claims = None
    if endpoint.auth:
        claims = await _bearer(request)
        mark_authenticated(request)
    if endpoint.handler is None:
        raise ApiFail(501, "not_on_the_console", endpoint.why or "not answered here",
                      endpoint=path)
    body = None
    if endpoint.body is not None:
        body = await read_model(request, endpoint.body)
    call = ApiCall(request, claims.owner_email if claims else "", dict(request.match_info),
                   body)
    response = await endpoint.handler(call)
    if claims is not None:
        renewed = request.app[API_TOKENS].get(request.app).renewal(claims)
        if renewed is not None:
            response.headers[RENEWED_HEADER] = renewed[0]
            response.headers[RENEWED_EXPIRES_HEADER] = str(renewed[1])
    return response


async def _unknown(request: web.Request) -> web.StreamResponse:
    """Any other path under ``/api/``: 404 to a caller with a good token, 401 otherwise."""
    try:
        if not _origin_ok(request):
            raise ApiFail(403, "origin_refused", "requests from another web origin are "
                          "refused")
        await _bearer(request)
        raise ApiFail(404, "not_found", f"no such endpoint: {request.method} {request.path}")
    except ApiFail as fail:
        return error_json(fail.status, fail.reason, fail.message, **fail.data)
    except DatabaseUnavailable:
        return error_json(503, "database_unavailable", "the authority's database is not "
                          "answering; try again shortly", retry_after_s=1)


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


def retry_after(seconds: float) -> int:
    """Whole seconds to wait, at least one."""
    return max(1, math.ceil(seconds))
